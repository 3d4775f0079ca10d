"""A cold page's upstream calls go out in as few waves as its data allows: the list calls,
then every detail, collection and floor call of the page at once.

Waves are read from the order requests start and end at the transport (no clocks): calls
are "in flight together" when each of them started before any of them ended.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.settings import Settings
from providers.models import Chain, TokenStandard
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import SandboxCollection, World, plain_nft
from tests.conftest import sandbox_settings

WALLET = "0x" + "9" * 40
COLLECTIONS = 10  # two NFTs of each on the wallet's 20-NFT page
PAGE = 20


class Recorder(httpx.AsyncBaseTransport):
    """The sandbox transport, noting when each upstream request starts and ends."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        # (start | end, host, path), or (open, host, how many connections)
        self.events: list[tuple[str, str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and json.loads(request.content or b"{}") == {"slugs": []}:
            path += "#route-check"  # the empty batch that asks whether the route exists
        where = (request.url.host, path)
        self.events.append(("start", *where))
        try:
            return await self._inner.handle_async_request(request)
        finally:
            self.events.append(("end", *where))

    async def open_connections(self, url: str, count: int, *, timeout: float) -> None:
        """What the gateway's own transport does ahead of a page's details (noted here:
        the sandbox's emulators are in process, with no connections to open)."""
        self.events.append(("open", httpx.URL(url).host, str(count)))

    def requests(self, wanted: Callable[[str, str], bool]) -> list[str]:
        return [path for kind, host, path in self.events if kind == "start" and wanted(host, path)]

    def together(self, wanted: Callable[[str, str], bool]) -> bool:
        """Whether every request ``wanted`` picks started before any of them ended."""
        kinds = [kind for kind, host, path in self.events if wanted(host, path)]
        return "end" not in kinds[: kinds.count("start")]


def spread_world() -> World:
    """A 20-NFT wallet over ten collections (ERC-721 and ERC-1155, ranked or not)."""
    data = World()
    for c in range(COLLECTIONS):
        standard = TokenStandard.ERC1155 if c % 3 == 0 else TokenStandard.ERC721
        collection = SandboxCollection(
            Chain.ETHEREUM,
            "0x" + f"{c + 1:02x}" * 20,
            f"spread-{c}",
            f"Spread {c}",
            standard,
            100,
            ranked=c % 2 == 0,
        )
        data.add_collection(collection)
        balance = 2 if standard is TokenStandard.ERC1155 else 1
        for token_id in (1, 2):
            traits = (("Level", token_id),)
            data.add_nft(plain_nft(collection, token_id, {WALLET: balance}, traits=traits))
    return data.finish()


@asynccontextmanager
async def gateway(
    sandbox: Sandbox, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    recorder = Recorder(sandbox.transport())
    app = create_app(settings, transport=recorder)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http, recorder


async def first_page(http: httpx.AsyncClient) -> dict[str, object]:
    body = {"wallet_address": WALLET, "page": 1, "size": PAGE}
    response = await http.post("/users/u1/nfts", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def opensea(host: str, path: str) -> bool:
    return host.startswith("opensea")


def is_list(host: str, path: str) -> bool:
    return (
        "/account/" in path
        or "getNFTsForOwner" in path
        or "/wallets/" in path
        or (path.endswith("/nft") and "moralis" in host)
    )


def page_call(host: str, path: str) -> bool:
    """A detail, collection or floor call of OpenSea (not a list call, not the route check)."""
    return opensea(host, path) and not is_list(host, path) and "#" not in path


def slow(sandbox: Sandbox) -> None:
    for name in ("opensea", "alchemy", "moralis"):
        # Every call is in flight long enough to overlap with the others of its wave, with
        # room for a busy machine's scheduling: a second wave would still start only once
        # the first ended (0.05 s was too tight for a loaded CI machine).
        sandbox.faults(name).latency = 0.25


async def test_a_cold_page_asks_details_and_collections_in_one_wave() -> None:
    sandbox = build_sandbox(spread_world())
    slow(sandbox)
    async with gateway(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as (http, calls):
        answer = await first_page(http)
    assert calls.requests(lambda h, p: p == "/api/v2/nfts/batch") == ["/api/v2/nfts/batch"]
    batches = {"/api/v2/nfts/batch", "/api/v2/collections/batch"}
    assert calls.together(lambda h, p: opensea(h, p) and p in batches)
    assets = answer["assets"]
    assert isinstance(assets, list) and len(assets) == PAGE
    # What the waves are for is all there: names, ranks where ranked, quantities.
    assert all(a["nft"]["collection_name"].startswith("Spread ") for a in assets)
    ranked = [a for a in assets if int(a["nft"]["collection_slug"].split("-")[1]) % 2 == 0]
    assert all(a["nft"]["rarity"]["rank"] == int(a["nft"]["token_id"]) for a in ranked)
    assert all(a["quantity"] for a in assets)


async def test_without_batch_routes_every_per_nft_and_collection_get_goes_at_once() -> None:
    sandbox = build_sandbox(spread_world())
    slow(sandbox)
    sandbox.faults("opensea").batch_routes = False  # the documented API v2 only
    settings = sandbox_settings(chains=[Chain.ETHEREUM])
    async with gateway(sandbox, settings) as (http, calls):
        answer = await first_page(http)
    singles = calls.requests(page_call)
    details = [p for p in singles if "/contract/" in p and "/owners" not in p]
    collections = [p for p in singles if p.startswith("/api/v2/collections/")]
    assert len(details) == PAGE and len({p for p in collections if "/stats" not in p}) >= 1
    assert calls.together(page_call), "one wave: no call waited for another"
    # The route check went out beside the list calls, not after them, and no batch call
    # was tried on the page (it would have been a 404 and a round trip lost).
    assert calls.requests(lambda h, p: p == "/api/v2/nfts/batch") == []
    assert calls.together(lambda h, p: opensea(h, p) and (is_list(h, p) or "/batch" in p))
    assets = answer["assets"]
    assert isinstance(assets, list) and len(assets) == PAGE
    assert all(a["nft"]["collection_name"].startswith("Spread ") for a in assets)
    assert all(a["quantity"] for a in assets)


async def test_a_cold_page_opens_its_detail_connections_while_the_lists_are_out() -> None:
    sandbox = build_sandbox(spread_world())
    slow(sandbox)
    async with gateway(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as (http, calls):
        await first_page(http)
        cold = list(calls.events)
        await first_page(http)  # the same page again: its walk is known, nothing to open
    opened = [(host, count) for kind, host, count in calls.events if kind == "open"]
    # The detail source: a floor per collection (20 NFTs may be 20 collections), the
    # collections batch and a details batch for the one chain.
    wave = str(PAGE + 2)
    assert opened == [("opensea.sandbox", wave)]
    first_list_end = next(i for i, (kind, h, p) in enumerate(cold) if kind == "end")
    assert cold.index(("open", "opensea.sandbox", wave)) < first_list_end


async def test_without_batch_routes_a_cold_page_opens_a_connection_for_each_get() -> None:
    sandbox = build_sandbox(spread_world())
    slow(sandbox)
    sandbox.faults("opensea").batch_routes = False
    async with gateway(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as (http, calls):
        empty = {"wallet_address": "0x" + "3" * 40, "page": 1, "size": PAGE}
        assert (await http.post("/users/u1/nfts", json=empty)).status_code == 200
        await first_page(http)  # the routes are known missing by now
    opened = [count for kind, host, count in calls.events if kind == "open"]
    # The first page took the batch routes to exist; the second knew: a detail GET, a
    # collection GET and a floor for each NFT of the page, at most.
    assert opened == [str(PAGE + 2), str(3 * PAGE)]


def deep_world(count: int = 250) -> World:
    """A wallet of ``count`` NFTs of one collection: Alchemy lists it in pages of 100."""
    data = World()
    deep = SandboxCollection(
        Chain.ETHEREUM, "0x" + "d1" * 20, "deep", "Deep", TokenStandard.ERC721, count
    )
    data.add_collection(deep)
    for token_id in range(1, count + 1):
        data.add_nft(plain_nft(deep, token_id, {WALLET: 1}))
    return data.finish()


async def test_a_page_asks_its_details_once_committed_not_after_the_whole_walk() -> None:
    sandbox = build_sandbox(deep_world())
    slow(sandbox)
    # The default waits for the whole walk (an exact total): three rounds of lists here.
    settings = sandbox_settings(chains=[Chain.ETHEREUM], exact_total_wait=8.0)
    async with gateway(sandbox, settings) as (http, calls):
        answer = await first_page(http)
    events = calls.events
    lists = [
        i for i, (kind, host, path) in enumerate(events) if kind == "end" and is_list(host, path)
    ]
    assert len(lists) >= 3, "the wallet takes several rounds of list calls"
    details = events.index(("start", "opensea.sandbox", "/api/v2/nfts/batch"))
    assert details < lists[-1], "the page's details went out while the walk went on"
    assert answer["total"] == 250  # exact: the answer still waited for the walk
    assets = answer["assets"]
    assert isinstance(assets, list) and len(assets) == PAGE
    assert [a["nft"]["token_id"] for a in assets] == [str(n) for n in range(1, PAGE + 1)]
    assert all(a["nft"]["rarity"]["rank"] == int(a["nft"]["token_id"]) for a in assets)


@pytest.mark.parametrize("ending", ["deadline", "client gone"])
async def test_a_page_that_ended_before_its_holdings_came_asks_no_details(ending: str) -> None:
    sandbox = build_sandbox(deep_world())
    for name in ("opensea", "alchemy"):
        sandbox.faults(name).latency = 0.6  # past the request's deadline
    deadline = 0.2 if ending == "deadline" else 10.0
    settings = sandbox_settings(chains=[Chain.ETHEREUM], request_deadline=deadline)
    slow_lists = ("opensea.sandbox", "eth-mainnet.alchemy.sandbox")
    async with gateway(sandbox, settings) as (http, calls):
        request = asyncio.create_task(first_page(http))
        if ending == "deadline":
            assert (await request)["assets"] == []  # nothing was committed by then
        else:
            async with asyncio.timeout(10):  # the list calls are out: the client hangs up
                while not calls.requests(lambda h, p: h in slow_lists):
                    await asyncio.sleep(0.01)
            request.cancel()
        async with asyncio.timeout(10):  # the walk goes on and commits the page's holdings
            while sum(kind == "end" and h in slow_lists for kind, h, p in calls.events) < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # what the committed holdings could set off, it would have
    assert calls.requests(lambda h, p: p == "/api/v2/nfts/batch") == []


async def test_concurrent_cold_requests_for_a_page_share_its_calls() -> None:
    sandbox = build_sandbox(spread_world())
    details = sandbox.faults("opensea")
    details.path_filter, details.latency = "/nfts/batch", 0.2  # the detail batch is slow
    async with gateway(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as (http, calls):
        first = asyncio.create_task(first_page(http))
        # The second request arrives once the first one's collections are cached: it
        # knows more, yet it shares the first one's detail batch instead of its own.
        async with asyncio.timeout(10):
            while ("end", "opensea.sandbox", "/api/v2/collections/batch") not in calls.events[1:]:
                await asyncio.sleep(0.005)
        await asyncio.gather(first, first_page(http))
    assert calls.requests(lambda h, p: p == "/api/v2/nfts/batch") == ["/api/v2/nfts/batch"]


def popular_badge() -> World:
    """One ERC-1155 with 60 holders (OpenSea lists at most 50 inline), 7 of it ours."""
    data = World()
    badges = SandboxCollection(
        Chain.ETHEREUM, "0x" + "b7" * 20, "badges", "Badges", TokenStandard.ERC1155, 1, ranked=False
    )
    data.add_collection(badges)
    holders = {"0x" + f"{n + 1:040x}": 1 for n in range(59)} | {WALLET: 7}
    data.add_nft(plain_nft(badges, 1, holders, traits=(("Tier", "Gold"),)))
    return data.finish()


def owners_walk(host: str, path: str) -> bool:
    return opensea(host, path) and path.endswith("/owners")


async def test_a_balance_a_list_call_gave_costs_no_owners_walk() -> None:
    sandbox = build_sandbox(popular_badge())
    async with gateway(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as (http, calls):
        answer = await first_page(http)
    assets = answer["assets"]
    assert isinstance(assets, list) and [a["quantity"] for a in assets] == [7]
    assert calls.requests(owners_walk) == []


async def test_without_a_listed_balance_the_owners_walk_finds_it() -> None:
    sandbox = build_sandbox(popular_badge())
    for name in ("alchemy", "moralis"):
        sandbox.faults(name).status = 503  # only OpenSea lists it: no balance
    settings = sandbox_settings(chains=[Chain.ETHEREUM], retry_max=0)
    async with gateway(sandbox, settings) as (http, calls):
        answer = await first_page(http)
    assets = answer["assets"]
    assert isinstance(assets, list) and [a["quantity"] for a in assets] == [7]
    assert len(calls.requests(owners_walk)) >= 1


async def test_a_server_without_the_owners_route_leaves_the_balance_unknown_not_failed() -> None:
    sandbox = build_sandbox(popular_badge())
    for name in ("alchemy", "moralis"):
        sandbox.faults(name).status = 503  # only OpenSea lists it: no balance
    owners = sandbox.faults("opensea")
    owners.path_filter, owners.status = "/owners", 404
    settings = sandbox_settings(chains=[Chain.ETHEREUM], retry_max=0)
    async with gateway(sandbox, settings) as (http, calls):
        answer = await first_page(http)
        walked = len(calls.requests(owners_walk))
        await first_page(http)
    assets = answer["assets"]
    assert isinstance(assets, list) and [a["quantity_known"] for a in assets] == [False]
    providers = answer["providers"]
    assert isinstance(providers, list)
    assert {p["provider"]: p["status"] for p in providers}["opensea"] == "ok"
    assert walked == 1  # asked once, and not again for the next answer
    assert len(calls.requests(owners_walk)) == walked


async def three_answers(sandbox: Sandbox) -> tuple[dict[str, Any], bool]:
    """The first answer of the wallet's first page, and whether the third was the same
    answer without an upstream call (a page is kept on its second sight, page_cache.py)."""
    async with gateway(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as (http, calls):
        answer = await first_page(http)
        await first_page(http)
        asked = len(calls.requests(page_call))
        again = await first_page(http)
    same = again["assets"] == answer["assets"] and again["providers"] == answer["providers"]
    return answer, same and len(calls.requests(page_call)) == asked


def opensea_report(answer: dict[str, Any]) -> dict[str, Any]:
    providers = answer["providers"]
    assert isinstance(providers, list)
    report: dict[str, Any] = {p["provider"]: p for p in providers}["opensea"]
    return report


async def test_an_nft_the_server_does_not_know_is_left_out_as_the_batch_leaves_it() -> None:
    sandbox = build_sandbox(spread_world())
    opensea_faults = sandbox.faults("opensea")
    opensea_faults.batch_routes = False  # one get-NFT per NFT
    # One NFT its list names and its get-NFT does not know.
    opensea_faults.path_filter = f"/contract/0x{'01' * 20}/nfts/1"
    opensea_faults.status = 404
    answer, kept = await three_answers(sandbox)
    assert opensea_report(answer)["status"] == "ok"
    assert kept  # no call for the third answer


async def test_a_page_whose_detail_call_is_refused_is_kept_saying_so() -> None:
    # A 400 (not about the batch's size) answers the same when asked again: the page is
    # kept, partial, rather than every answer asking the detail batch again.
    sandbox = build_sandbox(spread_world())
    opensea_faults = sandbox.faults("opensea")
    opensea_faults.path_filter, opensea_faults.status = "/nfts/batch", 400
    answer, kept = await three_answers(sandbox)
    report = opensea_report(answer)
    assert (report["status"], report["error"]["kind"]) == ("partial", "bad_request")
    assert kept  # no call for the third answer


async def test_a_route_check_refused_as_a_bad_request_still_finds_the_routes() -> None:
    sandbox = build_sandbox(spread_world())
    opensea_faults = sandbox.faults("opensea")
    opensea_faults.path_filter = "/collections/batch"
    opensea_faults.fail_next(400, body=b'{"errors": ["slugs: This list may not be empty."]}')
    async with gateway(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as (http, calls):
        await first_page(http)
    assert calls.requests(lambda h, p: p == "/api/v2/nfts/batch") == ["/api/v2/nfts/batch"]
    assert [p for p in calls.requests(page_call) if "/contract/" in p] == []


async def test_the_detail_batch_is_the_first_call_of_its_wave() -> None:
    # The largest answer of the wave goes out first, ahead of the collection batch and the
    # floors OpenSea alone must ask collection by collection.
    sandbox = build_sandbox(spread_world())
    for name in ("alchemy", "moralis"):
        sandbox.faults(name).status = 503  # OpenSea alone: no list call brings a floor
    settings = sandbox_settings(chains=[Chain.ETHEREUM], retry_max=0)
    async with gateway(sandbox, settings) as (http, calls):
        answer = await first_page(http)
    wave = calls.requests(page_call)
    assert wave[0] == "/api/v2/nfts/batch"
    assert len([p for p in wave if p.endswith("/stats")]) == COLLECTIONS
    assets = answer["assets"]
    assert isinstance(assets, list) and len(assets) == PAGE
