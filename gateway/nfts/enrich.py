"""Per-NFT detail and collection facts for the holdings of one page.

Cold answers are bounded by round trips: the page's detail and collection calls all start
at once (each collection once per page), limited per provider to the guard's bulkhead minus
a headroom kept for list calls (slow details must not shed other wallets' walks as
``overloaded``), so a 20-NFT page costs the list round trip plus one or two detail round
trips. No detail call is made when the list calls already gave all it could add: an
ERC-721 of a collection OpenSea does not rank, with traits known. Every answer is cached
(``enrichment_ttl``, ``collection_ttl``); failures never are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from gateway.cache.codec import decode_collection, decode_record, encode_collection, encode_record
from gateway.cache.shared import SharedCache, cache_key
from gateway.nfts.merging import Holding, with_record
from gateway.resilience import ProviderGuards
from gateway.settings import Settings
from providers.base import NFTDetailSource
from providers.errors import ProviderError
from providers.models import Chain, CollectionInfo, NFTRecord, Rarity, TokenStandard

__all__ = ["Enricher"]


class Enricher:
    """Adds detail-provider facts to holdings; a failed detail call costs that detail only."""

    def __init__(
        self,
        detail_sources: Sequence[NFTDetailSource],
        cache: SharedCache,
        settings: Settings,
        guards: ProviderGuards,
    ) -> None:
        self._details = {source.name: source for source in detail_sources}
        self._cache = cache
        self._settings = settings
        self._priority = settings.field_priority
        self._guards = guards
        # Per provider: a page's detail and collection calls all start at once, and queue
        # here (not at the guard's bulkhead, which fails fast after its short queue wait).
        slots = _detail_slot_count(settings, guards.policy.bulkhead_max_in_flight)
        self._detail_slots = {name: asyncio.Semaphore(slots) for name in self._details}

    async def enrich(
        self,
        owner: str,
        page: Sequence[Holding],
        failures: list[tuple[str, ProviderError]],
    ) -> list[Holding]:
        """Per-NFT detail and collection facts for the holdings of one page, all at once.

        Each holding's detail call and its collection's call run side by side; a
        collection shared by several holdings of the page is asked for (and looked up in
        the cache) once. A holding whose detail could add only a rank is not asked for
        when its collection is cached as unranked."""
        collections: dict[_CollectionRef, asyncio.Future[CollectionInfo | None]] = {}
        cached: dict[_CollectionRef, asyncio.Future[CollectionInfo | None]] = {}

        def collection_of(
            source: NFTDetailSource, record: NFTRecord
        ) -> asyncio.Future[CollectionInfo | None]:
            return _once(collections, self._collection, source, record)

        def cached_collection_of(
            source: NFTDetailSource, record: NFTRecord
        ) -> asyncio.Future[CollectionInfo | None]:
            return _once(cached, self._cached_collection, source, record)

        async def enrich_one(holding: Holding) -> Holding:
            for name, source in self._details.items():
                record = holding.record_from(name)
                if record is None or not _needs_detail(holding):
                    continue
                if _detail_adds_only_rarity(holding):
                    info = await cached_collection_of(source, record)
                    if info is not None and info.ranked is False:
                        # Nothing to ask for: the collection's name is all it would add.
                        listed = _with_collection(record, info)
                        holding = with_record(holding, listed, self._priority)
                        continue
                try:
                    detail, info = await asyncio.gather(
                        self._detail(source, owner, record), collection_of(source, record)
                    )
                except ProviderError as exc:
                    failures.append((name, exc))
                    continue
                # with_record keeps the verdict the list calls gave: it decided the
                # holding's place in the filtered order, which must not shift.
                holding = with_record(holding, _with_collection(detail, info), self._priority)
            return holding

        try:
            return list(await asyncio.gather(*(enrich_one(h) for h in page)))
        finally:
            for pending in [*collections.values(), *cached.values()]:
                pending.cancel()  # only those nobody awaits any more (a failed request)

    async def _detail(self, source: NFTDetailSource, owner: str, record: NFTRecord) -> NFTRecord:
        async def fetch() -> NFTRecord:
            async with self._detail_slots[source.name]:
                return await self._guards.call(
                    source.name, "detail", lambda: source.fetch_nft_detail(owner, record)
                )

        key = cache_key(
            "detail", source.name, record.chain, record.contract_address, record.token_id, owner
        )
        detail, _ = await self._cache.get_or_fetch(
            key,
            fetch,
            ttl=self._settings.enrichment_ttl,
            encode=encode_record,
            decode=decode_record,
        )
        return detail

    async def _cached_collection(
        self, source: NFTDetailSource, record: NFTRecord
    ) -> CollectionInfo | None:
        """The collection's facts if a cache layer holds them; never asks the provider."""
        slug = record.collection_opensea_slug
        if slug is None:
            return None
        return await self._cache.peek(_collection_key(source, record, slug), decode_collection)

    async def _collection(
        self, source: NFTDetailSource, record: NFTRecord
    ) -> CollectionInfo | None:
        slug = record.collection_opensea_slug
        if slug is None:
            return None

        async def fetch() -> CollectionInfo:
            async with self._detail_slots[source.name]:
                return await self._guards.call(
                    source.name, "collection", lambda: source.fetch_collection(record.chain, slug)
                )

        try:
            info, _ = await self._cache.get_or_fetch(
                _collection_key(source, record, slug),
                fetch,
                ttl=self._settings.collection_ttl,
                encode=encode_collection,
                decode=decode_collection,
            )
        except ProviderError:
            return None  # the collection name is a nicety; the detail still counts
        return info


