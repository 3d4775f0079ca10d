"""Warm pages come from the service's page cache: what a user must never notice about it.

A cached page is the answer the gateway would build again: byte-identical, refreshed once
its TTL is over, and never served for another walk (a new, still running one included)
or when a provider failed. Nothing here measures time; the TTLs are the smallest allowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.cache.shared import BoundedMemoryCache, SharedCache
from gateway.nfts.pages import ListWindow
from gateway.nfts.service import NFTService
from providers.errors import ProviderNotFound, ProviderUnavailable
from providers.models import Chain, HoldingsPage, NFTRecord, TokenStandard
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import SMALL_WALLET, World, world
from tests.conftest import sandbox_settings

BODY = {"wallet_address": SMALL_WALLET, "page": 1, "size": 20}
RANKED = "4821"  # a Sandbox Apes token of the small wallet: OpenSea ranks it
OWNER = "0x" + "a" * 40


class SwitchableTransport(httpx.AsyncBaseTransport):
    """The upstreams as one sandbox or another: ``use`` flips them under a running app."""

    def __init__(self, *sandboxes: Sandbox) -> None:
        self._transports = [sandbox.transport() for sandbox in sandboxes]
        self.current = 0

    def use(self, index: int) -> None:
        self.current = index

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transports[self.current].handle_async_request(request)


def world_with_rank(token_id: str, rank: int) -> World:
    """The sandbox world, except that OpenSea now ranks ``token_id`` ``rank``."""
    changed = World()
    for collection in world().collections.values():
        changed.add_collection(collection)
    for nft in world().nfts.values():
        changed.add_nft(replace(nft, rank=rank) if nft.token_id == token_id else nft)
    return changed.finish()


@asynccontextmanager
async def gateway(
    transport: httpx.AsyncBaseTransport, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sandbox_settings(**overrides), transport=transport)
    async with LifespanManager(app) as manager:
        asgi = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://gateway.test") as http:
            yield http


async def nfts(http: httpx.AsyncClient, body: dict[str, Any] = BODY) -> httpx.Response:
    response = await http.post("/users/u1/nfts", json=body)
    assert response.status_code == 200, response.text
    return response


def rank_of(response: httpx.Response, token_id: str) -> int | None:
    asset = next(a for a in response.json()["assets"] if a["nft"]["token_id"] == token_id)
    rarity = asset["nft"]["rarity"]
    return None if rarity is None else int(rarity["rank"])


async def test_warm_answers_are_the_answer_built_from_scratch() -> None:
    sandbox = build_sandbox()
    async with gateway(sandbox.transport()) as http:
        answers = [await nfts(http) for _ in range(4)]  # cold, then warm, then cached
        graphql = [
            (
                await http.post(
                    "/graphql",
                    json={
                        "query": f'{{ wallet(address: "{SMALL_WALLET}") {{ nfts(size: 20) '
                        "{ total assets { quantity nft { tokenId rarity { rank total } "
                        "traits { type value } sources provenance { field provider } } } } } }"
                    },
                )
            ).json()
            for _ in range(4)
        ]
    assert len({answer.content for answer in answers}) == 1
    assert all(
        answer.headers["x-nftgw-providers"] == "opensea=ok, alchemy=ok, moralis=ok"
        for answer in answers
    )
    assert all(page == graphql[0] for page in graphql) and "errors" not in graphql[0]


async def test_a_changed_detail_shows_once_the_ttl_is_over() -> None:
    before, after = build_sandbox(), build_sandbox(world_with_rank(RANKED, 1))
    upstreams = SwitchableTransport(before, after)
    async with gateway(upstreams, enrichment_ttl=1, snapshot_ttl=60) as http:
        first = [rank_of(await nfts(http), RANKED) for _ in range(3)]
        upstreams.use(1)  # OpenSea re-ranks the token
        await asyncio.sleep(1.2)  # past the enrichment TTL, which caps the page cache's
        refreshed = rank_of(await nfts(http), RANKED)
    assert first[0] is not None and first[0] != 1 and len(set(first)) == 1
    assert refreshed == 1


class GatedSource:
    """One provider, one chain: page 0 at once; page 1 only once ``gate`` is set."""

    name = "alchemy"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()

    def supports(self, chain: Chain) -> bool:
        return True

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage:
        index = int(cursor or 0)
        if index:
            await self.gate.wait()
        records = tuple(
            NFTRecord(
                source=self.name,
                chain=chain,
                contract_address=OWNER,
                token_id=str(index * 10 + n),
                token_standard=TokenStandard.ERC721,
                spam_signals=(),
            )
            for n in range(5)
        )
        return HoldingsPage(records=records, next_cursor=None if index else "1")


async def test_a_cached_complete_page_is_not_served_for_a_new_running_walk() -> None:
    source = GatedSource()
    settings = sandbox_settings(
        sandbox="off", chains=[Chain.ETHEREUM], exact_total_wait=0.0, snapshot_ttl=1
    )
    cache = SharedCache(BoundedMemoryCache())
    service = NFTService([source], [], cache, settings)
    try:
        await service.list_holdings(OWNER, ListWindow(0, 3))
        await asyncio.sleep(0.05)  # the walk's second page lands (the first answer did not wait)
        complete = [await service.list_holdings(OWNER, ListWindow(0, 3)) for _ in range(4)]
        await asyncio.sleep(1.1)  # the walk is no longer fresh: the next request walks again
        source.gate.clear()  # ... and this walk stays at its first page for now
        walking = await service.list_holdings(OWNER, ListWindow(0, 3))
        source.gate.set()
    finally:
        await service.aclose()
        await cache.close()
    assert all(page.total == 10 and page.total_is_exact for page in complete)
    assert not walking.total_is_exact and walking.has_more and walking.total == 5
    # the page itself is the same: pages never shift between walks
    assert [h.key for h in walking.holdings] == [h.key for h in complete[0].holdings]
    # a kept page names itself (faces key what they render by it); one never kept does not
    assert complete[-1].key is not None and complete[-1].key == complete[-2].key
    assert walking.key is None


async def test_a_page_rebuilt_after_its_ttl_gets_a_new_slice_key() -> None:
    settings = sandbox_settings(sandbox="off", chains=[Chain.ETHEREUM], page_cache_ttl=1)
    cache = SharedCache(BoundedMemoryCache())
    service = NFTService([GatedSource()], [], cache, settings)
    try:
        before = [await service.list_holdings(OWNER, ListWindow(0, 3)) for _ in range(3)]
        await asyncio.sleep(1.1)  # the kept page expires; the walk is still fresh
        after = [await service.list_holdings(OWNER, ListWindow(0, 3)) for _ in range(3)]
    finally:
        await service.aclose()
        await cache.close()
    assert before[-1].key is not None and after[-1].key is not None
    assert before[-1].key != after[-1].key  # what a face rendered before is not reused


async def test_a_page_with_failed_details_is_never_kept() -> None:
    sandbox = build_sandbox()
    faults = sandbox.faults("opensea")
    faults.path_filter, faults.body = "/nfts/batch", "html"  # detail calls only
    async with gateway(sandbox.transport(), breaker_min_calls=1000) as http:
        broken = [await nfts(http) for _ in range(3)]
        faults.body = None
        healed = await nfts(http)
    assert all(r.headers["x-nftgw-providers"].startswith("opensea=partial") for r in broken)
    assert healed.headers["x-nftgw-providers"] == "opensea=ok, alchemy=ok, moralis=ok"


async def test_a_page_is_ready_without_waiting_exactly_when_it_is_kept() -> None:
    # kept_page is what a face tries before it awaits list_holdings: it must give the same
    # page list_holdings would, and nothing (never a stale or partial page) before that.
    settings = sandbox_settings(sandbox="off", chains=[Chain.ETHEREUM], exact_total_wait=0.0)
    cache = SharedCache(BoundedMemoryCache())
    service = NFTService([GatedSource()], [], cache, settings)
    try:
        assert service.kept_page(OWNER, ListWindow(0, 3)) is None  # never walked
        first = await service.list_holdings(OWNER, ListWindow(0, 3))
        await asyncio.sleep(0.05)  # the walk completes
        ready_before_kept = service.kept_page(OWNER, ListWindow(0, 3))
        kept = [await service.list_holdings(OWNER, ListWindow(0, 3)) for _ in range(3)]
        ready = service.kept_page(OWNER, ListWindow(0, 3))
        other_page = service.kept_page(OWNER, ListWindow(3, 3))
    finally:
        await service.aclose()
        await cache.close()
    assert ready_before_kept is None  # complete, but built once: not kept yet
    assert first.upstream_calls  # the first answer says what the walk cost
    assert ready is kept[-1] is kept[-2]  # one warm object for every later request
    assert ready.key is not None and ready.upstream_calls == {}
    assert [h.key for h in ready.holdings] == [h.key for h in first.holdings]
    assert other_page is None


class RefusingSource(GatedSource):
    """GatedSource on Ethereum; Polygon's list is refused (a chain the server lacks) or,
    with ``transient``, unavailable."""

    def __init__(self, *, transient: bool = False) -> None:
        super().__init__()
        self.transient = transient
        self.lists = 0

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage:
        self.lists += 1
        if chain is Chain.POLYGON:
            if self.transient:
                raise ProviderUnavailable(self.name, "HTTP 503")
            raise ProviderNotFound(self.name, "HTTP 404: no such chain here")
        return await super().fetch_holdings_page(owner, chain, cursor)


async def test_a_page_a_refusal_left_partial_is_kept_saying_so_a_503_is_not() -> None:
    settings = sandbox_settings(sandbox="off", chains=[Chain.ETHEREUM, Chain.POLYGON])
    for transient in (False, True):
        source = RefusingSource(transient=transient)
        cache = SharedCache(BoundedMemoryCache())
        service = NFTService([source], [], cache, settings)
        try:
            answers = [await service.list_holdings(OWNER, ListWindow(0, 3)) for _ in range(3)]
            kept = service.kept_page(OWNER, ListWindow(0, 3))
        finally:
            await service.aclose()
            await cache.close()
        statuses = {(r.provider, r.status, r.error_kind) for a in answers for r in a.providers}
        if transient:  # may answer otherwise: walked again each time, never kept
            assert kept is None and source.lists == 3 * 3
            assert statuses == {("alchemy", "partial", "unavailable")}
        else:  # answers the same: one walk, its page kept, still saying what failed
            assert kept is answers[-1] and source.lists == 3
            assert statuses == {("alchemy", "partial", "not_found")}
