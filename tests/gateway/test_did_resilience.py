"""DID sources and name resolvers behind the same guards as the NFT providers.

Each test breaks one DID emulator through its FaultSwitches and checks what a user sees:
the other sources' DIDs intact, the failing source named with its reason (REST header and
``providers``; GraphQL ``providers`` and ``extensions``), and the guard's budgets at work
(retries absorb a burst, a long ``Retry-After`` starts a cool-down, a breaker opens, a
bulkhead sheds load), counted by the emulator's own call counter.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import DID_WALLET, SMALL_WALLET, WHALE_WALLET
from tests.conftest import gateway_client, sandbox_settings

# Budgets shrunk so that every fault plays out well within a second.
FAST: dict[str, Any] = {
    "provider_deadline": 0.5,
    "retry_backoff_base": 0.01,
    "retry_backoff_cap": 0.02,
}
PAGE = {"page": 1, "size": 5}
DIDS_QUERY = """query ($a: String!) { wallet(address: $a) { dids {
  dids { type } providers { provider status errorKind } } } }"""


def gateway(sandbox: Sandbox, **overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return gateway_client(sandbox, sandbox_settings(**{**FAST, **overrides}))


async def dids(http: httpx.AsyncClient, wallet: str = DID_WALLET) -> httpx.Response:
    response = await http.post("/users/u1/dids", json={"wallet_address": wallet})
    assert response.status_code == 200, response.text
    return response


def statuses(response: httpx.Response) -> dict[str, str]:
    """``{"dotbit": "ok", "nextid": "failed:rate_limited", ...}`` from the header."""
    header = response.headers["x-nftgw-providers"]
    return dict(part.split("=", 1) for part in header.split(", "))


def types(response: httpx.Response) -> set[str]:
    return {did["type"] for did in response.json()["dids"]}


async def test_a_429_with_a_short_retry_after_is_waited_out() -> None:
    sandbox = build_sandbox()
    nametag = sandbox.faults("nametag")
    nametag.fail_next(429, headers={"Retry-After": "0"})
    async with gateway(sandbox) as http:
        response = await dids(http)
    assert statuses(response) == {"dotbit": "ok", "nextid": "ok", "nametag": "ok"}
    assert nametag.calls == 2  # the 429, then the retry
    assert types(response) == {"dotbit", "nextid", "nametag"}


async def test_a_429_past_the_deadline_cools_the_source_down_and_says_so() -> None:
    sandbox = build_sandbox()
    nametag = sandbox.faults("nametag")
    nametag.status, nametag.retry_after = 429, "120"
    async with gateway(sandbox) as http:
        first = await dids(http)
        asked = nametag.calls
        second = await dids(http, SMALL_WALLET)  # another wallet: nothing cached for it
        metrics = (await http.get("/metrics")).text

    assert asked == 1  # a wait past the deadline is not worth a retry
    assert statuses(first) == {"dotbit": "ok", "nextid": "ok", "nametag": "failed:rate_limited"}
    assert types(first) == {"dotbit", "nextid"}
    # The cool-down: no call at all until it ends, and the answer still says why.
    assert nametag.calls == asked
    assert statuses(second)["nametag"] == "failed:rate_limited"
    assert 'provider="nametag"' in metrics and 'outcome="cooling_down"' in metrics


async def test_a_503_burst_is_retried_away() -> None:
    sandbox = build_sandbox()
    nextid = sandbox.faults("nextid")
    nextid.status, nextid.status_count = 503, 2
    async with gateway(sandbox) as http:
        response = await dids(http)
    assert statuses(response)["nextid"] == "ok"
    assert nextid.calls == 3
    assert "nextid" in types(response)


async def test_sustained_503s_open_the_breaker_and_the_others_answer() -> None:
    sandbox = build_sandbox()
    nextid = sandbox.faults("nextid")
    nextid.status = 503
    async with gateway(sandbox, breaker_min_calls=3) as http:
        first = await dids(http)  # three failed attempts: the breaker opens
        asked = nextid.calls
        second = await dids(http, SMALL_WALLET)

    assert asked == 3
    assert statuses(first) == {"dotbit": "ok", "nextid": "failed:unavailable", "nametag": "ok"}
    assert nextid.calls == asked  # an open breaker makes no call
    assert statuses(second)["nextid"] == "failed:circuit_open"
    assert statuses(second)["dotbit"] == "ok"


async def test_a_source_past_its_deadline_is_a_timeout_in_graphql_too() -> None:
    sandbox = build_sandbox()
    sandbox.faults("dotbit").latency = 2.0
    async with gateway(sandbox, provider_deadline=0.2, retry_max=0) as http:
        body = (
            await http.post("/graphql", json={"query": DIDS_QUERY, "variables": {"a": DID_WALLET}})
        ).json()

    answer = body["data"]["wallet"]["dids"]
    assert {did["type"] for did in answer["dids"]} == {"NEXTID", "NAMETAG"}
    in_schema = {p["provider"]: (p["status"], p["errorKind"]) for p in answer["providers"]}
    assert in_schema["dotbit"] == ("failed", "timeout")
    in_extensions = {p["provider"]: p for p in body["extensions"]["providers"]}
    assert in_extensions["dotbit"]["status"] == "failed"
    assert in_extensions["dotbit"]["errorKind"] == "timeout"
    assert in_extensions["nextid"]["status"] == "ok"


async def test_a_busy_provider_queues_calls_instead_of_refusing_them() -> None:
    sandbox = build_sandbox()
    sandbox.faults("nametag").latency = 0.1
    async with gateway(sandbox, bulkhead_max_in_flight=1, provider_deadline=5) as http:
        answers = await asyncio.gather(
            dids(http), dids(http, SMALL_WALLET), dids(http, WHALE_WALLET)
        )

    assert [statuses(response)["nametag"] for response in answers] == ["ok"] * 3


async def test_the_dotbit_resolver_shares_the_dotbit_breaker() -> None:
    sandbox = build_sandbox()
    sandbox.faults("dotbit").status = 503
    async with gateway(sandbox, breaker_min_calls=3, retry_max=0) as http:
        for _ in range(3):  # three failures of the DID source (one call each)
            await dids(http)
        asked = sandbox.faults("dotbit").calls
        named = await http.post("/users/u1/nfts", json={"wallet_address": "alice.bit"} | PAGE)

    assert named.status_code == 503
    assert named.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert "circuit_open" in named.json()["error"]["message"]
    assert sandbox.faults("dotbit").calls == asked


async def test_every_did_source_down_is_a_503_that_names_each_source() -> None:
    sandbox = build_sandbox()
    for name in ("dotbit", "nextid", "nametag"):
        sandbox.faults(name).status = 503
    async with gateway(sandbox) as http:
        response = await http.post("/users/u1/dids", json={"wallet_address": DID_WALLET})
    assert response.status_code == 503
    assert [p["provider"] for p in response.json()["providers"]] == ["dotbit", "nextid", "nametag"]
    assert statuses(response) == {
        name: "failed:unavailable" for name in ("dotbit", "nextid", "nametag")
    }
