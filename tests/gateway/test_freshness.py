"""Answers as fresh as the client asks: ``maxAge`` / ``max_age`` re-walk an older cached
walk, and every page says when its providers were read (``fetchedAt`` / ``fetched_at``)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.conftest import gateway_client, sandbox_settings

LIST_PATH = "/account/"  # OpenSea's list-by-account calls, one per chain per walk

WALLET_QUERY = """
query ($a: String!, $age: Int) {
  wallet(address: $a, maxAge: $age) {
    nfts(size: 3) { total fetchedAt }
    nftConnection(first: 3) { totalCount fetchedAt }
  }
}
"""
IDENTITY_QUERY = """
query ($age: Int) {
  identity(name: "alice.bit", maxAge: $age) { nfts(size: 3) { total fetchedAt } }
}
"""


def counting_lists() -> Sandbox:
    sandbox = build_sandbox()
    sandbox.faults("opensea").path_filter = LIST_PATH
    return sandbox


async def rest(http: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    body = {"wallet_address": SMALL_WALLET, "page": 1, "size": 5, **extra}
    response = await http.post("/users/u1/nfts", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def graphql(http: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_max_age_zero_rewalks_and_fetched_at_moves() -> None:
    sandbox = counting_lists()
    lists = sandbox.faults("opensea")
    async with gateway_client(sandbox, sandbox_settings()) as http:
        first = await rest(http)
        walked = lists.calls
        cached = await rest(http)  # no max_age: the cached walk serves
        await asyncio.sleep(0.01)
        fresh = await rest(http, max_age=0)
        roomy = await rest(http, max_age=3600)  # the fresh walk is young enough
    assert walked > 0
    assert cached["fetched_at"] == first["fetched_at"]
    assert fresh["fetched_at"] > first["fetched_at"]  # ISO 8601 UTC sorts as time does
    assert lists.calls == 2 * walked  # one more walk, for max_age=0 only
    assert roomy["fetched_at"] == fresh["fetched_at"]
    assert [a["nft"]["token_id"] for a in fresh["assets"]] == [
        a["nft"]["token_id"] for a in first["assets"]
    ]


async def test_graphql_max_age_on_wallets_and_identities(client: httpx.AsyncClient) -> None:
    first = await graphql(client, WALLET_QUERY, a=SMALL_WALLET)
    again = await graphql(client, WALLET_QUERY, a=SMALL_WALLET, age=3600)
    await asyncio.sleep(0.01)
    fresh = await graphql(client, WALLET_QUERY, a=SMALL_WALLET, age=0)
    page, connection = first["wallet"]["nfts"], first["wallet"]["nftConnection"]
    assert page["fetchedAt"] == connection["fetchedAt"] == again["wallet"]["nfts"]["fetchedAt"]
    assert fresh["wallet"]["nfts"]["fetchedAt"] > page["fetchedAt"]
    assert fresh["wallet"]["nfts"]["total"] == page["total"]

    identity = await graphql(client, IDENTITY_QUERY)
    await asyncio.sleep(0.01)
    rewalked = await graphql(client, IDENTITY_QUERY, age=0)
    when = identity["identity"]["nfts"]["fetchedAt"]
    assert when is not None and rewalked["identity"]["nfts"]["fetchedAt"] > when


@pytest.mark.parametrize("age", [-1, "soon", 10**12, True])
async def test_a_bad_max_age_is_a_422_with_its_code(client: httpx.AsyncClient, age: Any) -> None:
    response = await client.post(
        "/users/u1/nfts",
        json={"wallet_address": SMALL_WALLET, "page": 1, "size": 5, "max_age": age},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_MAX_AGE"


async def test_a_negative_max_age_in_graphql_says_its_code(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": WALLET_QUERY, "variables": {"a": SMALL_WALLET, "age": -5}}
    )
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == "INVALID_MAX_AGE"
