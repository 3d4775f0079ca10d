"""Enrichment: which detail calls a page makes, and what they leave for everyone else.

Upstream calls are counted by the OpenSea emulator's own counter, narrowed to the detail
batch route (``/nfts/batch``; collections come from ``/collections/batch``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.cache import cache_kind
from providers.models import Chain, TokenStandard
from providers.sandbox import build_sandbox
from providers.sandbox.world import (
    SMALL_WALLET,
    WHALE_WALLET,
    SandboxCollection,
    SandboxNFT,
    World,
    plain_nft,
)
from tests.conftest import gateway_client, sandbox_settings

DETAIL_PATH = "/nfts/batch"
WALLET = "0x" + "8" * 40
# Contracts chosen so the walk order is every unranked NFT first, then the ranked ones.
UNRANKED = SandboxCollection(
    Chain.ETHEREUM,
    "0x" + "1" * 40,
    "plain-cats",
    "Plain Cats",
    TokenStandard.ERC721,
    500,
    ranked=False,
)
RANKED = SandboxCollection(
    Chain.ETHEREUM, "0x" + "2" * 40, "ranked-dogs", "Ranked Dogs", TokenStandard.ERC721, 500
)
PAGE = 20


def nft(collection: SandboxCollection, token_id: int) -> SandboxNFT:
    traits = (("Fur", "Gold"), ("Level", token_id % 10))
    return plain_nft(collection, token_id, {WALLET: 1}, traits=traits)


def cats_and_dogs() -> World:
    """30 NFTs of a collection OpenSea does not rank, then 10 of one it ranks."""
    data = World()
    for collection, count in ((UNRANKED, 30), (RANKED, 10)):
        data.add_collection(collection)
        for token_id in range(1, count + 1):
            data.add_nft(nft(collection, token_id))
    return data.finish()


async def page(http: httpx.AsyncClient, wallet: str, number: int) -> httpx.Response:
    body = {"wallet_address": wallet, "page": number, "size": PAGE}
    response = await http.post("/users/u1/nfts", json=body)
    assert response.status_code == 200, response.text
    return response


def assets_of(response: httpx.Response, slug: str) -> list[dict[str, Any]]:
    return [a["nft"] for a in response.json()["assets"] if a["nft"]["collection_slug"] == slug]


async def test_unranked_nfts_known_from_the_lists_are_not_asked_for_again() -> None:
    sandbox = build_sandbox(cats_and_dogs())
    details = sandbox.faults("opensea")
    details.path_filter = DETAIL_PATH
    async with gateway_client(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as http:
        first = await page(http, WALLET, 1)  # learns that OpenSea does not rank the cats
        asked_on_first = details.calls
        details.calls = 0
        second = await page(http, WALLET, 2)
    cats, dogs = assets_of(second, UNRANKED.slug), assets_of(second, RANKED.slug)
    # A cold page asks its details beside its collections (one batch: the cats too);
    # once the collection is known as unranked, its complete NFTs are not asked again.
    assert len(assets_of(first, UNRANKED.slug)) == PAGE and asked_on_first == 1
    assert len(cats) == 10 and len(dogs) == 10
    assert details.calls == 1, "one batch, for the ranked NFTs only"
    assert all(dog["rarity"]["rank"] == int(dog["token_id"]) for dog in dogs)
    # What the skipped calls would have given is there all the same.
    assert all(cat["rarity"] is None and cat["traits"] for cat in cats)
    assert {cat["collection_name"] for cat in cats} == {UNRANKED.name}
    assert second.headers["x-nftgw-providers"] == "opensea=ok, alchemy=ok, moralis=ok"


async def test_other_wallets_are_listed_while_a_page_waits_on_slow_details() -> None:
    sandbox = build_sandbox()
    details = sandbox.faults("opensea")
    details.path_filter, details.latency = DETAIL_PATH, 0.3
    settings = sandbox_settings()
    async with gateway_client(sandbox, settings) as http:
        whale = asyncio.create_task(page(http, WHALE_WALLET, 1))
        # The whale's page has its detail batches in flight.
        async with asyncio.timeout(10):
            while details.calls < 1:
                await asyncio.sleep(0.01)
        other = await page(http, SMALL_WALLET, 1)  # one OpenSea list call per chain
        await whale
    assert other.headers["x-nftgw-providers"] == "opensea=ok, alchemy=ok, moralis=ok"
    assert other.json()["total"] > 0


async def test_a_burst_of_identical_cold_pages_stores_each_collection_once() -> None:
    # Every request of the burst shares the one collection fetch; only the request that
    # fetched writes what came back. Each writing them all again queued hundreds of Redis
    # writes behind each other (past the op timeout: the replicas then stopped sharing).
    sandbox = build_sandbox(cats_and_dogs())
    app = create_app(sandbox_settings(chains=[Chain.ETHEREUM]), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        cache = app.state.cache
        stored: list[str] = []
        set_many = cache.set_many

        async def recording_set_many(entries: Any, value: Any, **options: Any) -> None:
            stored.extend(cache_kind(key) for key, _ in entries)
            await set_many(entries, value, **options)

        cache.set_many = recording_set_many
        set_each = cache.set_each

        async def recording_set_each(entries: Any, **options: Any) -> None:
            stored.extend(cache_kind(key) for key, _, _ in entries)
            await set_each(entries, **options)

        cache.set_each = recording_set_each
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            answers = await asyncio.gather(*(page(http, WALLET, 1) for _ in range(50)))
    assert len({answer.content for answer in answers}) == 1
    assert stored.count("collection") == 1, "the cats' page has one collection"
