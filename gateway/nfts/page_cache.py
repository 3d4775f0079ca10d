"""Finished page answers kept in process: warm answers must cost next to nothing.

A page built from a complete walk whose every provider (and every detail call) answered is
kept ready, so a warm request neither re-filters the walk nor re-merges or re-sanitises its
NFTs. A kept page carries a :data:`~gateway.nfts.pages.SliceKey`, by which faces keep what
they made of it (serialised bytes, GraphQL objects) in caches of their own.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from gateway.nfts.pages import HoldingsSlice, PageKey, SliceKey
from gateway.nfts.walk import WalletWalk

__all__ = ["PageCache"]

_admissions = itertools.count(1)


@dataclass(slots=True)
class _PageEntry:
    walk_serial: int
    walk_version: int
    expires: float
    result: HoldingsSlice | None = None  # None: seen once, not admitted yet
    # The same page as every later request gets it: it cost nothing upstream.
    warm: HoldingsSlice | None = None


class PageCache:
    """Finished answers (enriched, presented pages), in process, least recently used out.

    An entry is valid only for the very walk state it was built from (the walk's serial
    and commit count) and for ``ttl`` seconds (at most the enrichment TTL, so a provider's
    changed detail shows within it). Admission on second sight: a page is kept the second
    time it is built from the same walk state; pages seen once are only remembered (in a
    table of their own), so a crowd of one-off wallets does not churn out the pages people
    actually re-read.
    """

    def __init__(self, max_entries: int, ttl: float) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self._entries: OrderedDict[PageKey, _PageEntry] = OrderedDict()
        self._seen: OrderedDict[PageKey, _PageEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: PageKey, walk: WalletWalk) -> HoldingsSlice | None:
        """The kept page for ``key`` built from ``walk`` as it is now, as a warm request
        answers it (one object for every such request: it cost nothing upstream)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not self._current(entry, walk):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.warm

    def offer(self, key: PageKey, walk: WalletWalk, result: HoldingsSlice) -> HoldingsSlice:
        """``result`` was just built from ``walk``: remember it (kept on second sight).

        Returns the slice to answer with: ``result`` itself, or, when it is kept, a copy
        carrying its :data:`~gateway.nfts.pages.SliceKey`."""
        if self.max_entries <= 0 or self.ttl <= 0:
            return result
        seen = self._seen.pop(key, None)
        if seen is None or not self._current(seen, walk):
            entry = _PageEntry(walk.serial, walk.version, time.monotonic() + self.ttl)
            _put(self._seen, key, entry, 4 * self.max_entries)
            return result
        slice_key: SliceKey = (key, walk.serial, walk.version, next(_admissions))
        seen.result = replace(result, key=slice_key)  # its TTL runs from the first sight
        seen.warm = replace(seen.result, upstream_calls={})
        _put(self._entries, key, seen, self.max_entries)
        return seen.result

    @staticmethod
    def _current(entry: _PageEntry, walk: WalletWalk) -> bool:
        return (
            entry.walk_serial == walk.serial
            and entry.walk_version == walk.version
            and time.monotonic() < entry.expires
        )


def _put(
    table: OrderedDict[PageKey, _PageEntry], key: PageKey, entry: _PageEntry, bound: int
) -> None:
    table[key] = entry
    table.move_to_end(key)
    while len(table) > bound:
        table.popitem(last=False)
