"""Living within upstream quotas, end to end on the sandbox: queues instead of refusals,
batch calls, budgets under a tight quota, and what every answer says it cost.

No timing assertions: outcomes are counted (statuses, NFTs, the emulators' own counters).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import httpx

from gateway.cache.shared import BoundedMemoryCache, SharedCache
from gateway.nfts.walks import WalkRegistry
from gateway.resilience import GuardPolicy, ProviderGuards
from providers import build_providers
from providers.models import Chain, TokenStandard
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import (
    SMALL_WALLET,
    WHALE_WALLET,
    SandboxCollection,
    World,
    plain_nft,
)
from tests.conftest import gateway_client, sandbox_settings

NFT_PROVIDERS = ("opensea", "alchemy", "moralis")
APES = SandboxCollection(
    Chain.ETHEREUM, "0x" + "a1" * 20, "quota-apes", "Quota Apes", TokenStandard.ERC721, 10_000
)


def wallet(n: int) -> str:
    return "0x" + f"{n + 1:040x}"


def many_wallets(count: int, per_wallet: int) -> World:
    """``count`` wallets of ``per_wallet`` ranked ERC-721s each, on Ethereum."""
    data = World()
    data.add_collection(APES)
    for w in range(count):
        for i in range(per_wallet):
            data.add_nft(plain_nft(APES, w * per_wallet + i + 1, {wallet(w): 1}))
    return data.finish()


async def page(http: httpx.AsyncClient, owner: str, number: int, size: int) -> httpx.Response:
    body = {"wallet_address": owner, "page": number, "size": size}
    return await http.post("/users/u1/nfts", json=body)


def statuses(response: httpx.Response) -> dict[str, str]:
    header = response.headers["x-nftgw-providers"]
    return dict(part.split("=", 1) for part in header.split(", "))


def cost(response: httpx.Response) -> Counter[str]:
    header = response.headers["x-nftgw-upstream-calls"]
    if header == "0":
        return Counter()
    return Counter({k: int(v) for k, v in (part.split("=") for part in header.split(", "))})


def upstream_counts(sandbox: Sandbox) -> Counter[str]:
    return Counter({name: sandbox.faults(name).calls for name in NFT_PROVIDERS})


async def test_a_hundred_cold_wallets_at_once_are_all_served_by_every_provider() -> None:
    sandbox = build_sandbox(many_wallets(100, 3))
    for name in NFT_PROVIDERS:
        sandbox.faults(name).latency = 0.05
    async with gateway_client(sandbox, sandbox_settings()) as http:
        answers = await asyncio.gather(*(page(http, wallet(w), 1, 20) for w in range(100)))
    outcomes = Counter((a.status_code, tuple(sorted(set(statuses(a).values())))) for a in answers)
    assert outcomes == {(200, ("ok",)): 100}


async def test_summed_cost_headers_equal_what_the_upstreams_counted() -> None:
    sandbox = build_sandbox(many_wallets(4, 45))
    spent: Counter[str] = Counter()
    async with gateway_client(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as http:
        cold = await asyncio.gather(*(page(http, wallet(w), 1, 20) for w in range(4)))
        again = await asyncio.gather(*(page(http, wallet(w), 1, 20) for w in range(4)))
        later = [await page(http, wallet(w), n, 20) for w in range(4) for n in (2, 3)]
        for answer in [*cold, *again, *later]:
            assert answer.status_code == 200
            spent += cost(answer)
    assert all(cost(a) == Counter() for a in again)  # served warm: free
    assert spent == upstream_counts(sandbox)
    assert spent["opensea"] > 0


async def test_a_big_wallet_costs_at_most_one_opensea_read_per_ten_nfts() -> None:
    sandbox = build_sandbox()
    nfts = 0
    async with gateway_client(sandbox, sandbox_settings()) as http:
        number = 1
        while True:
            answer = await page(http, WHALE_WALLET, number, 50)
            assert answer.status_code == 200
            body: dict[str, Any] = answer.json()
            assert set(statuses(answer).values()) == {"ok"}
            assets = body["assets"]
            nfts += len(assets)
            # Every page complete: traits and ranks where OpenSea ranks, quantities.
            assert all(a["nft"]["traits"] is not None and a["quantity"] for a in assets)
            if number * 50 >= body["total"]:
                break
            number += 1
    assert nfts >= 2000
    assert sandbox.faults("opensea").calls * 10 <= nfts


async def test_thirty_wallets_under_120_reads_a_minute_lose_nothing() -> None:
    sandbox = build_sandbox(many_wallets(30, 40))
    opensea = sandbox.faults("opensea")
    opensea.quota_limit, opensea.quota_window = 120, 60
    settings = sandbox_settings(chains=[Chain.ETHEREUM], opensea_rate="120/min")
    async with gateway_client(sandbox, settings) as http:

        async def walk(w: int) -> list[httpx.Response]:
            return [await page(http, wallet(w), n, 10) for n in (1, 2, 3, 4)]

        answers = await asyncio.gather(*(walk(w) for w in range(30)))

    for w, pages in enumerate(answers):
        assert [p.status_code for p in pages] == [200] * 4
        seen = {a["nft"]["token_id"] for p in pages for a in p.json()["assets"]}
        assert seen == {str(w * 40 + i + 1) for i in range(40)}  # nothing lost
        for p in pages:  # a page is complete, or says the budget is why it is not
            assert statuses(p)["opensea"] in ("ok", "partial:budget")
    # More reads were wanted than the quota allows, yet at most one 429 reached OpenSea.
    budget = sum(statuses(p)["opensea"] == "partial:budget" for pages in answers for p in pages)
    assert budget > 0 and opensea.calls <= 121
    assert opensea.throttled <= 1


async def test_walks_kept_in_process_stay_within_their_byte_budget() -> None:
    sandbox = build_sandbox(many_wallets(3, 20))
    # Room for about 30 holdings: a second wallet of 20 pushes the first one out.
    settings = sandbox_settings(chains=[Chain.ETHEREUM], walk_cache_bytes=60 * 1024)
    chains = (Chain.ETHEREUM,)
    cache = SharedCache(BoundedMemoryCache())
    async with httpx.AsyncClient(transport=sandbox.transport()) as client:
        sources = build_providers(settings.upstreams(), client).nft_sources
        guards = ProviderGuards(GuardPolicy.from_settings(settings))
        registry = WalkRegistry(sources, cache, settings, guards)
        try:
            for w in range(3):
                walk = await registry.walk_for(wallet(w), chains)
                async with asyncio.timeout(5):
                    while not walk.complete:
                        await asyncio.sleep(0.01)
            kept = [registry.known(wallet(w), chains) is not None for w in range(3)]
        finally:
            await registry.aclose()
            await cache.close()
    assert kept == [False, True, True]  # 40 holdings did not fit: the oldest walk went


async def test_any_chain_list_is_a_view_of_one_walk() -> None:
    rng = random.Random(11)
    names = ["ETHEREUM", "POLYGON", "BASE", "ARBITRUM", "OPTIMISM"]
    lists = [[rng.choice(names) for _ in range(rng.randint(1, 8))] for _ in range(60)]
    query = """query ($a: String!, $c: [Chain!]) {
      wallet(address: $a) { nfts(size: 5, chains: $c) { total assets { nft { tokenId } } } } }"""
    one = build_sandbox()
    async with gateway_client(one, sandbox_settings()) as http:
        await http.post("/graphql", json={"query": query, "variables": {"a": SMALL_WALLET}})
    walk_cost = upstream_counts(one)

    many = build_sandbox()
    async with gateway_client(many, sandbox_settings()) as http:
        for chains in lists:
            variables = {"a": SMALL_WALLET, "c": chains}
            answer = await http.post("/graphql", json={"query": query, "variables": variables})
            assert answer.status_code == 200 and "errors" not in answer.json()
    assert upstream_counts(many) == walk_cost  # 60 spellings, one walk
