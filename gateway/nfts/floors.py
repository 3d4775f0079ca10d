"""Floor prices for the holdings of one page that no list call priced.

Alchemy's and Moralis's list payloads carry a collection floor with every NFT, so most
holdings arrive priced (the merge picks one by the ``floor`` priority and records the
winner). What is left (an NFT only OpenSea lists, a collection neither prices) is asked of
the floor sources (OpenSea's collection stats) by OpenSea slug: one call per collection
per page, cached ``floor_ttl`` seconds (a floor moves; collection names do not). A floor
always carries its source and when it was read; a failed call costs that floor only and
is reported as the provider's partial failure. A 404 is not a failure: the source has no
stats for that collection, or its server no stats route (servers that speak only the
routes UPSTREAMS.md documents, and the trimmed OpenAPI document, have none), and the
collection is unpriced there, cached as such like any answer. After :data:`NO_STATS_AFTER`
404s from a source whose stats never answered otherwise in this process, its server is
taken to have no stats route and is not asked for ``floor_ttl`` seconds; a server that
has answered a stats call once is always asked (404s there are collections it lacks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from gateway.cache.codec import decode_floor, encode_floor
from gateway.cache.shared import SharedCache, cache_key
from gateway.nfts.merging import Holding, shared_tuple
from gateway.resilience import CallMeter, Priority, ProviderGuards
from gateway.settings import Settings
from providers.base import FloorSource
from providers.errors import ProviderError, ProviderNotFound
from providers.models import Chain, FloorPrice

__all__ = ["NO_STATS_AFTER", "FloorFiller"]

logger = logging.getLogger(__name__)

# (chain, OpenSea slug): one collection, priced once per page.
_CollectionRef = tuple[Chain, str]
# 404s, from a source whose stats never answered otherwise, after which its server is taken
# to have no stats route, for ``floor_ttl`` seconds: a cold page of 14 unpriced collections
# asked 14 calls that could only 404, and so did every cold page after it.
NO_STATS_AFTER = 3


class FloorFiller:
    """Prices holdings without a floor from the floor sources, first that knows wins."""

    def __init__(
        self,
        sources: Sequence[FloorSource],
        cache: SharedCache,
        settings: Settings,
        guards: ProviderGuards,
    ) -> None:
        self._sources = list(sources)
        self._cache = cache
        self._ttl = settings.floor_ttl
        self._guards = guards
        self._not_found: dict[str, int] = {}  # per source: stats 404s
        self._answered: set[str] = set()  # sources whose stats answered (not 404) once
        self._no_stats_until: dict[str, float] = {}  # per source: not asked before (monotonic)

    async def fill(
        self,
        page: Sequence[Holding],
        failures: list[tuple[str, ProviderError]],
        *,
        known: dict[_CollectionRef, FloorPrice | None] | None = None,
        meter: CallMeter | None = None,
        deadline: float | None = None,
    ) -> list[Holding]:
        """``page`` with floors where a floor source knows one; failed calls go to
        ``failures`` as ``(provider, error)``. Collections in ``known`` (from
        :meth:`prices`) are not asked again."""
        floors = dict(known or {})
        floors.update(
            await self.prices(page, failures, skip=floors, meter=meter, deadline=deadline)
        )
        if not floors:
            return list(page)
        return [_priced(h, floors) for h in page]

    async def prices(
        self,
        page: Sequence[Holding],
        failures: list[tuple[str, ProviderError]],
        *,
        skip: dict[_CollectionRef, FloorPrice | None] | None = None,
        meter: CallMeter | None = None,
        deadline: float | None = None,
    ) -> dict[_CollectionRef, FloorPrice | None]:
        """The floors of ``page``'s unpriced collections (not in ``skip``), by (chain, slug).

        Needs only the slug a list call gave, so a page can ask beside its detail calls
        instead of after them (one upstream round trip less on a cold page)."""
        wanted = {
            (h.nft.chain, slug): None
            for h in page
            if h.nft.floor is None
            and (slug := h.nft.collection_opensea_slug)
            and (skip is None or (h.nft.chain, slug) not in skip)
        }
        if not wanted or not self._sources:
            return {}
        refs = list(wanted)
        found = await asyncio.gather(
            *(self._floor_of(ref, failures, meter, deadline) for ref in refs)
        )
        return dict(zip(refs, found, strict=True))

    async def _floor_of(
        self,
        ref: _CollectionRef,
        failures: list[tuple[str, ProviderError]],
        meter: CallMeter | None,
        deadline: float | None,
    ) -> FloorPrice | None:
        for source in self._sources:
            if self._stats_paused(source.name):
                continue  # its server has no stats route, as far as we know
            try:
                floor = await self._cached_floor(source, *ref, meter, deadline)
            except ProviderError as exc:
                failures.append((source.name, exc))
                continue
            if floor is not None:
                return floor
        return None

    async def _cached_floor(
        self,
        source: FloorSource,
        chain: Chain,
        slug: str,
        meter: CallMeter | None,
        deadline: float | None,
    ) -> FloorPrice | None:
        async def fetch() -> tuple[FloorPrice | None]:
            try:
                floor = await self._guards.call(
                    source.name,
                    "floor",
                    lambda: source.fetch_floor(chain, slug),
                    priority=Priority.COLLECTION,  # a page's nicety, after its details
                    deadline=deadline,
                    meter=meter,
                )
            except ProviderNotFound:
                # No stats here (see the module's docstring): an answer, not the page's
                # failure (as one, the page was never kept and every answer asked again).
                self._note_not_found(source.name)
                return (None,)
            self._answered.add(source.name)
            return (floor,)  # a 1-tuple: "no floor" is an answer worth caching too

        (floor,), _ = await self._cache.get_or_fetch(
            cache_key("floor", source.name, chain, slug),
            fetch,
            ttl=self._ttl,
            encode=_encode,
            decode=_decode,
        )
        return floor

    def _stats_paused(self, name: str) -> bool:
        return time.monotonic() < self._no_stats_until.get(name, 0.0)

    def _note_not_found(self, name: str) -> None:
        missed = self._not_found[name] = self._not_found.get(name, 0) + 1
        if name in self._answered:
            return  # its stats route answered once: a 404 is a collection its server lacks
        if missed < NO_STATS_AFTER or self._stats_paused(name):
            return
        self._no_stats_until[name] = time.monotonic() + self._ttl
        logger.info(
            "%s answered %d collection stats calls with 404 and none otherwise: taken to have "
            "no stats route, not asked for %d s",
            name,
            missed,
            self._ttl,
        )


def _priced(holding: Holding, floors: dict[_CollectionRef, FloorPrice | None]) -> Holding:
    nft = holding.nft
    slug = nft.collection_opensea_slug
    floor = floors.get((nft.chain, slug)) if nft.floor is None and slug else None
    if floor is None:
        return holding
    provenance = shared_tuple((*holding.provenance, ("floor", floor.source)))
    return replace(holding, nft=replace(nft, floor=floor), provenance=provenance)


def _encode(value: tuple[FloorPrice | None]) -> Any:
    return {"floor": encode_floor(value[0])}


def _decode(data: Any) -> tuple[FloorPrice | None]:
    return (decode_floor(data["floor"]),)
