"""NFTService: what a wallet holds, merged across providers and paged in one stable order.

The faces call :meth:`NFTService.list_holdings` with validated input (a lower-case
address). It

1. finds or starts the wallet's :class:`~gateway.nfts.walk.WalletWalk` (see
   :class:`~gateway.nfts.walks.WalkRegistry`: local, in flight, restored from another
   replica, or stale when every provider fails),
2. waits until the requested slice is committed (see :meth:`WalletWalk.wait_for`), and
   for one holding more (an exact ``has_more``) or, by default, the whole walk,
3. enriches only the holdings on that slice with per-NFT detail and collection facts
   (:class:`~gateway.nfts.enrich.Enricher`), starting as soon as they are committed,
   beside the rest of the wait (:class:`~gateway.nfts.ahead.DetailsAhead`; a cold page
   also opens its detail calls' connections beside its list calls), and
4. returns the slice with per-provider reports: a failing provider costs its own data only.

Warm answers come from the :class:`~gateway.nfts.page_cache.PageCache`. The identity
service reads a wallet whole with :meth:`NFTService.whole_wallet` (the walk to its end,
unenriched, never kept as a page) and enriches its own pages with
:meth:`NFTService.enrich_holdings`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from gateway.cache.shared import SharedCache
from gateway.errors import UpstreamUnavailable
from gateway.nfts.ahead import DetailsAhead, Failures
from gateway.nfts.enrich import Enricher
from gateway.nfts.floors import FloorFiller
from gateway.nfts.merging import Holding, NsfwFilter, SpamFilter
from gateway.nfts.page_cache import PageCache
from gateway.nfts.pages import (
    HoldingsSlice,
    ListWindow,
    PageKey,
    ProviderReport,
    ProviderStatus,
    combine_reports,
    detail_failure_reports,
)
from gateway.nfts.refresh import RefreshAnswer, Refresher
from gateway.nfts.sanitize import present_nft
from gateway.nfts.spam import SpamJudge
from gateway.nfts.walk import REFUSALS, WalletWalk
from gateway.nfts.walks import WalkRegistry
from gateway.resilience import CacheCooldowns, CallMeter, GuardPolicy, ProviderGuards
from gateway.settings import Settings, SpamSettings
from providers.base import FloorSource, MetadataRefresher, NFTDetailSource, NFTSource
from providers.errors import ProviderError
from providers.models import Chain, NFTKey

__all__ = ["NFTService"]


class NFTService:
    def __init__(
        self,
        sources: Sequence[NFTSource],
        detail_sources: Sequence[NFTDetailSource],
        cache: SharedCache,
        settings: Settings,
        *,
        guards: ProviderGuards | None = None,
        floor_sources: Sequence[FloorSource] = (),
        refreshers: Sequence[MetadataRefresher] = (),
    ) -> None:
        self._sources = list(sources)
        self._cache = cache
        self._settings = settings
        # The chains every walk reads: the configured ones, in configured order.
        self._walked: tuple[Chain, ...] = tuple(dict.fromkeys(settings.chains))
        self._guards = guards or ProviderGuards(
            GuardPolicy.from_settings(settings), cooldowns=CacheCooldowns(cache)
        )
        self._spam_judge = SpamJudge(SpamSettings.from_settings(settings))
        self._walks = WalkRegistry(
            self._sources, cache, settings, self._guards, spam_judge=self._spam_judge
        )
        self._enricher = Enricher(detail_sources, cache, settings, self._guards)
        self._floors = FloorFiller(floor_sources, cache, settings, self._guards)
        self._refresher = Refresher(
            refreshers, [s.name for s in detail_sources], cache, self._guards
        )
        self._pages = PageCache(
            settings.page_cache_entries,
            min(settings.page_cache_ttl, settings.enrichment_ttl, settings.collection_ttl),
        )

    @property
    def guards(self) -> ProviderGuards:
        """The per-provider guards (shared with the other services of this app)."""
        return self._guards

    @property
    def cache(self) -> SharedCache:
        """The shared cache this service reads through (the app's, shared by every service)."""
        return self._cache

    @property
    def provider_names(self) -> list[str]:
        return [source.name for source in self._sources]

    async def list_holdings(self, owner: str, window: ListWindow) -> HoldingsSlice:
        """``window`` of ``owner``'s holdings (a validated lower-case address).

        Raises :class:`UpstreamUnavailable` only when every provider failed.
        """
        page_key = self._page_key(owner, window)
        kept_page = self._kept_page(page_key, window.max_age)
        if kept_page is not None:
            return kept_page
        _, chains, spam, nsfw, offset, limit, enrich = page_key
        result, walk, kept = await self._slice(
            owner, chains, (spam, nsfw), offset, limit, enrich, window.max_age
        )
        if kept:
            return self._pages.offer(page_key, walk, result)
        return result

    def kept_page(self, owner: str, window: ListWindow) -> HoldingsSlice | None:
        """What :meth:`list_holdings` would answer with the same arguments, when it is a
        page kept ready (of a complete walk, see :mod:`gateway.nfts.page_cache`); None when
        answering needs anything more. Never waits: a face can try it before it awaits."""
        return self._kept_page(self._page_key(owner, window), window.max_age)

    def _page_key(self, owner: str, window: ListWindow) -> PageKey:
        """The window as the page caches key it: its chains in one canonical order."""
        chains = self._canonical(window.chains)
        return (owner, chains, window.spam, window.nsfw, window.offset, window.limit, window.enrich)

    def _kept_page(self, page_key: PageKey, max_age: float | None) -> HoldingsSlice | None:
        known = self._walks.known(page_key[0], self._walked, max_age)
        if known is None or not known.complete:
            return None
        return self._pages.get(page_key, known)

    async def whole_wallet(
        self,
        owner: str,
        *,
        chains: Sequence[Chain] | None = None,
        spam: SpamFilter = SpamFilter.EXCLUDE,
        max_age: float | None = None,
        nsfw: NsfwFilter = NsfwFilter.INCLUDE,
    ) -> HoldingsSlice:
        """Every holding of ``owner``, unenriched: the walk awaited to its end (within the
        request deadline; past it, what is committed, with ``has_more``); ``max_age`` as
        for :meth:`list_holdings`.

        Raises :class:`UpstreamUnavailable` only when every provider failed.
        """
        chain_set = self._canonical(chains)
        result, _, _ = await self._slice(owner, chain_set, (spam, nsfw), 0, None, False, max_age)
        return result

    async def enrich_holdings(
        self, owner: str, holdings: Sequence[Holding]
    ) -> tuple[list[Holding], list[tuple[str, ProviderError]]]:
        """Detail for holdings listed (unenriched) for ``owner``, and the failed detail calls.

        For callers that page over several wallets at once (the identity view).
        """
        failures: list[tuple[str, ProviderError]] = []
        enriched = await self._enrich_and_price(owner, holdings, failures, None, None)
        return [self._present(holding) for holding in enriched], failures

    async def refresh_nft(self, key: NFTKey) -> RefreshAnswer:
        """Ask every provider that can to re-read ``key``'s metadata, and drop the cached
        detail of it for every wallet this process has walked that holds it (their kept
        pages are rebuilt). See :mod:`gateway.nfts.refresh`."""
        walks = self._walks.holding(key)
        answer = await self._refresher.refresh(key, [walk.owner for walk in walks])
        for walk in walks:
            walk.outdate_pages()
        return answer

    async def settled(self) -> None:
        """Return once every wallet walk of this process has ended and published its
        snapshot (for measuring what the service holds; answers never wait for it)."""
        await self._walks.settled()

    async def aclose(self) -> None:
        await self._walks.aclose()

    async def _slice(
        self,
        owner: str,
        chains: tuple[Chain, ...],
        filters: tuple[SpamFilter, NsfwFilter],
        offset: int,
        limit: int | None,
        enrich: bool,
        max_age: float | None = None,
    ) -> tuple[HoldingsSlice, WalletWalk, bool]:
        """Holdings ``offset .. offset+limit`` (``limit=None``: to the end), the walk they
        come from, and whether the answer is final (worth keeping as a page)."""
        spam, nsfw = filters
        stale_age: int | None = None
        walk: WalletWalk | None
        needed = None if limit is None else offset + limit + 1
        deadline = asyncio.get_running_loop().time() + self._settings.request_deadline
        meter = CallMeter()
        view = None if chains == self._walked else frozenset(chains)
        chains = self._walked  # one walk per wallet: a narrower list is a view of it
        # A cold page (no walk yet) opens its detail wave's connections beside its list calls.
        warm = 0 if not enrich or self._walks.known(owner, chains, max_age) else limit or 0
        if enrich:
            self._enricher.learn_routes(meter)  # beside the list calls, once per process

        async def enrich_page(page: Sequence[Holding], failures: Failures) -> list[Holding]:
            return await self._enrich_and_price(owner, page, failures, meter, deadline)

        ahead: DetailsAhead | None = None  # the page's details, fetched once it is committed
        try:  # the fetch ahead never outlives this answer (cancelled, failed, or done)
            try:
                async with asyncio.timeout(self._settings.request_deadline):
                    walk = await self._walks.walk_for(owner, chains, max_age)
                    if warm:
                        self._enricher.open_connections(warm)
                    if enrich and limit and view is None and not walk.complete:
                        ahead = DetailsAhead(walk, (offset, limit), filters, enrich_page)
                    await walk.wait_for(
                        needed, spam, exact_wait=self._settings.exact_total_wait, nsfw=nsfw
                    )
            except TimeoutError:
                walk = self._walks.known(owner, chains, max_age)  # what is committed, not exact
            if walk is None or walk.all_failed:
                if walk is None or walk.may_answer_otherwise:
                    self._walks.forget(owner, chains)  # walked again by the next request
                # else every provider refused the request itself (a key each one refuses):
                # the walk stays, so that the next requests answer as this one without
                # asking again what answers the same (15 list calls an answer otherwise).
                try:
                    walk, stale_age = await self._walks.stale(owner, chains)
                except UpstreamUnavailable as exc:
                    raise UpstreamUnavailable(
                        exc.message, retry_after=exc.retry_after, providers=self._failed(walk)
                    ) from None
                enrich = False  # the providers just failed: do not ask them for details
            visible = walk.visible(spam, nsfw)
            if view is not None:
                visible = tuple(h for h in visible if h.nft.chain in view)
            end = len(visible) if limit is None else offset + limit
            page: Sequence[Holding] = visible[offset:end]
            detail_failures: list[tuple[str, ProviderError]] = []
            if enrich and page:
                fetched = await ahead.details_for(page) if ahead is not None else None
                if fetched is not None:
                    page, detail_failures = fetched
                else:
                    page = await enrich_page(page, detail_failures)
            # The walk's calls are this answer's cost unless another answer already said so
            # (a walk shared by concurrent requests is paid by the first to answer).
            meter.merge(walk.meter.drain())
            stream_reports = [
                stream.as_report()
                for stream in walk.reports
                if view is None or stream.chain in view
            ]
            result = HoldingsSlice(
                holdings=tuple(self._present(holding) for holding in page),
                offset=offset,
                total=walk.best_total(spam, nsfw) if view is None else len(visible),
                total_is_exact=walk.exact,
                has_more=end < len(visible) or not walk.complete,
                providers=combine_reports(
                    [stream_reports, detail_failure_reports(detail_failures)],
                    providers=self.provider_names,
                ),
                stale=stale_age is not None,
                stale_age_seconds=stale_age,
                fetched_at=walk.fetched_at,
                upstream_calls=meter.counts,
            )
            # Only a final answer is kept: the walk done with every stream read and every
            # detail call answered, or refused (asked again, the upstream would answer the
            # same; the walks keep such a walk too). Rebuilt per request instead, a partial
            # 50-NFT GraphQL page ran at 160 req/s against 6,000 kept.
            final = (
                stale_age is None
                and walk.complete
                and not walk.may_answer_otherwise
                and all(exc.kind in REFUSALS for _, exc in detail_failures)
            )
            return result, walk, final
        finally:
            if ahead is not None:
                ahead.cancel()  # not used (or done): stop waiting for a page never shown

    async def _enrich_and_price(
        self,
        owner: str,
        page: Sequence[Holding],
        failures: list[tuple[str, ProviderError]],
        meter: CallMeter | None,
        deadline: float | None,
    ) -> list[Holding]:
        """Details and floors for ``page``. Floors are asked by the slug the list calls
        gave, beside the detail calls rather than after them (a cold page is a round trip
        shorter); a holding whose slug only its detail told is priced afterwards."""
        enriched, floors = await asyncio.gather(
            self._enricher.enrich(owner, page, failures, meter=meter, deadline=deadline),
            self._floors.prices(page, failures, meter=meter, deadline=deadline),
        )
        return await self._floors.fill(
            enriched, failures, known=floors, meter=meter, deadline=deadline
        )

    def _canonical(self, chains: Sequence[Chain] | None) -> tuple[Chain, ...]:
        """A client's chain list, deduplicated and in one order (configured chains first,
        in configured order), so every spelling of one set is one page key."""
        if not chains:
            return self._walked
        wanted = set(chains)
        ordered = [chain for chain in self._walked if chain in wanted]
        ordered += sorted(wanted.difference(ordered), key=list(Chain).index)
        return tuple(ordered)

    def _failed(self, walk: WalletWalk | None) -> tuple[ProviderReport, ...]:
        """What each provider did in a walk where all failed (a 503 says it); a walk cut
        short by the request deadline before it began is a timeout for every provider."""
        if walk is None:
            failed, why = ProviderStatus.FAILED, "the request deadline passed"
            return tuple(ProviderReport(p, failed, "timeout", why) for p in self.provider_names)
        reports = [stream.as_report() for stream in walk.reports]
        return combine_reports([reports], providers=self.provider_names)

    def _present(self, holding: Holding) -> Holding:
        """The holding as clients may see it: hostile metadata made safe (see sanitize.py)."""
        nft = present_nft(holding.nft, self._settings)
        return holding if nft is holding.nft else replace(holding, nft=nft)
