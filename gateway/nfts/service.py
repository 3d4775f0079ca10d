"""NFTService: what a wallet holds, merged across providers and paged in one stable order.

The faces call :meth:`NFTService.list_holdings` with validated input. It

1. finds or starts the wallet's :class:`~gateway.nfts.walk.WalletWalk` (one per wallet and chain
   set, shared by concurrent requests, kept ``snapshot_ttl`` seconds after it completes so
   paging stays consistent),
2. waits until the requested slice is committed (see :meth:`WalletWalk.wait_for`),
3. enriches only the holdings on that slice with per-NFT detail and collection facts
   (cached, concurrent, capped; no detail call when the list calls already gave all it
   could add: an ERC-721 of a collection OpenSea does not rank, with traits known), and
4. returns the slice with per-provider reports: a failing provider costs its own data only.

Warm answers are the common case and must cost next to nothing: a page built from a
complete walk whose every provider answered is kept ready (see :class:`PageCache`), and a
face may keep what it made of it (serialised bytes, GraphQL objects) in
:attr:`HoldingsSlice.renderings`, so a warm request neither re-filters the walk nor
re-merges, re-sanitises or re-serialises its NFTs. Cold answers are bounded by round
trips: the page's detail and collection calls all start at once (each collection once per
page), limited per provider to the guard's bulkhead minus a headroom kept for list calls
(slow details must not shed other wallets' walks as ``overloaded``), so a 20-NFT page
costs the list round trip plus one or two detail round trips.

Across replicas (Redis configured), one replica walks a wallet and the others wait for its
snapshot (:meth:`SharedCache.lead_or_wait`), so identical cold requests anywhere make one
upstream call per upstream page, and every replica pages the same order. A fully read
walk is also kept ``stale_ttl`` seconds as a stale copy: when every provider fails, that
copy is served, marked stale with its age, instead of a 503.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.cache.codec import decode_collection, decode_record, encode_collection, encode_record
from gateway.cache.shared import Lease, SharedCache, cache_key
from gateway.errors import UpstreamUnavailable
from gateway.nfts.merging import Holding, SpamFilter, with_record
from gateway.nfts.sanitize import present_nft
from gateway.nfts.walk import StreamReport, WalletWalk
from gateway.resilience import CacheCooldowns, GuardPolicy, ProviderGuards
from gateway.settings import Settings
from providers.base import NFTDetailSource, NFTSource
from providers.errors import ProviderError
from providers.models import Chain, CollectionInfo, NFTRecord, Rarity, TokenStandard

__all__ = ["HoldingsSlice", "NFTService", "PageCache", "ProviderReport", "SliceKey"]

MAX_CACHED_WALKS = 512
# Wallets with more holdings than this are snapshotted (and restored) in a worker thread.
SNAPSHOT_IN_THREAD = 256

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderReport:
    """One provider's part in an answer: ``ok``, ``partial`` (some chains or details
    failed) or ``failed`` (no data from it), with the first error's kind and message."""

    provider: str
    status: str
    error_kind: str | None = None
    error_message: str | None = None
    failed_chains: tuple[str, ...] = ()
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class HoldingsSlice:
    holdings: tuple[Holding, ...]
    offset: int
    total: int
    total_is_exact: bool
    has_more: bool
    providers: tuple[ProviderReport, ...]
    stale: bool = False  # every provider failed: this is an older snapshot
    stale_age_seconds: int | None = None
    # Names this exact page content while the page cache serves it to many requests, so a
    # face may keep what it made of it (bytes, objects) keyed by it; None: not kept, build
    # nothing to keep. See :data:`SliceKey`.
    key: SliceKey | None = field(default=None, compare=False)
    # What faces made of this slice (REST bytes, GraphQL objects), by face. A cached slice
    # is served to many requests, so what one face stores here the next request reuses.
    renderings: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


_PageKey = tuple[str, tuple[Chain, ...], SpamFilter, int, int, bool]
# (page key, walk serial, walk version, admission number): one admitted page. The walk state
# alone is not enough: a page rebuilt from the same walk after its TTL may carry fresher
# details, so each admission gets a number of its own.
SliceKey = tuple[_PageKey, int, int, int]
_admissions = itertools.count(1)


