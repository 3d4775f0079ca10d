"""An identity's NFTs: the union of its linked wallets' holdings, paged in one order.

The union's order (what every page of an identity is cut from): wallets in the order the
identity lists them, then each wallet's own walk order (see :mod:`gateway.nfts.walk`). An NFT
seen through several wallets keeps the place of its first sighting and is listed once,
labelled with every wallet that holds it. Each wallet is read whole
(:meth:`NFTService.whole_wallet`: its walk awaited to its end within the request deadline),
so ``total`` counts exactly what the pages return; only the page's holdings are enriched.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from gateway.errors import UpstreamUnavailable
from gateway.nfts.merging import Holding, NsfwFilter, SpamFilter
from gateway.nfts.pages import (
    HoldingsSlice,
    ListWindow,
    ProviderReport,
    ProviderStatus,
    combine_reports,
    detail_failure_reports,
)
from gateway.nfts.service import NFTService
from gateway.resilience import request_meter
from gateway.settings import Settings
from providers.errors import ProviderError
from providers.models import Chain, NFTKey

__all__ = ["IdentityUnion", "LinkedHolding", "LinkedHoldingsSlice", "WalletShare"]

# Identity unions kept for paging (each holds references to its wallets' holdings).
MAX_CACHED_UNIONS = 128


@dataclass(frozen=True, slots=True)
class WalletShare:
    """One linked wallet's holding of an NFT (its own quantity)."""

    address: str
    holding: Holding


@dataclass(frozen=True, slots=True)
class LinkedHolding:
    """An NFT in an identity's union: shown as its first wallet saw it, held by ``shares``."""

    shares: tuple[WalletShare, ...]

    @property
    def holding(self) -> Holding:
        return self.shares[0].holding

    @property
    def wallets(self) -> tuple[str, ...]:
        return tuple(share.address for share in self.shares)

    def counted_quantity(self) -> tuple[int, bool]:
        """The sum over the wallets holding it; known only when every wallet's is known."""
        counts = [share.holding.counted_quantity() for share in self.shares]
        return sum(value for value, _ in counts), all(known for _, known in counts)


@dataclass(frozen=True, slots=True)
class LinkedHoldingsSlice:
    holdings: tuple[LinkedHolding, ...]
    offset: int
    total: int
    total_is_exact: bool
    has_more: bool
    providers: tuple[ProviderReport, ...]
    # Some wallet's NFTs are an older snapshot (every provider failed for it); the oldest age.
    stale: bool = False
    stale_age_seconds: int | None = None
    # When the oldest of the wallets' walks read the providers (Unix seconds).
    fetched_at: float | None = None


@dataclass(frozen=True, slots=True)
class _Union:
    holdings: list[LinkedHolding]
    reports: tuple[tuple[ProviderReport, ...], ...]  # one group per wallet
    exact: bool
    complete: bool
    created: float
    stale_age_seconds: int | None  # None: every wallet's NFTs are fresh
    fetched_at: float | None  # the oldest wallet walk's (see LinkedHoldingsSlice)


