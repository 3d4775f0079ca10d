"""Every fault in RELIABILITY.md's "what the gateway must survive" list, end to end.

Each test injects a fault through an emulator's FaultSwitches and checks what a user sees:
an answer (never a 500 or a traceback), the failing provider named with a reason, the
healthy provider's data intact, and nothing broken left in the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.faults import FaultSwitches
from providers.sandbox.world import SMALL_WALLET, WHALE_WALLET
from tests.conftest import sandbox_settings

# Budgets shrunk so that every fault plays out in well under a second or two.
FAST: dict[str, Any] = {
    "provider_deadline": 1.0,
    "request_deadline": 4.0,
    "exact_total_wait": 3.0,
    "retry_backoff_base": 0.01,
    "retry_backoff_cap": 0.02,
    "singleflight_wait": 1.0,
}
BODY = {"wallet_address": SMALL_WALLET, "page": 1, "size": 20}
TRACEBACK_MARKERS = ("Traceback", 'File "', "httpx.", "sandbox-key")


@asynccontextmanager
async def gateway(sandbox: Sandbox, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = sandbox_settings(**{**FAST, **overrides})
    app = create_app(settings, transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


async def nfts(http: httpx.AsyncClient, body: dict[str, Any] = BODY) -> httpx.Response:
    response = await http.post("/users/u1/nfts", json=body)
    assert response.status_code != 500
    assert not any(marker in response.text for marker in TRACEBACK_MARKERS)
    return response


def statuses(response: httpx.Response) -> dict[str, str]:
    """``{"opensea": "failed:timeout", "alchemy": "ok"}`` from the providers header."""
    header = response.headers["x-nftgw-providers"]
    return dict(part.split("=", 1) for part in header.split(", "))


def keys(response: httpx.Response) -> list[tuple[str, str, str]]:
    return [
        (a["nft"]["blockchain"], a["nft"]["contract_address"], a["nft"]["token_id"])
        for a in response.json()["assets"]
    ]


@pytest.fixture
async def healthy_keys() -> list[tuple[str, str, str]]:
    async with gateway(build_sandbox()) as http:
        return keys(await nfts(http))


def in_an_hour() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)


Setup = Callable[[FaultSwitches], None]


def switch(**values: Any) -> Setup:
    def apply(faults: FaultSwitches) -> None:
        for name, value in values.items():
            setattr(faults, name, value)

    return apply


# (fault, how to inject it into OpenSea, the kind the answer reports for OpenSea)
OPENSEA_FAULTS: list[tuple[str, Setup, str]] = [
    ("connect timeout", switch(connect_timeout=True), "failed:timeout"),
    ("connection refused", switch(refuse=True), "failed:unavailable"),
    ("read timeout", switch(latency=5.0), "failed:timeout"),
    ("slow drip", switch(drip=0.2, drip_chunk=16), "failed:timeout"),
    ("429 retry-after seconds", switch(status=429, retry_after="30"), "failed:rate_limited"),
    ("429 retry-after date", switch(status=429, retry_after=in_an_hour()), "failed:rate_limited"),
    ("429 without retry-after", switch(status=429), "failed:rate_limited"),
    ("429 huge retry-after", switch(status=429, retry_after="9" * 30), "failed:rate_limited"),
    ("429 x-ratelimit-reset", switch(status=429, ratelimit_reset="86400"), "failed:rate_limited"),
    ("sustained 503", switch(status=503), "failed:unavailable"),
    ("sustained 500", switch(status=500), "failed:unavailable"),
    ("reset mid-body", switch(connection_reset=True), "failed:unavailable"),
    ("malformed body", switch(body="malformed"), "failed:bad_data"),
    ("truncated body", switch(body="truncated"), "failed:bad_data"),
    ("deeply nested body", switch(body="deep"), "failed:bad_data"),
    ("oversized body", switch(body="huge"), "failed:bad_data"),
    ("HTML page", switch(body="html"), "failed:bad_data"),
    ("empty body", switch(body="empty"), "failed:bad_data"),
    ("JSON array body", switch(body="array"), "failed:bad_data"),
    (
        "HTML content type on an HTML page",
        switch(body="html", content_type="text/html"),
        "failed:bad_data",
    ),
    ("schema drift: list missing", switch(drift="missing"), "failed:bad_data"),
    ("schema drift: list mistyped", switch(drift="mistyped"), "failed:bad_data"),
    ("redirect", switch(redirect="http://elsewhere.invalid/"), "failed:unavailable"),
]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [(s, e) for _, s, e in OPENSEA_FAULTS],
    ids=[n for n, _, _ in OPENSEA_FAULTS],
)
async def test_one_failing_provider_costs_only_its_own_data(setup: Setup, expected: str) -> None:
    sandbox = build_sandbox()
    setup(sandbox.faults("opensea"))
    async with gateway(sandbox) as http:
        response = await nfts(http)
    assert response.status_code == 200
    status, kind = statuses(response)["opensea"].split(":")
    # "partial" when some calls got through (a drip on a tiny body finishes in time).
    assert (kind, statuses(response)["alchemy"]) == (expected.split(":")[1], "ok")
    assert status in ("failed", "partial")
    body = response.json()
    assert body["assets"] and body["stale"] is False
    report = next(p for p in body["providers"] if p["provider"] == "opensea")
    assert report["error"]["kind"] == kind and report["error"]["message"]


@pytest.mark.parametrize("fault", ["connection_reset", "status_503", "body_html", "latency"])
async def test_the_other_provider_failing_is_reported_the_same_way(fault: str) -> None:
    sandbox = build_sandbox()
    faults = sandbox.faults("alchemy")
    if fault == "status_503":
        faults.status = 503
    elif fault == "body_html":
        faults.body = "html"
    elif fault == "latency":
        faults.latency = 5.0
    else:
        faults.connection_reset = True
    async with gateway(sandbox) as http:
        response = await nfts(http)
    assert response.status_code == 200
    assert statuses(response)["alchemy"].startswith("failed:")
    assert statuses(response)["opensea"] == "ok"


async def test_a_5xx_burst_is_retried_away(healthy_keys: list[tuple[str, str, str]]) -> None:
    sandbox = build_sandbox()
    faults = sandbox.faults("opensea")
    faults.status, faults.status_count = 503, 2
    async with gateway(sandbox) as http:
        response = await nfts(http)
    assert statuses(response) == {"opensea": "ok", "alchemy": "ok", "moralis": "ok"}
    assert keys(response) == healthy_keys


async def test_a_short_retry_after_is_waited_out(healthy_keys: list[tuple[str, str, str]]) -> None:
    sandbox = build_sandbox()
    faults = sandbox.faults("opensea")
    faults.status, faults.status_count, faults.retry_after = 429, 1, "0"
    async with gateway(sandbox) as http:
        response = await nfts(http)
    assert statuses(response) == {"opensea": "ok", "alchemy": "ok", "moralis": "ok"}
    assert keys(response) == healthy_keys


async def test_a_cooldown_stops_calls_until_it_ends() -> None:
    sandbox = build_sandbox()
    faults = sandbox.faults("opensea")
    faults.status, faults.retry_after = 429, "120"
    async with gateway(sandbox) as http:
        await nfts(http)
        faults.status = 0  # healthy again, but it asked for two minutes
        seen = faults.calls
        other = {**BODY, "wallet_address": WHALE_WALLET}
        response = await nfts(http, other)
    assert faults.calls == seen  # not a single call while cooling down
    assert statuses(response)["opensea"] == "failed:rate_limited"


async def test_one_bad_item_among_good_ones_costs_only_that_item() -> None:
    sandbox = build_sandbox()
    sandbox.faults("opensea").drift = "bad_item"
    sandbox.faults("alchemy").drift = "bad_item"
    async with gateway(sandbox) as http:
        response = await nfts(http)
    assert response.status_code == 200
    assert response.json()["assets"]
    assert not any(s.startswith("failed") for s in statuses(response).values())


async def test_a_json_body_under_a_wrong_content_type_is_still_read(
    healthy_keys: list[tuple[str, str, str]],
) -> None:
    sandbox = build_sandbox()
    sandbox.faults("opensea").content_type = "text/plain"
    async with gateway(sandbox) as http:
        response = await nfts(http)
    assert statuses(response) == {"opensea": "ok", "alchemy": "ok", "moralis": "ok"}
    assert keys(response) == healthy_keys


async def test_a_looping_cursor_ends_the_walk() -> None:
    sandbox = build_sandbox()
    sandbox.faults("opensea").cursor_loop = True
    sandbox.faults("alchemy").cursor_loop = True
    async with gateway(sandbox) as http:
        response = await nfts(http, {**BODY, "wallet_address": WHALE_WALLET})
    assert response.status_code == 200
    body = response.json()
    assert body["assets"] and body["total"] < 2_400  # each stream read once, then stopped


async def test_an_expiring_cursor_costs_that_stream_only() -> None:
    sandbox = build_sandbox()
    sandbox.faults("alchemy").cursor_expire = True
    async with gateway(sandbox) as http:
        response = await nfts(http, {**BODY, "wallet_address": WHALE_WALLET})
    assert response.status_code == 200
    assert statuses(response) == {
        "opensea": "ok",
        "alchemy": "partial:cursor_expired",
        "moralis": "ok",
    }
    assert len(response.json()["assets"]) == 20


async def test_all_providers_down_cold_is_a_503_with_retry_after() -> None:
    sandbox = build_sandbox()
    sandbox.faults("opensea").status = 503
    sandbox.faults("alchemy").refuse = True
    sandbox.faults("moralis").status = 500
    async with gateway(sandbox) as http:
        response = await nfts(http)
        graphql = await http.post(
            "/graphql",
            json={"query": f'{{ wallet(address: "{SMALL_WALLET}") {{ nfts {{ total }} }} }}'},
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert int(response.headers["retry-after"]) > 0
    assert graphql.json()["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"


async def test_all_providers_down_warm_serves_the_stale_snapshot() -> None:
    sandbox = build_sandbox()
    async with gateway(sandbox, snapshot_ttl=1) as http:
        fresh = await nfts(http)
        await asyncio.sleep(1.2)  # the snapshot is no longer fresh; the stale copy stays
        sandbox.faults("opensea").status = 503
        sandbox.faults("alchemy").status = 503
        sandbox.faults("moralis").status = 503
        stale = await nfts(http)
        query = (
            f'{{ wallet(address: "{SMALL_WALLET}") {{ nfts(size: 20) {{ stale staleAgeSeconds '
            "assets { nft { tokenId } } } "
            "nftConnection(first: 5) { stale staleAgeSeconds totalCount } } }"
        )
        graphql = (await http.post("/graphql", json={"query": query})).json()
    assert stale.status_code == 200
    assert keys(stale) == keys(fresh)
    body = stale.json()
    assert body["stale"] is True and body["stale_age_seconds"] >= 1
    assert stale.headers["x-nftgw-stale"] == f"age={body['stale_age_seconds']}"
    assert statuses(stale) == {
        "opensea": "ok",
        "alchemy": "ok",
        "moralis": "ok",
    }  # as the snapshot was read
    page = graphql["data"]["wallet"]["nfts"]
    assert page["stale"] is True and page["staleAgeSeconds"] >= 1
    assert len(page["assets"]) == len(fresh.json()["assets"])
    assert graphql["data"]["wallet"]["nftConnection"]["stale"] is True


async def test_a_failed_detail_call_is_not_cached() -> None:
    sandbox = build_sandbox()
    faults = sandbox.faults("opensea")
    faults.path_filter, faults.body = "/nfts/batch", "html"  # detail calls only
    async with gateway(sandbox) as http:
        broken = await nfts(http)
        faults.body = None
        healed = await nfts(http)
    assert statuses(broken)["opensea"] == "partial:bad_data"
    assert statuses(healed)["opensea"] == "ok"
    traits = [a["nft"]["traits"] for a in healed.json()["assets"]]
    assert any(traits)


async def test_did_sources_down_leave_nfts_alone(healthy_keys: list[tuple[str, str, str]]) -> None:
    sandbox = build_sandbox()
    for name in sandbox.emulators:
        if name not in ("opensea", "alchemy", "moralis"):
            sandbox.faults(name).status = 503
    async with gateway(sandbox) as http:
        response = await nfts(http)
    assert statuses(response) == {"opensea": "ok", "alchemy": "ok", "moralis": "ok"}
    assert keys(response) == healthy_keys


async def test_a_tripped_breaker_answers_fast_from_the_healthy_provider() -> None:
    sandbox = build_sandbox()
    faults = sandbox.faults("opensea")
    faults.status = 500
    async with gateway(sandbox, breaker_min_calls=3, snapshot_ttl=1) as http:
        await nfts(http)  # five chains, five failures: the breaker opens
        seen = faults.calls
        response = await nfts(http, {**BODY, "wallet_address": WHALE_WALLET})
    assert faults.calls == seen
    assert statuses(response) == {
        "opensea": "failed:circuit_open",
        "alchemy": "ok",
        "moralis": "ok",
    }


# -- load ---------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_routes", [True, False], ids=["batch-routes", "documented-gets"])
async def test_identical_concurrent_misses_make_one_upstream_call_each(batch_routes: bool) -> None:
    # Without OpenSea's batch routes a page asks each NFT and each collection by its own
    # GET; those are shared by a burst too (each collection was asked once per request).
    baseline = build_sandbox()
    baseline.faults("opensea").batch_routes = batch_routes
    async with gateway(baseline) as http:
        await nfts(http)
    expected = {name: baseline.faults(name).calls for name in ("opensea", "alchemy")}

    sandbox = build_sandbox()
    sandbox.faults("opensea").batch_routes = batch_routes
    for name in ("opensea", "alchemy"):
        sandbox.faults(name).latency = 0.05
    async with gateway(sandbox) as http:
        responses = await asyncio.gather(*(nfts(http) for _ in range(100)))
    assert all(r.status_code == 200 for r in responses)  # no request lost
    assert {name: sandbox.faults(name).calls for name in expected} == expected


async def test_expiry_under_load_does_not_stampede() -> None:
    sandbox = build_sandbox()
    async with gateway(sandbox, snapshot_ttl=1) as http:
        await nfts(http)
        first = {name: sandbox.faults(name).calls for name in ("opensea", "alchemy")}
        await asyncio.sleep(1.2)
        sandbox.faults("opensea").latency = sandbox.faults("alchemy").latency = 0.05
        responses = await asyncio.gather(*(nfts(http) for _ in range(50)))
    assert all(r.status_code == 200 for r in responses)
    # One new walk (list calls only: details and collections are still cached).
    walked_again = {n: sandbox.faults(n).calls - first[n] for n in first}
    assert walked_again["alchemy"] == first["alchemy"]
    assert walked_again["opensea"] < first["opensea"]


async def test_the_503_names_every_provider_and_why_as_a_partial_answer_does() -> None:
    sandbox = build_sandbox()
    sandbox.faults("opensea").status = 503
    sandbox.faults("alchemy").refuse = True
    sandbox.faults("moralis").status = 500
    async with gateway(sandbox) as http:
        response = await nfts(http)
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    by_provider = {p["provider"]: p for p in body["providers"]}
    assert set(by_provider) == {"opensea", "alchemy", "moralis"}
    assert by_provider["opensea"]["status"] == "failed"
    assert by_provider["opensea"]["error"]["kind"] == "unavailable"
    assert by_provider["alchemy"]["status"] == "failed" and by_provider["alchemy"]["error"]
    # The header says the same, in the form a partial answer's has.
    assert statuses(response) == {
        p["provider"]: f"failed:{p['error']['kind']}" for p in body["providers"]
    }


async def test_a_names_503_names_the_providers_too() -> None:
    sandbox = build_sandbox()
    for name in ("opensea", "alchemy", "moralis"):
        sandbox.faults(name).status = 503
    async with gateway(sandbox) as http:
        response = await nfts(http, {"wallet_address": "alice.bit", "page": 1, "size": 5})
    assert response.status_code == 503
    assert {p["provider"]: p["status"] for p in response.json()["providers"]} == {
        "opensea": "failed",
        "alchemy": "failed",
        "moralis": "failed",
    }
    assert set(statuses(response)) == {"opensea", "alchemy", "moralis"}