@dataclass(slots=True)
class _PageEntry:
    walk_serial: int
    walk_version: int
    expires: float
    result: HoldingsSlice | None = None  # None: seen once, not admitted yet


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
        self._entries: OrderedDict[_PageKey, _PageEntry] = OrderedDict()
        self._seen: OrderedDict[_PageKey, _PageEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: _PageKey, walk: WalletWalk) -> HoldingsSlice | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not self._current(entry, walk):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.result

    def offer(self, key: _PageKey, walk: WalletWalk, result: HoldingsSlice) -> HoldingsSlice:
        """``result`` was just built from ``walk``: remember it (kept on second sight).

        Returns the slice to answer with: ``result`` itself, or, when it is kept, a copy
        carrying its :data:`SliceKey`."""
        if self.max_entries <= 0 or self.ttl <= 0:
            return result
        seen = self._seen.pop(key, None)
        if seen is None or not self._current(seen, walk):
            entry = _PageEntry(walk.serial, walk.version, time.monotonic() + self.ttl)
            _put(self._seen, key, entry, 4 * self.max_entries)
            return result
        slice_key: SliceKey = (key, walk.serial, walk.version, next(_admissions))
        seen.result = replace(result, key=slice_key)  # its TTL runs from the first sight
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
    table: OrderedDict[_PageKey, _PageEntry], key: _PageKey, entry: _PageEntry, bound: int
) -> None:
    table[key] = entry
    table.move_to_end(key)
    while len(table) > bound:
        table.popitem(last=False)


@dataclass(slots=True)
class _WalkEntry:
    walk: WalletWalk
    task: asyncio.Task[None] | None  # None: restored from another replica's snapshot
    created: float


