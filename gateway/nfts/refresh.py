"""Metadata refresh: ask every provider that can to re-read one NFT, and forget ours.

Each refresher (OpenSea's ``refresh`` route, Alchemy's ``getNFTMetadata`` with
``refreshCache``, Moralis's ``resync``) is asked once, concurrently, through its guard;
the answer says how each did (a provider that fails costs its own refresh only). The
gateway's cached detail of the NFT, per detail provider and per wallet this process has
walked that holds it, is dropped, and those walks' kept pages are out of date: the next
page re-reads the detail. Upstreams refresh in the background, so what they say may take
a while to change; a client that wants the listing re-read asks with ``maxAge``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.cache.shared import SharedCache, cache_key
from gateway.nfts.pages import ProviderReport, ProviderStatus
from gateway.resilience import ProviderGuards
from providers.base import MetadataRefresher
from providers.errors import ProviderError
from providers.models import NFTKey

__all__ = ["RefreshAnswer", "Refresher", "detail_key"]


@dataclass(frozen=True, slots=True)
class RefreshAnswer:
    """What a refresh did: one report per refresher, and how many cached details went."""

    key: NFTKey
    providers: tuple[ProviderReport, ...]
    dropped_details: int


def detail_key(source: str, key: NFTKey, owner: str) -> str:
    """The cache key of one detail provider's view of ``key`` as ``owner`` holds it."""
    return cache_key("detail", source, key.chain, key.contract_address, key.token_id, owner)


class Refresher:
    def __init__(
        self,
        refreshers: Sequence[MetadataRefresher],
        detail_sources: Iterable[str],
        cache: SharedCache,
        guards: ProviderGuards,
    ) -> None:
        self._refreshers = list(refreshers)
        self._detail_sources = tuple(detail_sources)
        self._cache = cache
        self._guards = guards

    async def refresh(self, key: NFTKey, owners: Iterable[str]) -> RefreshAnswer:
        """Ask each refresher once and drop the cached details of ``owners``' views."""
        reports = await asyncio.gather(*(self._ask(r, key) for r in self._refreshers))
        dropped = [detail_key(s, key, o) for o in sorted(set(owners)) for s in self._detail_sources]
        for cached in dropped:
            await self._cache.delete(cached)
        return RefreshAnswer(key=key, providers=tuple(reports), dropped_details=len(dropped))

    async def _ask(self, refresher: MetadataRefresher, key: NFTKey) -> ProviderReport:
        chain, contract, token_id = key
        try:
            await self._guards.call(
                refresher.name,
                "refresh",
                lambda: refresher.refresh_metadata(chain, contract, token_id),
            )
        except ProviderError as exc:  # the guard's own refusals (cool-down, breaker) too
            return ProviderReport(refresher.name, ProviderStatus.FAILED, exc.kind, exc.message)
        return ProviderReport(refresher.name, ProviderStatus.OK)