def _detail_slot_count(settings: Settings, bulkhead: int) -> int:
    """Detail and collection calls one provider may have in flight: the setting, capped
    below the provider's ``bulkhead`` by the headroom kept for list calls (at least 1)."""
    return max(1, min(settings.detail_concurrency, bulkhead - settings.detail_bulkhead_headroom))


# (provider, chain, OpenSea slug): one collection as one detail provider knows it.
_CollectionRef = tuple[str, Chain, str]


def _collection_key(source: NFTDetailSource, record: NFTRecord, slug: str) -> str:
    return cache_key("collection", source.name, record.chain, slug)


def _once(
    table: dict[_CollectionRef, asyncio.Future[CollectionInfo | None]],
    lookup: Callable[[NFTDetailSource, NFTRecord], Awaitable[CollectionInfo | None]],
    source: NFTDetailSource,
    record: NFTRecord,
) -> asyncio.Future[CollectionInfo | None]:
    """``lookup``'s answer for ``record``'s collection: the page's first holding of that
    collection starts it, the others share it."""
    ref = (source.name, record.chain, record.collection_opensea_slug or "")
    found = table.get(ref)
    if found is None:
        found = table[ref] = asyncio.ensure_future(lookup(source, record))
    return found


def _needs_detail(holding: Holding) -> bool:
    """Whether a detail call can add something the list calls did not give."""
    nft = holding.nft
    return (
        nft.rarity is None
        or nft.traits is None
        or nft.quantity is None
        or nft.token_standard is not TokenStandard.ERC721
    )


def _detail_adds_only_rarity(holding: Holding) -> bool:
    """An ERC-721 whose traits, quantity and owner (the wallet: one owner) are known: its
    detail call could add a rank and nothing else. An ERC-1155's detail always may add
    other holders (``owners[]``), which no list call gives."""
    nft = holding.nft
    return (
        nft.token_standard is TokenStandard.ERC721
        and nft.rarity is None
        and nft.traits is not None
        and nft.quantity is not None
        and nft.owner_addresses is not None
    )


def _with_collection(detail: NFTRecord, info: CollectionInfo | None) -> NFTRecord:
    if info is None:
        return detail
    rarity = detail.rarity
    if rarity is not None and rarity.total is None and info.rarity_total is not None:
        rarity = Rarity(rank=rarity.rank, score=rarity.score, total=info.rarity_total)
    return replace(detail, collection_name=detail.collection_name or info.name, rarity=rarity)
