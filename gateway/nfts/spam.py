"""The spam verdict: the gateway's own, with reasons, from what every tier really gives.

Upstream spam flags depend on the customer's tier (Alchemy's exist only on paid tiers and
only on Ethereum and Polygon; OpenSea has none), so the verdict combines provider-neutral
facts every adapter maps onto :class:`~providers.models.NFTRecord` with content rules and
the operator's lists, in this order (the first that decides wins):

1. the operator's **allow** list: never spam, whatever anyone says;
2. the operator's **deny** list: spam (``operator_deny``);
3. any provider's own flag (``NFTRecord.spam_signals``): spam, one reason per flag,
   ``flag:<provider>:<flag>`` (``flag:alchemy:isSpam``, ``flag:moralis:possible_spam``);
4. a verified or safelisted collection (``collection_verified``): not spam; content rules
   alone never make it spam;
5. content rules (:mod:`gateway.nfts.spam_rules`): spam when the rules that fire weigh
   at least one strong rule (two weak ones count as one strong).

A verdict's reasons are empty when it is not spam. Verdicts are pure functions of a merged
record and the lists; :class:`SpamJudge` holds the lists (settings plus a file it re-reads
when the file changes) and a version that changes with them, so walks re-judge their
holdings after an operator edit, without a restart.

May import :mod:`gateway.settings` and :mod:`providers.models`; nothing else of the gateway.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from gateway.nfts.spam_rules import STRONG, fired_rules
from gateway.settings import SpamSettings
from providers.models import Chain, NFTKey, NFTRecord

__all__ = ["NOT_SPAM", "ContractLists", "SpamJudge", "SpamVerdict", "judge", "parse_lists"]

logger = logging.getLogger(__name__)

OPERATOR_DENY = "operator_deny"
_CHAINS = frozenset(chain.value for chain in Chain)


class SpamVerdict(NamedTuple):
    """Whether an NFT is spam, and why (``reasons`` is empty when it is not)."""

    is_spam: bool
    reasons: tuple[str, ...] = ()


NOT_SPAM = SpamVerdict(False)


@dataclass(frozen=True, slots=True)
class ContractLists:
    """The operator's contracts: ``"0x..."`` (any chain) or ``"polygon:0x..."``, lower-case."""

    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()

    def listed(self, key: NFTKey) -> str | None:
        """``"allow"``, ``"deny"`` or ``None`` for the NFT's contract (allow wins a tie)."""
        entries = (key.contract_address, f"{key.chain.value}:{key.contract_address}")
        if any(entry in self.allow for entry in entries):
            return "allow"
        if any(entry in self.deny for entry in entries):
            return "deny"
        return None


NO_LISTS = ContractLists()


def judge(nft: NFTRecord, lists: ContractLists = NO_LISTS) -> SpamVerdict:
    """The verdict on one merged record (see the module docstring for the order)."""
    listed = lists.listed(nft.key)
    if listed == "allow":
        return NOT_SPAM
    if listed == "deny":
        return SpamVerdict(True, (OPERATOR_DENY,))
    flags = tuple(
        dict.fromkeys(f"flag:{signal.source}:{signal.flag}" for signal in nft.spam_signals or ())
    )
    if flags:
        return SpamVerdict(True, flags)
    if nft.collection_verified:
        return NOT_SPAM
    reasons, weight = fired_rules(nft)
    return SpamVerdict(True, reasons) if weight >= STRONG else NOT_SPAM


def parse_lists(
    allow: Iterable[str], deny: Iterable[str], lines: Iterable[str] = ()
) -> ContractLists:
    """Lists from settings entries and a file's lines (``allow|deny <contract>``).

    Entries that are not contracts are skipped with a warning: a typo in the file must not
    take the gateway down.
    """
    allowed = {entry for item in allow if (entry := _entry(item)) is not None}
    denied = {entry for item in deny if (entry := _entry(item)) is not None}
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        verb, _, item = text.partition(" ")
        entry = _entry(item)
        if verb.lower() not in ("allow", "deny") or entry is None:
            logger.warning("spam lists file, line %d: expected 'allow|deny <contract>'", number)
            continue
        (allowed if verb.lower() == "allow" else denied).add(entry)
    return ContractLists(frozenset(allowed), frozenset(denied))


def _entry(text: str) -> str | None:
    chain, _, address = text.strip().lower().rpartition(":")
    valid_address = len(address) == 42 and address.startswith("0x")
    if not valid_address or any(c not in "0123456789abcdef" for c in address[2:]):
        return None
    if not chain:
        return address
    return f"{chain}:{address}" if chain in _CHAINS else None


class SpamJudge:
    """Verdicts under the operator's current lists.

    The file named by ``spam_lists_file`` is re-read when its modification time (or size)
    changes; the check runs at most every ``spam_lists_check_interval`` seconds, so a
    busy gateway does not ``stat`` it per NFT. A missing or unreadable file counts as
    empty (and is logged once per change). :attr:`version` changes whenever the lists do.
    """

    def __init__(
        self, settings: SpamSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._file_state: tuple[float, int] | None = None
        self._checked_at = -float("inf")
        self._lists = parse_lists(settings.spam_allow, settings.spam_deny)
        self.version = 0
        self._refresh()

    def lists(self) -> ContractLists:
        """The lists now (re-reading the file when it changed)."""
        if self._clock() - self._checked_at >= self._settings.spam_lists_check_interval:
            self._refresh()
        return self._lists

    def verdict(self, nft: NFTRecord) -> SpamVerdict:
        return judge(nft, self.lists())

    def _refresh(self) -> None:
        self._checked_at = self._clock()
        path = self._settings.spam_lists_file
        if not path:
            return
        try:
            stat = os.stat(path)
            state: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
        except OSError:
            state = None
        if state == self._file_state and self.version:
            return
        lines = self._read(path) if state is not None else []
        if state is None:
            logger.warning("spam lists file %s is missing: using the settings' lists", path)
        self._file_state = state
        self._lists = parse_lists(self._settings.spam_allow, self._settings.spam_deny, lines)
        self.version += 1

    @staticmethod
    def _read(path: str) -> list[str]:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().splitlines()
        except (OSError, UnicodeDecodeError):
            logger.warning("spam lists file %s is unreadable: using the settings' lists", path)
            return []
