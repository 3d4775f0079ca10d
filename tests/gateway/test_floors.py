"""Floor prices on the collection: which provider's wins, always with its source and age,
and OpenSea's collection stats asked only for what no list call priced (once per
collection, then cached)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.nfts.floors import NO_STATS_AFTER
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.labelled import LABELLED_WALLET
from providers.sandbox.world import (
    DID_WALLET,
    SMALL_WALLET,
    TINY_WALLET,
    TRIO_WALLET,
    WHALE_WALLET,
    world,
)
from tests.conftest import gateway_client, sandbox_settings

QUERY = """
query ($address: String!) {
  wallet(address: $address) {
    nfts(page: 1, size: 50) {
      assets { nft { tokenId collection { name slug openseaSlug
        floor { value currency source fetchedAt } } } }
    }
  }
}
"""


async def rest_assets(http: httpx.AsyncClient, wallet: str) -> dict[str, dict[str, Any]]:
    body = {"wallet_address": wallet, "page": 1, "size": 50}
    response = await http.post("/users/u1/nfts", json=body)
    assert response.status_code == 200, response.text
    return {a["nft"]["token_id"]: a for a in response.json()["assets"]}


def parsed(when: str) -> datetime:
    return datetime.fromisoformat(when.replace("Z", "+00:00"))


async def test_every_floor_names_its_source_and_when_it_was_read(
    client: httpx.AsyncClient,
) -> None:
    assets = await rest_assets(client, TRIO_WALLET)
    ticket, owl = assets["5"]["floor"], assets["11"]["floor"]
    tickets = world().collection_by_slug("moralis-tickets")
    assert tickets is not None
    # Only Moralis knows the ticket, so its floor is Moralis's, in its currency.
    assert ticket == {
        "value": tickets.floor_price,
        "currency": "POL",
        "source": "moralis",
        "fetched_at": ticket["fetched_at"],
    }
    # Moralis's list floor beats Alchemy's copy of OpenSea's (the default priority).
    assert owl["source"] == "moralis" and owl["currency"] == "ETH" and owl["value"] > 0
    for floor in (ticket, owl):
        assert (
            abs(
                (
                    datetime.now(tz=parsed(floor["fetched_at"]).tzinfo)
                    - parsed(floor["fetched_at"])
                ).total_seconds()
            )
            < 60
        )


async def test_an_nft_no_list_call_prices_gets_opensea_stats_once_per_collection() -> None:
    sandbox: Sandbox = build_sandbox()
    stats = sandbox.faults("opensea")
    stats.path_filter = "/stats"
    async with gateway_client(sandbox, sandbox_settings()) as http:
        first = await rest_assets(http, SMALL_WALLET)
        asked = stats.calls
        again = await rest_assets(http, SMALL_WALLET)
    punks = world().collection_by_slug("pixel-punks")
    assert punks is not None
    # Punk #42 is OpenSea's alone: no list floor, so the collection stats priced it.
    punk = first["42"]["floor"]
    assert (punk["value"], punk["currency"], punk["source"]) == (
        punks.floor_price,
        "ETH",
        "opensea",
    )
    priced_by_stats = {
        a["nft"]["collection_opensea_slug"]
        for a in first.values()
        if a["floor"] is not None and a["floor"]["source"] == "opensea"
    }
    assert asked == len(priced_by_stats) >= 1  # one call per collection, not per NFT
    assert stats.calls == asked  # the second page read them from the cache
    assert again["42"]["floor"]["fetched_at"] == punk["fetched_at"]
    # Spam has no floor anywhere, and says so.
    spam = [a for a in first.values() if a["nft"]["collection_slug"] == "free-airdrop-claim"]
    assert all(a["floor"] is None for a in spam)


async def test_graphql_puts_the_floor_on_the_collection(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": QUERY, "variables": {"address": TRIO_WALLET}}
    )
    body = response.json()
    assert "errors" not in body, body
    assets = {a["nft"]["tokenId"]: a["nft"] for a in body["data"]["wallet"]["nfts"]["assets"]}
    collection = assets["11"]["collection"]
    assert (collection["name"], collection["slug"]) == ("Night Owls", "night-owls")
    floor = collection["floor"]
    assert floor["source"] == "moralis" and floor["currency"] == "ETH"
    assert parsed(floor["fetchedAt"]).tzinfo is not None


async def test_a_server_without_the_stats_route_leaves_floors_unpriced_not_failed() -> None:
    # An OpenSea that speaks only the documented list, NFT and collection routes answers
    # every /stats with a 404: the page is whole (no partial failure), kept like any
    # other, and each collection is asked once, not on every answer.
    sandbox: Sandbox = build_sandbox()
    stats = sandbox.faults("opensea")
    stats.path_filter, stats.status = "/stats", 404
    async with gateway_client(sandbox, sandbox_settings()) as http:
        body = {"wallet_address": SMALL_WALLET, "page": 1, "size": 50}
        first = await http.post("/users/u1/nfts", json=body)
        asked = stats.calls
        again = await http.post("/users/u1/nfts", json=body)
    assert first.status_code == again.status_code == 200
    assets = {a["nft"]["token_id"]: a for a in first.json()["assets"]}
    assert assets["42"]["floor"] is None  # Punk #42: OpenSea's alone, and no stats
    assert assets["42"]["nft"]["name"]  # its details still landed
    assert {p["provider"]: p["status"] for p in first.json()["providers"]}["opensea"] == "ok"
    assert asked >= 1
    assert stats.calls == asked  # no collection asked twice
    assert again.headers["x-nftgw-upstream-calls"] == "0"  # the kept page
    assert again.json()["assets"] == first.json()["assets"]


async def test_stats_404s_stop_the_stats_calls_unless_the_route_ever_answered() -> None:
    sandbox: Sandbox = build_sandbox()
    stats = sandbox.faults("opensea")
    stats.path_filter, stats.status = "/stats", 404  # a server without the stats route
    async with gateway_client(sandbox, sandbox_settings()) as http:
        for wallet in (TINY_WALLET, DID_WALLET):  # 2 and 1 unpriced collections
            await rest_assets(http, wallet)
        asked = stats.calls
        assets = await rest_assets(http, SMALL_WALLET)  # collections of its own
    assert asked == NO_STATS_AFTER
    assert stats.calls == asked  # taken to have no stats route: not asked again
    assert assets["42"]["floor"] is None

    # Once the route has answered, 404s are collections OpenSea does not know: asked on.
    sandbox = build_sandbox()
    stats = sandbox.faults("opensea")
    stats.path_filter = "/stats"
    async with gateway_client(sandbox, sandbox_settings()) as http:
        stats.fail_next(404)
        await rest_assets(http, DID_WALLET)  # one unpriced collection: 404
        await rest_assets(http, WHALE_WALLET)  # one: answered
        stats.fail_next(404, times=NO_STATS_AFTER - 1)
        await rest_assets(http, TINY_WALLET)  # two: 404, 404
        asked = stats.calls
        await rest_assets(http, LABELLED_WALLET)  # one more
    assert stats.calls == asked + 1  # still asked


class _BatchWaitsForStats(httpx.AsyncBaseTransport):
    """The sandbox, except that OpenSea's detail batch answers only once a collection's
    stats have been asked: a gateway that prices after its details never gets them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.stats_asked = asyncio.Event()
        self.batch_saw_stats: list[bool] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stats"):
            self.stats_asked.set()
        elif request.url.path.endswith("/nfts/batch"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stats_asked.wait(), 5)
            self.batch_saw_stats.append(self.stats_asked.is_set())
        return await self.inner.handle_async_request(request)


async def test_floors_are_asked_beside_the_detail_calls_not_after_them() -> None:
    sandbox = build_sandbox()
    upstream = _BatchWaitsForStats(sandbox.transport())
    app = create_app(sandbox_settings(), transport=upstream)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://gateway.test"
        ) as http,
    ):
        assets = await rest_assets(http, SMALL_WALLET)
    # A cold page is one round trip shorter: the stats call was out before the details came.
    assert upstream.batch_saw_stats and all(upstream.batch_saw_stats)
    assert assets["42"]["floor"]["source"] == "opensea"  # and the floor still lands
    assert assets["42"]["nft"]["name"]  # as do the details
