"""GraphQL ``extensions``: how each provider did, on every answer listing NFTs or DIDs.

A client that selects no ``providers`` field still learns which provider failed and why,
and whether (and how old) a stale snapshot was served. The reports are gathered per
request without per-field hooks, so the compiled projection keeps running.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

import gateway.schema.fastpath.compiled as compiled
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import DID_WALLET, SMALL_WALLET, WHALE_WALLET
from tests.conftest import gateway_client, sandbox_settings

FAST: dict[str, Any] = {
    "provider_deadline": 1.0,
    "retry_backoff_base": 0.01,
    "retry_backoff_cap": 0.02,
}
NFTS_ONLY = """query ($a: String!) { wallet(address: $a) { nfts(size: 5) {
  total assets { nft { tokenId name } } } } }"""


def gateway(sandbox: Sandbox, **overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return gateway_client(sandbox, sandbox_settings(**{**FAST, **overrides}))


async def graphql(http: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_provider(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["provider"]: entry for entry in body["extensions"]["providers"]}


async def test_a_page_without_providers_selected_still_reports_them() -> None:
    async with gateway(build_sandbox()) as http:
        body = await graphql(http, NFTS_ONLY, a=SMALL_WALLET)

    assert body["data"]["wallet"]["nfts"]["total"] > 0
    cost = body["extensions"].pop("cost")  # what the answer cost upstream
    assert set(cost["upstreamCalls"]) == {"opensea", "alchemy", "moralis"}
    assert body["extensions"] == {
        "providers": [
            {
                "provider": name,
                "status": "ok",
                "errorKind": None,
                "errorMessage": None,
                "failedChains": [],
            }
            for name in ("opensea", "alchemy", "moralis")
        ],
        "stale": False,
    }


async def test_a_failing_provider_is_named_with_its_reason() -> None:
    sandbox = build_sandbox()
    sandbox.faults("opensea").status = 503
    async with gateway(sandbox) as http:
        body = await graphql(http, NFTS_ONLY, a=SMALL_WALLET)

    assert body["data"]["wallet"]["nfts"]["assets"]  # alchemy's NFTs
    providers = by_provider(body)
    assert providers["opensea"]["status"] == "failed"
    assert providers["opensea"]["errorKind"] == "unavailable"
    assert providers["opensea"]["failedChains"]
    assert providers["alchemy"]["status"] == "ok"


async def test_nfts_and_dids_in_one_answer_report_every_provider() -> None:
    sandbox = build_sandbox()
    sandbox.faults("nextid").fail_next(500, times=10)
    query = """query ($a: String!) { wallet(address: $a) {
      nfts(size: 2) { total } dids { total } } }"""
    async with gateway(sandbox) as http:
        body = await graphql(http, query, a=DID_WALLET)

    statuses = {name: entry["status"] for name, entry in by_provider(body).items()}
    assert statuses == {
        "opensea": "ok",
        "alchemy": "ok",
        "moralis": "ok",
        "dotbit": "ok",
        "nextid": "failed",
        "nametag": "ok",
    }


async def test_one_provider_failing_for_one_of_two_wallets_is_partial() -> None:
    sandbox = build_sandbox()
    faults = sandbox.faults("opensea")
    faults.status, faults.path_filter = 503, f"/account/{WHALE_WALLET}/"
    query = """query ($a: String!, $b: String!) {
      a: wallet(address: $a) { nfts(size: 2) { total } }
      b: wallet(address: $b) { nfts(size: 2) { total } } }"""
    async with gateway(sandbox) as http:
        body = await graphql(http, query, a=SMALL_WALLET, b=WHALE_WALLET)

    opensea = by_provider(body)["opensea"]
    assert opensea["status"] == "partial"
    # Five chains failing also open the breaker: whichever failure came first is named (on a
    # loaded machine the 1 s provider deadline can come first, with the 503s' retries).
    assert opensea["errorKind"] in ("unavailable", "circuit_open", "timeout")
    assert by_provider(body)["alchemy"]["status"] == "ok"


async def test_a_stale_snapshot_is_flagged_with_its_age_for_wallets_and_identities() -> None:
    sandbox = build_sandbox()
    identity_query = """{ identity(name: "alice.bit") { nfts(size: 3) {
      total stale staleAgeSeconds } } }"""
    async with gateway(sandbox, snapshot_ttl=1) as http:
        await graphql(http, NFTS_ONLY, a=SMALL_WALLET)
        await graphql(http, identity_query)  # reads every linked wallet whole
        await asyncio.sleep(1.2)  # the snapshots are no longer fresh; the stale copies stay
        for name in ("opensea", "alchemy", "moralis"):
            sandbox.faults(name).status = 503
        wallet = await graphql(http, NFTS_ONLY, a=SMALL_WALLET)
        identity = await graphql(http, identity_query)

    for body in (wallet, identity):
        assert body["extensions"]["stale"] is True
        assert body["extensions"]["staleAgeSeconds"] >= 1
    page = identity["data"]["identity"]["nfts"]
    assert page["stale"] is True and page["staleAgeSeconds"] >= 1 and page["total"] > 0


async def test_an_answer_listing_no_nfts_or_dids_has_no_extensions() -> None:
    async with gateway(build_sandbox()) as http:
        body = await graphql(
            http, "query ($a: String!) { wallet(address: $a) { address } }", a=SMALL_WALLET
        )
    assert "extensions" not in body


async def test_a_failed_field_keeps_the_reports_of_the_others() -> None:
    sandbox = build_sandbox()
    for name in ("dotbit", "nextid", "nametag"):
        sandbox.faults(name).status = 503
    query = """query ($a: String!) { wallet(address: $a) {
      nfts(size: 2) { total } dids { total } } }"""
    async with gateway(sandbox, retry_max=0) as http:
        body = await graphql(http, query, a=DID_WALLET)

    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert set(by_provider(body)) == {"opensea", "alchemy", "moralis"}


async def test_the_compiled_projection_still_serves_the_http_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled_now: list[object] = []
    original = compiled.compile_projector

    def counting(*args: Any, **kwargs: Any) -> compiled.Projector:
        projector = original(*args, **kwargs)
        compiled_now.append(projector)
        return projector

    monkeypatch.setattr(compiled, "compile_projector", counting)
    # A document text of its own: parsed (and so compiled) afresh by this test.
    query = NFTS_ONLY.replace("tokenId name", "tokenId name extensionsProbe: name")
    async with gateway(build_sandbox()) as http:
        body = await graphql(http, query, a=SMALL_WALLET)

    assert compiled_now, "no plain subtree was projected"
    assert body["extensions"]["providers"]
    assert all(
        a["nft"]["extensionsProbe"] == a["nft"]["name"]
        for a in body["data"]["wallet"]["nfts"]["assets"]
    )
