"""NFTService: what a wallet holds, merged across providers and paged in one stable order.

The faces call :meth:`NFTService.list_holdings` with validated input. It

1. finds or starts the wallet's :class:`~gateway.walk.WalletWalk` (one per wallet and chain
   set, shared by concurrent requests, kept ``snapshot_ttl`` seconds after it completes so
   paging stays consistent),
2. waits until the requested slice is committed (see :meth:`WalletWalk.wait_for`),
3. enriches only the holdings on that slice with per-NFT detail and collection facts
   (cached, concurrent, capped), and
4. returns the slice with per-provider reports: a failing provider costs its own data only.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from gateway.caching import SharedCache, cache_key
from gateway.codec import decode_collection, decode_record, encode_collection, encode_record
from gateway.errors import UpstreamUnavailable
from gateway.media import normalize_media_url
from gateway.merging import Holding, SpamFilter, with_record
from gateway.settings import Settings
from gateway.walk import StreamReport, WalletWalk
from providers.base import NFTDetailSource, NFTSource
from providers.errors import ProviderError
from providers.models import Chain, CollectionInfo, NFTRecord, Rarity, TokenStandard

__all__ = ["HoldingsSlice", "NFTService", "ProviderReport"]

MAX_CACHED_WALKS = 512


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


@dataclass(slots=True)
class _WalkEntry:
    walk: WalletWalk
    task: asyncio.Task[None]
    created: float


class NFTService:
    def __init__(
        self,
        sources: Sequence[NFTSource],
        detail_sources: Sequence[NFTDetailSource],
        cache: SharedCache,
        settings: Settings,
    ) -> None:
        self._sources = list(sources)
        self._details = {source.name: source for source in detail_sources}
        self._cache = cache
        self._settings = settings
        self._walks: OrderedDict[tuple[str, tuple[Chain, ...]], _WalkEntry] = OrderedDict()
        self._detail_slots = asyncio.Semaphore(settings.detail_concurrency)

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
        walk = self._walk_for(owner, chain_set)
        try:
            async with asyncio.timeout(self._settings.request_deadline):
                await walk.wait_for(
                    offset + limit + 1, spam, exact_wait=self._settings.exact_total_wait
                )
        except TimeoutError:
            pass  # serve what is committed; the answer says the total is not exact
        if walk.all_failed:
            self._forget(owner, chain_set)
            raise UpstreamUnavailable("every NFT provider failed for this wallet")
        visible = walk.visible(spam)
        page = visible[offset : offset + limit]
        detail_reports: list[tuple[str, ProviderError]] = []
        if enrich and page:
            page = await self._enrich(owner, page, detail_reports)
        return HoldingsSlice(
            holdings=tuple(self._present(holding) for holding in page),
            offset=offset,
            total=walk.best_total(spam),
            total_is_exact=walk.exact,
            has_more=offset + limit < len(visible) or not walk.complete,
            providers=_summarise(walk.reports, detail_reports, self.provider_names),
        )

    async def aclose(self) -> None:
        for entry in self._walks.values():
            entry.task.cancel()
        await asyncio.gather(*(e.task for e in self._walks.values()), return_exceptions=True)
        self._walks.clear()

    # -- walks ---------------------------------------------------------------------------

    def _walk_for(self, owner: str, chains: tuple[Chain, ...]) -> WalletWalk:
        key = (owner, chains)
        entry = self._walks.get(key)
        now = time.monotonic()
        if entry is not None and (
            not entry.walk.complete or now - entry.created < self._settings.snapshot_ttl
        ):
            self._walks.move_to_end(key)
            return entry.walk
        walk = WalletWalk(
            owner,
            self._sources,
            chains,
            self._settings.field_priority,
            cap=self._settings.walk_cap,
            provider_deadline=self._settings.provider_deadline,
        )
        self._walks[key] = _WalkEntry(walk, asyncio.create_task(walk.run()), now)
        while len(self._walks) > MAX_CACHED_WALKS:
            _, oldest = self._walks.popitem(last=False)
            oldest.task.cancel()
        return walk

    def _forget(self, owner: str, chains: tuple[Chain, ...]) -> None:
        self._walks.pop((owner, chains), None)

    # -- enrichment ----------------------------------------------------------------------

    async def _enrich(
        self,
        owner: str,
        page: Sequence[Holding],
        failures: list[tuple[str, ProviderError]],
    ) -> list[Holding]:
        """Per-NFT detail and collection facts for the holdings of one page, concurrently."""

        async def enrich_one(holding: Holding) -> Holding:
            for name, source in self._details.items():
                record = holding.record_from(name)
                if record is None or not _needs_detail(holding):
                    continue
                try:
                    detail, info = await asyncio.gather(
                        self._detail(source, owner, record), self._collection(source, record)
                    )
                except ProviderError as exc:
                    failures.append((name, exc))
                    continue
                # The spam verdict stays the one the list calls gave: it decided the
                # holding's place in the filtered order, which must not shift.
                detail = replace(_with_collection(detail, info), is_spam=record.is_spam)
                holding = with_record(holding, detail, self._settings.field_priority)
            return holding

        return list(await asyncio.gather(*(enrich_one(h) for h in page)))

    async def _detail(self, source: NFTDetailSource, owner: str, record: NFTRecord) -> NFTRecord:
        async def fetch() -> NFTRecord:
            async with self._detail_slots, asyncio.timeout(self._settings.provider_deadline):
                return await source.fetch_nft_detail(owner, record)

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

    async def _collection(
        self, source: NFTDetailSource, record: NFTRecord
    ) -> CollectionInfo | None:
        slug = record.collection_opensea_slug
        if slug is None:
            return None

        async def fetch() -> CollectionInfo:
            async with self._detail_slots, asyncio.timeout(self._settings.provider_deadline):
                return await source.fetch_collection(record.chain, slug)

        try:
            info, _ = await self._cache.get_or_fetch(
                cache_key("collection", source.name, record.chain, slug),
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
        """Media URLs as clients may use them (``ipfs://`` rewritten, unsafe ones dropped)."""
        settings = self._settings
        nft = holding.nft

        def media(url: str | None) -> str | None:
            return normalize_media_url(
                url,
                ipfs_gateway=settings.ipfs_gateway,
                arweave_gateway=settings.arweave_gateway,
                max_data_uri_bytes=settings.max_data_uri_bytes,
            )

        return replace(
            holding,
            nft=replace(nft, image=media(nft.image), animation_url=media(nft.animation_url)),
        )


def _needs_detail(holding: Holding) -> bool:
    """Whether a detail call can add something the list calls did not give."""
    nft = holding.nft
    return (
        nft.rarity is None
        or nft.traits is None
        or nft.quantity is None
        or nft.token_standard is not TokenStandard.ERC721
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
