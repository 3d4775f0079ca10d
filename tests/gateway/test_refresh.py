"""``refreshNft``: each upstream's refresh route once, the cached detail dropped, limited
per client, refused over GET."""

from __future__ import annotations

from typing import Any

import httpx

from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import TRIO_WALLET, world
from tests.conftest import gateway_client, sandbox_settings

MUTATION = """
mutation ($chain: Chain!, $contract: String!, $id: String!) {
  refreshNft(chain: $chain, contract: $contract, tokenId: $id) {
    chain contractAddress tokenId droppedDetails
    providers { provider status errorKind }
  }
}
"""
# The path each emulator sees for its refresh route (and nothing else).
REFRESH_PATHS = {
    "opensea": "/refresh",
    "alchemy": "/getNFTMetadata",
    "moralis": "/metadata/resync",
}


def owl() -> dict[str, str]:
    owls = world().collection_by_slug("night-owls")
    assert owls is not None
    return {"chain": "ETHEREUM", "contract": owls.contract, "id": "11"}


async def refresh(http: httpx.AsyncClient, variables: dict[str, str]) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": MUTATION, "variables": variables})
    body: dict[str, Any] = response.json()
    return body


def counting_refreshes() -> Sandbox:
    sandbox = build_sandbox()
    for name, path in REFRESH_PATHS.items():
        sandbox.faults(name).path_filter = path
    return sandbox


async def test_the_mutation_reaches_each_upstream_refresh_route_once() -> None:
    sandbox = counting_refreshes()
    async with gateway_client(sandbox, sandbox_settings()) as http:
        body = await refresh(http, owl())
    assert "errors" not in body, body
    answer = body["data"]["refreshNft"]
    assert answer["tokenId"] == "11" and answer["chain"] == "ETHEREUM"
    assert {p["provider"]: p["status"] for p in answer["providers"]} == {
        "opensea": "ok",
        "alchemy": "ok",
        "moralis": "ok",
    }
    assert {name: sandbox.faults(name).calls for name in REFRESH_PATHS} == dict.fromkeys(
        REFRESH_PATHS, 1
    )


async def test_the_cached_detail_is_dropped_and_read_again() -> None:
    sandbox = build_sandbox()
    details = sandbox.faults("opensea")
    details.path_filter = "/nfts/"  # get-NFT detail calls (and the refresh route)
    page = {"wallet_address": TRIO_WALLET, "page": 1, "size": 10}
    async with gateway_client(sandbox, sandbox_settings()) as http:
        await http.post("/users/u1/nfts", json=page)
        await http.post("/users/u1/nfts", json=page)
        before = details.calls  # the second page came from the caches
        body = await refresh(http, owl())
        refreshed = details.calls - before
        await http.post("/users/u1/nfts", json=page)
        reread = details.calls - before - refreshed
    assert body["data"]["refreshNft"]["droppedDetails"] >= 1
    assert refreshed == 1  # the refresh route itself
    assert reread >= 1  # the owl's detail was asked for again


async def test_a_failing_provider_costs_its_own_refresh_only() -> None:
    sandbox = build_sandbox()
    sandbox.faults("moralis").status = 500
    async with gateway_client(sandbox, sandbox_settings(retry_max=0)) as http:
        body = await refresh(http, owl())
    statuses = {p["provider"]: p["status"] for p in body["data"]["refreshNft"]["providers"]}
    assert statuses == {"opensea": "ok", "alchemy": "ok", "moralis": "failed"}


async def test_it_is_limited_per_client() -> None:
    sandbox = build_sandbox()
    settings = sandbox_settings(refresh_burst=2, refresh_per_minute=1)
    async with gateway_client(sandbox, settings) as http:
        answers = [await refresh(http, owl()) for _ in range(3)]
        other = await http.post(
            "/graphql",
            json={"query": MUTATION, "variables": owl()},
            headers={"X-API-Key": "another-client"},
        )
    assert all("errors" not in a for a in answers[:2])
    (error,) = answers[2]["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "errors" not in other.json()  # another client has a bucket of its own


async def test_it_is_refused_over_get_and_on_bad_input(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": MUTATION, "variables": '{"chain":"ETHEREUM","contract":"0x1","id":"1"}'},
    )
    assert response.status_code == 405
    bad = await refresh(client, {"chain": "ETHEREUM", "contract": "0x12", "id": "1"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_ADDRESS"
    contract = "0x" + "1" * 40
    bad_id = await refresh(client, {"chain": "ETHEREUM", "contract": contract, "id": "-1"})
    assert bad_id["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