class NFTService:
    def __init__(
        self,
        sources: Sequence[NFTSource],
        detail_sources: Sequence[NFTDetailSource],
        cache: SharedCache,
        settings: Settings,
        *,
        guards: ProviderGuards | None = None,
    ) -> None:
        self._sources = list(sources)
        self._details = {source.name: source for source in detail_sources}
        self._cache = cache
        self._settings = settings
        self._guards = guards or ProviderGuards(
            GuardPolicy.from_settings(settings), cooldowns=CacheCooldowns(cache)
        )
        self._walks: OrderedDict[tuple[str, tuple[Chain, ...]], _WalkEntry] = OrderedDict()
        self._opening: dict[tuple[str, tuple[Chain, ...]], asyncio.Task[WalletWalk]] = {}
        # Per provider: a page's detail and collection calls all start at once, and queue
        # here (not at the guard's bulkhead, which fails fast after its short queue wait).
        slots = _detail_slot_count(settings, self._guards.policy.bulkhead_max_in_flight)
        self._detail_slots = {name: asyncio.Semaphore(slots) for name in self._details}
        self._pages = PageCache(
            settings.page_cache_entries,
            min(settings.page_cache_ttl, settings.enrichment_ttl, settings.collection_ttl),
        )

    @property
    def guards(self) -> ProviderGuards:
        """The per-provider guards (shared with the other services of this app)."""
        return self._guards

    @property
    def provider_names(self) -> list[str]:
        return [source.name for source in self._sources]

    async def list_holdings(
        self,
        owner: str,
        *,
        offset: int,
        limit: int,
        chains: Sequence[Chain] | None = None,
        spam: SpamFilter = SpamFilter.EXCLUDE,
        enrich: bool = True,
    ) -> HoldingsSlice:
        """Holdings ``offset .. offset+limit`` of ``owner`` (a validated lower-case address).

        Raises :class:`UpstreamUnavailable` only when every provider failed.
        """
        chain_set = tuple(chains or self._settings.chains)
        page_key: _PageKey = (owner, chain_set, spam, offset, limit, enrich)
        known = self._known_walk(owner, chain_set)
        if known is not None and known.complete:
            cached = self._pages.get(page_key, known)
            if cached is not None:
                return cached
        stale_age: int | None = None
        walk: WalletWalk | None
        try:
            async with asyncio.timeout(self._settings.request_deadline):
                walk = await self._walk_for(owner, chain_set)
                await walk.wait_for(
                    offset + limit + 1, spam, exact_wait=self._settings.exact_total_wait
                )
        except TimeoutError:
            walk = self._known_walk(owner, chain_set)  # serve what is committed, not exact
        if walk is None or walk.all_failed:
            self._forget(owner, chain_set)
            walk, stale_age = await self._stale_walk(owner, chain_set)
            enrich = False  # the providers just failed: do not ask them for details
        visible = walk.visible(spam)
        page: Sequence[Holding] = visible[offset : offset + limit]
        detail_reports: list[tuple[str, ProviderError]] = []
        if enrich and page:
            page = await self._enrich(owner, page, detail_reports)
        result = HoldingsSlice(
            holdings=tuple(self._present(holding) for holding in page),
            offset=offset,
            total=walk.best_total(spam),
            total_is_exact=walk.exact,
            has_more=offset + limit < len(visible) or not walk.complete,
            providers=_summarise(walk.reports, detail_reports, self.provider_names),
            stale=stale_age is not None,
            stale_age_seconds=stale_age,
        )
        # Only a final answer is kept: the walk done with every stream read, every detail
        # call answered, and a page (not the identity view's whole wallet).
        if (
            stale_age is None
            and walk.complete
            and not walk.any_failed
            and not detail_reports
            and limit <= self._settings.max_page_size
        ):
            result = self._pages.offer(page_key, walk, result)
        return result

    async def enrich_holdings(
        self, owner: str, holdings: Sequence[Holding]
    ) -> tuple[list[Holding], list[tuple[str, ProviderError]]]:
        """Detail for holdings listed (unenriched) for ``owner``, and the failed detail calls.

        For callers that page over several wallets at once (the identity view).
        """
        failures: list[tuple[str, ProviderError]] = []
        enriched = await self._enrich(owner, holdings, failures)
        return [self._present(holding) for holding in enriched], failures

    async def aclose(self) -> None:
        tasks: list[asyncio.Task[Any]] = [e.task for e in self._walks.values() if e.task]
        tasks += self._opening.values()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._walks.clear()

    # -- walks ---------------------------------------------------------------------------

    async def _walk_for(self, owner: str, chains: tuple[Chain, ...]) -> WalletWalk:
        """The wallet's walk: a local one, another replica's snapshot, or a new walk.

        Concurrent callers in this process share one lookup (one task per wallet)."""
        walk = self._known_walk(owner, chains)
        if walk is not None:
            return walk
        key = (owner, chains)
        opening = self._opening.get(key)
        if opening is None:
            # A task of its own: a caller that gives up does not cancel the others' lookup.
            opening = self._opening[key] = asyncio.create_task(self._open_walk(owner, chains))
            opening.add_done_callback(lambda _: self._opening.pop(key, None))
        return await asyncio.shield(opening)

    def _known_walk(self, owner: str, chains: tuple[Chain, ...]) -> WalletWalk | None:
        key = (owner, chains)
        entry = self._walks.get(key)
        if entry is None:
            return None
        fresh = time.monotonic() - entry.created < self._settings.snapshot_ttl
        if not entry.walk.complete or fresh:
            self._walks.move_to_end(key)
            return entry.walk
        return None

    async def _open_walk(self, owner: str, chains: tuple[Chain, ...]) -> WalletWalk:
        found, lease = await self._cache.lead_or_wait(_snapshot_key(owner, chains))
        if found is not None:
            restored = await self._restore(found)
            if restored is not None:
                walk, age = restored
                self._remember(owner, chains, _WalkEntry(walk, None, time.monotonic() - age))
                return walk
        walk = WalletWalk(
            owner,
            self._sources,
            chains,
            self._settings.field_priority,
            cap=self._settings.walk_cap,
            provider_deadline=self._settings.provider_deadline,
            guards=self._guards,
        )
        task = asyncio.create_task(self._run_walk(walk, chains, lease))
        self._remember(owner, chains, _WalkEntry(walk, task, time.monotonic()))
        return walk

    async def _run_walk(
        self, walk: WalletWalk, chains: tuple[Chain, ...], lease: Lease | None
    ) -> None:
        """Walk, then publish the snapshot (for other replicas and stale-if-error)."""
        try:
            await walk.run()
            if not walk.all_failed:
                await self._publish(walk, chains)
        finally:
            if lease is not None:
                await lease.release()

    async def _publish(self, walk: WalletWalk, chains: tuple[Chain, ...]) -> None:
        # Encoding and compressing a big wallet takes a while: off the event loop (the
        # walk is complete, nothing changes it any more). A small one is quicker here.
        if walk.size > SNAPSHOT_IN_THREAD:
            data = await asyncio.to_thread(walk.snapshot)
        else:
            data = walk.snapshot()
        data["stored_at"] = time.time()
        settings = self._settings
        snapshot_key = _snapshot_key(walk.owner, chains)
        await self._cache.set(snapshot_key, data, settings.snapshot_ttl, background=True)
        if not walk.any_failed:  # only a fully read walk is worth serving when all fail
            stale_key = _stale_key(walk.owner, chains)
            await self._cache.set(stale_key, data, settings.stale_ttl, background=True)

    async def _stale_walk(self, owner: str, chains: tuple[Chain, ...]) -> tuple[WalletWalk, int]:
        """The last fully read snapshot and its age, or :class:`UpstreamUnavailable`."""
        found = await self._cache.get(_stale_key(owner, chains))
        restored = await self._restore(found) if found is not None else None
        if restored is None:
            raise UpstreamUnavailable(
                "every NFT provider failed for this wallet",
                retry_after=self._settings.unavailable_retry_after,
            )
        walk, age = restored
        return walk, int(age)

    async def _restore(self, data: Any) -> tuple[WalletWalk, float] | None:
        """A snapshot as a complete walk and its age in seconds; ``None`` if unreadable.
        Decoded off the event loop (a big wallet's takes a while)."""
        priority = self._settings.field_priority
        try:
            if isinstance(data, dict) and "zlib" in data:  # a big wallet's
                walk = await asyncio.to_thread(WalletWalk.restore, data, priority)
            else:
                walk = WalletWalk.restore(data, priority)
            age = max(0.0, time.time() - float(data["stored_at"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            logger.warning("a wallet snapshot in the cache does not decode: ignored")
            return None
        return walk, age

    def _remember(self, owner: str, chains: tuple[Chain, ...], entry: _WalkEntry) -> None:
        self._walks[(owner, chains)] = entry
        while len(self._walks) > MAX_CACHED_WALKS:
            _, oldest = self._walks.popitem(last=False)
            if oldest.task is not None:
                oldest.task.cancel()

    def _forget(self, owner: str, chains: tuple[Chain, ...]) -> None:
        self._walks.pop((owner, chains), None)

    # -- enrichment ----------------------------------------------------------------------

    async def _enrich(
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
                        holding = with_record(holding, listed, self._settings.field_priority)
                        continue
                try:
                    detail, info = await asyncio.gather(
                        self._detail(source, owner, record), collection_of(source, record)
                    )
                except ProviderError as exc:
                    failures.append((name, exc))
                    continue
                # The spam verdict stays the one the list calls gave: it decided the
                # holding's place in the filtered order, which must not shift.
                detail = replace(_with_collection(detail, info), is_spam=record.is_spam)
                holding = with_record(holding, detail, self._settings.field_priority)
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

    # -- presentation --------------------------------------------------------------------

    def _present(self, holding: Holding) -> Holding:
        """The holding as clients may see it: hostile metadata made safe (gateway/sanitize.py)."""
        return replace(holding, nft=present_nft(holding.nft, self._settings))


def _snapshot_key(owner: str, chains: Sequence[Chain]) -> str:
    return cache_key("snapshot", owner, ",".join(chain.value for chain in chains))


def _stale_key(owner: str, chains: Sequence[Chain]) -> str:
    return cache_key("stale", owner, ",".join(chain.value for chain in chains))


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


def _summarise(
    streams: Sequence[StreamReport],
    detail_failures: Sequence[tuple[str, ProviderError]],
    providers: Sequence[str],
) -> tuple[ProviderReport, ...]:
    reports = []
    for provider in providers:
        own = [s for s in streams if s.provider == provider]
        failed = [s for s in own if s.status == "failed"]
        details = [exc for name, exc in detail_failures if name == provider]
        if own and len(failed) == len(own):
            status = "failed"
        elif failed or details:
            status = "partial"
        else:
            status = "ok"
        first = failed[0] if failed else None
        reports.append(
            ProviderReport(
                provider=provider,
                status=status,
                error_kind=first.error_kind if first else (details[0].kind if details else None),
                error_message=first.error_message
                if first
                else (details[0].message if details else None),
                failed_chains=tuple(s.chain.value for s in failed),
                latency_ms=round(sum(s.latency_ms for s in own), 1),
            )
        )
    return tuple(reports)
