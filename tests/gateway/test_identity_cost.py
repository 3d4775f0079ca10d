"""Every answer that calls upstreams says what it cost: names, DIDs, identity unions.

REST ``X-NFTGW-Upstream-Calls`` and GraphQL ``extensions.cost.upstreamCalls`` summed over a
run equal what the sandbox emulators counted (their own ``calls``), whatever mix of cold,
warm and concurrent requests made them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from providers.models import Chain
from providers.sandbox import HOSTS, Sandbox, build_sandbox
from providers.sandbox.world import DID_WALLET, SMALL_WALLET
from tests.conftest import gateway_client, sandbox_settings

IDENTITY_NFTS = """query ($n: String!) { identity(name: $n) {
  wallets { address } nfts(size: 5) { total assets { nft { tokenId } } } } }"""
IDENTITY_WALLETS = "query ($n: String!) { identity(name: $n) { wallets { address } } }"
WALLETS_NFTS = """query ($a: [String!]!) { wallets(addresses: $a) {
  addresses nfts(size: 5) { total } } }"""
WALLET_DIDS = "query ($a: String!) { wallet(address: $a) { dids { total } } }"


def header_cost(response: httpx.Response) -> Counter[str]:
    assert response.status_code == 200, response.text
    header = response.headers["x-nftgw-upstream-calls"]
    if header == "0":
        return Counter()
    return Counter({k: int(v) for k, v in (part.split("=") for part in header.split(", "))})


def graphql_cost(response: httpx.Response) -> Counter[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return Counter(body["extensions"]["cost"]["upstreamCalls"])


def upstream_counts(sandbox: Sandbox) -> Counter[str]:
    return Counter({name: sandbox.faults(name).calls for name in HOSTS}) + Counter()


async def rest(http: httpx.AsyncClient, route: str, **body: Any) -> httpx.Response:
    return await http.post(f"/users/u1/{route}", json=body)


async def graphql(http: httpx.AsyncClient, query: str, **variables: Any) -> httpx.Response:
    return await http.post("/graphql", json={"query": query, "variables": variables})


async def test_rest_name_and_did_answers_say_what_the_upstreams_counted() -> None:
    sandbox = build_sandbox()
    async with gateway_client(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as http:
        cold_nfts = await rest(http, "nfts", wallet_address="alice.bit", page=1, size=5)
        cold_dids = await asyncio.gather(
            *(rest(http, "dids", wallet_address="alice.bit") for _ in range(3))
        )
        later = [
            await rest(http, "nfts", wallet_address="alice.bit", page=2, size=5),
            await rest(http, "dids", wallet_address=DID_WALLET),
        ]
        warm = [
            await rest(http, "nfts", wallet_address="alice.bit", page=1, size=5),
            await rest(http, "dids", wallet_address="alice.bit"),
        ]
    costs = [header_cost(r) for r in [cold_nfts, *cold_dids, *later, *warm]]
    assert sum(costs, Counter()) == upstream_counts(sandbox)
    assert header_cost(cold_nfts)["dotbit"] >= 1  # the name was resolved for it
    assert header_cost(cold_nfts)["opensea"] >= 1  # and its wallets walked
    assert {src for r in cold_dids for src in header_cost(r)} >= {"dotbit", "nextid", "nametag"}
    assert all(header_cost(r) == Counter() for r in warm)  # served warm: free
    assert warm[1].headers["x-nftgw-upstream-calls"] == "0"


async def test_graphql_identity_wallets_and_dids_say_what_the_upstreams_counted() -> None:
    sandbox = build_sandbox()
    async with gateway_client(sandbox, sandbox_settings(chains=[Chain.ETHEREUM])) as http:
        answers = [
            await graphql(http, IDENTITY_WALLETS, n="alice.bit"),
            *await asyncio.gather(
                graphql(http, IDENTITY_NFTS, n="twitter:alice_nft"),
                graphql(http, IDENTITY_NFTS, n="twitter:alice_nft"),
            ),
            await graphql(http, WALLETS_NFTS, a=[SMALL_WALLET, "alice.bit"]),
            await graphql(http, WALLET_DIDS, a=DID_WALLET),
        ]
        warm = [
            await graphql(http, IDENTITY_WALLETS, n="alice.bit"),
            await graphql(http, IDENTITY_NFTS, n="twitter:alice_nft"),
            await graphql(http, WALLET_DIDS, a=DID_WALLET),
        ]
    costs = [graphql_cost(r) for r in [*answers, *warm]]
    assert sum(costs, Counter()) == upstream_counts(sandbox)
    assert set(graphql_cost(answers[0])) == {"dotbit"}  # the name's records, alone
    assert {"nextid", "opensea"} <= set(graphql_cost(answers[1]) + graphql_cost(answers[2]))
    assert set(graphql_cost(answers[4])) >= {"dotbit", "nextid", "nametag"}
    assert all(graphql_cost(r) == Counter() for r in warm)
