"""Merging: many providers' records of one NFT become one holding (pure, no I/O).

Records are grouped by :attr:`NFTRecord.key`. Each field is taken from the first provider
in that field's priority list that knows it (``None`` means "does not know"), falling back
to any other provider, and the winner is recorded in :attr:`Holding.provenance`.

The facts the spam verdict reads are combined, not prioritised: every provider's spam
flags are kept (each names its provider), a collection is verified when any provider says
so, and an NFT is NSFW or trading-disabled when any provider says so. The verdict itself
(:mod:`gateway.nfts.spam`) is the walk's to give, under the operator's current lists:
:attr:`Holding.spam` is ``None`` until then, and re-merging keeps the verdict given.

A big wallet holds tens of thousands of holdings for minutes, so merging is frugal: one
record is built per merge, and the provenance and source tuples (a handful of distinct
combinations across a whole wallet) are shared between holdings instead of rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from gateway.nfts.spam import SpamVerdict
from providers.models import NFTKey, NFTRecord, SpamSignal, TokenStandard

__all__ = [
    "MERGED_FIELDS",
    "Holding",
    "NsfwFilter",
    "SpamFilter",
    "merge_holding",
    "shared_tuple",
    "with_record",
]

# Fields merged by priority. Identity fields (chain, contract, token id) are shared by
# construction; the spam facts are combined (see the module docstring); ``owners_complete``
# follows the record whose ``owner_addresses`` won.
MERGED_FIELDS: tuple[str, ...] = (
    "token_standard",
    "name",
    "description",
    "image",
    "animation_url",
    "collection_name",
    "collection_slug",
    "collection_opensea_slug",
    "traits",
    "rarity",
    "owner_addresses",
    "quantity",
    "floor",  # the collection's floor price; a FloorPrice names its own source and age
)

# (merged field, its sources best first), for every merged field: see _field_order.
_FieldOrder = tuple[tuple[str, tuple[str, ...]], ...]
# Field orders kept, by (id of a priority mapping, sources present): a gateway uses one
# mapping and a few source sets; past this many (tests make many mappings) none are kept.
MAX_FIELD_ORDERS = 256
_OrderKey = tuple[int, tuple[str, ...]]
_field_orders: dict[_OrderKey, tuple[Mapping[str, Sequence[str]], _FieldOrder]] = {}

# Distinct provenance tuples kept for sharing; past this many, new ones are not shared.
MAX_SHARED_TUPLES = 4096
_shared_tuples: dict[tuple[Any, ...], tuple[Any, ...]] = {}


class SpamFilter(StrEnum):
    EXCLUDE = "exclude"
    INCLUDE = "include"
    ONLY = "only"

    def admits(self, is_spam: bool) -> bool:
        if self is SpamFilter.INCLUDE:
            return True
        return is_spam is (self is SpamFilter.ONLY)


class NsfwFilter(StrEnum):
    """Which NFTs to list by the NSFW fact. NSFW is not spam: listed by default."""

    INCLUDE = "include"
    EXCLUDE = "exclude"
    ONLY = "only"

    def admits(self, is_nsfw: bool) -> bool:
        if self is NsfwFilter.INCLUDE:
            return True
        return is_nsfw is (self is NsfwFilter.ONLY)


@dataclass(frozen=True, slots=True)
class Holding:
    """One NFT in one wallet, merged across providers.

    ``nft`` carries the merged field values (its ``source`` is ``"merged"`` and its
    ``quantity`` is the wallet's balance); ``records`` are the providers' own views it was
    merged from; ``provenance`` maps each known field to the provider that supplied it.
    """

    nft: NFTRecord
    records: tuple[NFTRecord, ...]
    provenance: tuple[tuple[str, str], ...]
    spam: SpamVerdict | None = None  # given by the walk (None: not judged yet)

    @property
    def key(self) -> NFTKey:
        return self.nft.key

    @property
    def quantity(self) -> int | None:
        return self.nft.quantity

    def counted_quantity(self) -> tuple[int, bool]:
        """``(quantity, known)``: an ERC-721 in the wallet is held once; an unknown
        ERC-1155 balance shows as 1 with ``known`` False, never silently."""
        quantity = self.nft.quantity
        if quantity is not None:
            return quantity, True
        return 1, self.nft.token_standard is TokenStandard.ERC721

    @property
    def is_spam(self) -> bool:
        return self.spam is not None and self.spam.is_spam

    @property
    def spam_reasons(self) -> tuple[str, ...]:
        return self.spam.reasons if self.spam is not None else ()

    @property
    def is_nsfw(self) -> bool:
        return bool(self.nft.is_nsfw)

    def judged(self, verdict: SpamVerdict) -> Holding:
        """This holding with ``verdict``."""
        return replace(self, spam=verdict)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(record.source for record in self.records)

    def source_of(self, field_name: str) -> str | None:
        return dict(self.provenance).get(field_name)

    def record_from(self, source: str) -> NFTRecord | None:
        return next((r for r in self.records if r.source == source), None)


def merge_holding(records: Sequence[NFTRecord], priority: Mapping[str, Sequence[str]]) -> Holding:
    """Merge one key's records (one per provider; a later record of a provider wins)."""
    by_source = {record.source: record for record in records}
    first = records[0]
    values: dict[str, Any] = {}
    provenance: list[tuple[str, str]] = []
    for field_name, ranked in _field_order(priority, tuple(by_source)):
        for source in ranked:
            value = getattr(by_source[source], field_name)
            if value is not None:
                values[field_name] = value
                provenance.append((field_name, source))
                break
    views = by_source.values()
    owners_from = dict(provenance).get("owner_addresses")
    merged = NFTRecord(
        source="merged",
        chain=first.chain,
        contract_address=first.contract_address,
        token_id=first.token_id,
        owners_complete=by_source[owners_from].owners_complete if owners_from else None,
        spam_signals=_all_signals(views),
        collection_verified=_any_true(r.collection_verified for r in views),
        is_nsfw=_any_true(r.is_nsfw for r in views),
        trading_disabled=_any_true(r.trading_disabled for r in views),
        **values,
    )
    return Holding(
        nft=merged,
        records=tuple(views),
        provenance=shared_tuple(tuple(provenance)),
    )


def _all_signals(records: Iterable[NFTRecord]) -> tuple[SpamSignal, ...] | None:
    """Every provider's flags; ``None`` when no provider classified the NFT at all."""
    classified = [r.spam_signals for r in records if r.spam_signals is not None]
    if not classified:
        return None
    return tuple(signal for signals in classified for signal in signals)


def _any_true(values: Iterable[bool | None]) -> bool | None:
    """``True`` if any provider says so, ``False`` if the others that know say not."""
    known = [value for value in values if value is not None]
    return any(known) if known else None


def with_record(
    holding: Holding, record: NFTRecord, priority: Mapping[str, Sequence[str]]
) -> Holding:
    """``holding`` re-merged with ``record`` replacing that provider's earlier view.

    The verdict stays the one already given: it decided the holding's place in a
    filtered order, which must not shift under a client paging through it."""
    others = [r for r in holding.records if r.source != record.source]
    merged = merge_holding([*others, record], priority)
    return merged if holding.spam is None else merged.judged(holding.spam)


def _field_order(priority: Mapping[str, Sequence[str]], sources: tuple[str, ...]) -> _FieldOrder:
    """Each merged field with ``sources`` in the order to read it: ``priority``'s first,
    then the others as given. Kept per priority mapping (a gateway's one, from its
    settings; held here, so its identity names it) and source set: ranking them again for
    every holding was a third of a merge."""
    key = (id(priority), sources)
    kept = _field_orders.get(key)
    if kept is not None and kept[0] is priority:
        return kept[1]
    order = tuple(
        (name, _ranked_sources(priority.get(name, ()), sources)) for name in MERGED_FIELDS
    )
    if len(_field_orders) < MAX_FIELD_ORDERS:
        _field_orders[key] = (priority, order)
    return order


def _ranked_sources(preferred: Iterable[str], available: tuple[str, ...]) -> tuple[str, ...]:
    ranked = tuple(source for source in preferred if source in available)
    return ranked + tuple(source for source in available if source not in ranked)


def shared_tuple(value: tuple[Any, ...]) -> tuple[Any, ...]:
    """An equal tuple shared with every earlier caller (``value`` itself the first time).

    For small immutable tuples drawn from a small set, process-wide (provenance: every
    holding of every wallet has one of a few dozen). The table is bounded; past it, tuples
    are simply not shared. Per-wallet values (owner lists) are shared per walk instead."""
    shared = _shared_tuples.get(value)
    if shared is not None:
        return shared
    if len(_shared_tuples) < MAX_SHARED_TUPLES:
        _shared_tuples[value] = value
    return value