class IdentityUnion:
    """Pages over the union of several wallets' NFTs (an identity's linked wallets)."""

    def __init__(self, nft_service: NFTService, settings: Settings) -> None:
        self._nfts = nft_service
        self._settings = settings
        self._unions: OrderedDict[tuple[Any, ...], _Union] = OrderedDict()

    async def list_holdings(
        self, wallets: Sequence[str], window: ListWindow
    ) -> LinkedHoldingsSlice:
        """``window`` of the union of ``wallets`` (validated, in order), every wallet read
        by a walk at most ``window.max_age`` seconds old (if given).

        Raises :class:`UpstreamUnavailable` only when every NFT provider failed for every wallet.
        """
        offset, limit = window.offset, window.limit
        filters = (window.spam, window.nsfw)
        union = await self._union_of(tuple(wallets), window.chains or (), filters, window.max_age)
        page = union.holdings[offset : offset + limit]
        reports = list(union.reports)
        if window.enrich and page:
            page, detail_reports = await self._enrich(page)
            reports.append(detail_reports)
        return LinkedHoldingsSlice(
            holdings=tuple(page),
            offset=offset,
            total=len(union.holdings),
            total_is_exact=union.exact,
            has_more=offset + limit < len(union.holdings) or not union.complete,
            providers=combine_reports(reports),
            stale=union.stale_age_seconds is not None,
            stale_age_seconds=union.stale_age_seconds,
            fetched_at=union.fetched_at,
        )

    async def _union_of(
        self,
        wallets: tuple[str, ...],
        chains: tuple[Chain, ...],
        filters: tuple[SpamFilter, NsfwFilter],
        max_age: float | None = None,
    ) -> _Union:
        """The wallets' union: reused while fresh once every walk is complete and fresh
        (paging a big identity builds it once), else built from the wallets' current
        snapshots (a stale one is never kept: the next request tries the providers again)."""
        key = (wallets, chains, filters)
        known = self._unions.get(key)
        if (
            known is not None
            and time.monotonic() - known.created < self._settings.snapshot_ttl
            and not _older_than(known.fetched_at, max_age)
        ):
            self._unions.move_to_end(key)
            return known
        failures: list[UpstreamUnavailable] = []
        slices = await asyncio.gather(
            *(self._whole_wallet(w, chains or None, filters, max_age, failures) for w in wallets)
        )
        meter = request_meter()  # the walks' calls this request paid (see NFTService)
        for result in slices:
            if result is not None:
                meter.merge(result.upstream_calls)
        if wallets and all(result is None for result in slices):
            raise UpstreamUnavailable(
                "every NFT provider failed for every linked wallet",
                providers=failures[0].providers if failures else self._failed_reports(),
            )
        union = _Union(
            holdings=_union(wallets, slices),
            reports=tuple(self._failed_reports() if s is None else s.providers for s in slices),
            exact=all(s is not None and s.total_is_exact for s in slices),
            complete=all(s is not None and not s.has_more for s in slices),
            created=time.monotonic(),
            stale_age_seconds=_oldest_stale(slices),
            fetched_at=min(
                (s.fetched_at for s in slices if s is not None and s.fetched_at is not None),
                default=None,
            ),
        )
        if union.complete and union.stale_age_seconds is None:
            self._unions[key] = union
            while len(self._unions) > MAX_CACHED_UNIONS:
                self._unions.popitem(last=False)
        return union

    async def _whole_wallet(
        self,
        owner: str,
        chains: Sequence[Chain] | None,
        filters: tuple[SpamFilter, NsfwFilter],
        max_age: float | None,
        failures: list[UpstreamUnavailable],
    ) -> HoldingsSlice | None:
        spam, nsfw = filters
        try:
            return await self._nfts.whole_wallet(
                owner, chains=chains, spam=spam, nsfw=nsfw, max_age=max_age
            )
        except UpstreamUnavailable as exc:
            failures.append(exc)  # why, should every wallet fail
            return None  # this wallet's NFTs are missing; the reports say every provider failed

    def _failed_reports(self) -> tuple[ProviderReport, ...]:
        return tuple(
            ProviderReport(name, ProviderStatus.FAILED, "unavailable", "every NFT provider failed")
            for name in self._nfts.provider_names
        )

    async def _enrich(
        self, page: Sequence[LinkedHolding]
    ) -> tuple[list[LinkedHolding], tuple[ProviderReport, ...]]:
        """Detail for each (wallet, holding) on the page, one batch per wallet, concurrently."""
        by_wallet: dict[str, list[Holding]] = {}
        for linked in page:
            for share in linked.shares:
                by_wallet.setdefault(share.address, []).append(share.holding)
        wallets = list(by_wallet)
        results = await asyncio.gather(
            *(self._nfts.enrich_holdings(w, by_wallet[w]) for w in wallets)
        )
        enriched: dict[tuple[str, NFTKey], Holding] = {}
        failures: list[tuple[str, ProviderError]] = []
        for wallet, (holdings, failed) in zip(wallets, results, strict=True):
            enriched.update({(wallet, h.key): h for h in holdings})
            failures += failed
        page = [
            LinkedHolding(
                tuple(replace(s, holding=enriched[(s.address, s.holding.key)]) for s in item.shares)
            )
            for item in page
        ]
        return page, detail_failure_reports(failures)


def _union(wallets: Sequence[str], slices: Sequence[HoldingsSlice | None]) -> list[LinkedHolding]:
    """Wallets in order, each wallet's holdings in its walk order; an NFT once, first place."""
    order: list[NFTKey] = []
    shares: dict[NFTKey, list[WalletShare]] = {}
    for wallet, result in zip(wallets, slices, strict=True):
        for holding in result.holdings if result is not None else ():
            known = shares.get(holding.key)
            if known is None:
                order.append(holding.key)
                shares[holding.key] = [WalletShare(wallet, holding)]
            elif all(share.address != wallet for share in known):
                known.append(WalletShare(wallet, holding))
    return [LinkedHolding(tuple(shares[key])) for key in order]


def _older_than(fetched_at: float | None, max_age: float | None) -> bool:
    if max_age is None:
        return False
    return fetched_at is None or time.time() - fetched_at > max_age


def _oldest_stale(slices: Sequence[HoldingsSlice | None]) -> int | None:
    """The age of the oldest stale snapshot among the wallets' slices; None if none is."""
    ages = [s.stale_age_seconds or 0 for s in slices if s is not None and s.stale]
    return max(ages) if ages else None
