"""Measure what issue 4 promises: faults survived, calls per request, degraded latency.

    python bench/resilience.py            # in process, plus three replicas over Redis

Prints one JSON object. Nothing here asserts: the tests do that; this reports numbers.
Redis database 13, key prefix ``nftgw-bench-<random>`` (deleted at the end).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import replicas
from bench.processes import shared_redis
from gateway.app import create_app
from gateway.settings import Settings
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.faults import FaultSwitches
from providers.sandbox.world import SMALL_WALLET

BODY = {"wallet_address": SMALL_WALLET, "page": 1, "size": 20}
NFT = ("opensea", "alchemy")
FAST = {"provider_deadline": 1.0, "request_deadline": 4.0, "exact_total_wait": 3.0}
_AN_HOUR_AHEAD = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
# The faults tests/gateway/test_faults.py injects into one provider (names and switch values
# kept alike so the figures compare; bench/ never imports tests/).
FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("connect timeout", {"connect_timeout": True}),
    ("connection refused", {"refuse": True}),
    ("read timeout", {"latency": 5.0}),
    ("slow drip", {"drip": 0.2, "drip_chunk": 16}),
    ("429 retry-after seconds", {"status": 429, "retry_after": "30"}),
    ("429 retry-after date", {"status": 429, "retry_after": _AN_HOUR_AHEAD}),
    ("429 without retry-after", {"status": 429}),
    ("429 huge retry-after", {"status": 429, "retry_after": "9" * 30}),
    ("429 x-ratelimit-reset", {"status": 429, "ratelimit_reset": "86400"}),
    ("sustained 503", {"status": 503}),
    ("sustained 500", {"status": 500}),
    ("reset mid-body", {"connection_reset": True}),
    ("malformed body", {"body": "malformed"}),
    ("truncated body", {"body": "truncated"}),
    ("deeply nested body", {"body": "deep"}),
    ("oversized body", {"body": "huge"}),
    ("HTML page", {"body": "html"}),
    ("empty body", {"body": "empty"}),
    ("JSON array body", {"body": "array"}),
    ("HTML content type on an HTML page", {"body": "html", "content_type": "text/html"}),
    ("schema drift: list missing", {"drift": "missing"}),
    ("schema drift: list mistyped", {"drift": "mistyped"}),
    ("redirect", {"redirect": "http://elsewhere.invalid/"}),
]


def sandbox_settings(**overrides: Any) -> Settings:
    return Settings(**{"sandbox": "on", "exact_total_wait": 5.0, **overrides})


@asynccontextmanager
async def gateway(sandbox: Sandbox, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sandbox_settings(**{**FAST, **overrides}), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            yield http


async def faults_survived() -> dict[str, Any]:
    """Every OpenSea fault of the test list, the same on Alchemy, and all-down cold/warm."""
    sent = answered = survived = 0
    injected: list[str] = []
    for target in NFT:
        for name, switches in FAULTS:
            sandbox = build_sandbox()
            for switch, value in switches.items():
                setattr(sandbox.faults(target), switch, value)
            async with gateway(sandbox) as http:
                response = await http.post("/users/u1/nfts", json=BODY)
            sent += 1
            answered += response.status_code in (200, 503)
            survived += response.status_code == 200 and bool(response.json()["assets"])
            injected.append(f"{target}: {name}")
    for warm in (False, True):
        sandbox = build_sandbox()
        async with gateway(sandbox, snapshot_ttl=1) as http:
            if warm:
                await http.post("/users/u1/nfts", json=BODY)
                await asyncio.sleep(1.1)
            for target in NFT:
                sandbox.faults(target).status = 503
            response = await http.post("/users/u1/nfts", json=BODY)
        sent += 1
        answered += response.status_code in (200, 503)
        expected = 200 if warm else 503
        survived += response.status_code == expected
        injected.append(f"all providers down ({'warm' if warm else 'cold'})")
    return {
        "faults_injected": len(injected),
        "faults_survived": survived,
        "requests_sent": sent,
        "requests_answered": answered,
    }


async def burst_in_process(requests: int = 300) -> dict[str, Any]:
    baseline = build_sandbox()
    async with gateway(baseline) as http:
        await http.post("/users/u1/nfts", json=BODY)
    one = sum(baseline.faults(n).calls for n in NFT)
    sandbox = build_sandbox()
    for name in NFT:
        sandbox.faults(name).latency = 0.05
    async with gateway(sandbox) as http:
        responses = await asyncio.gather(
            *(http.post("/users/u1/nfts", json=BODY) for _ in range(requests))
        )
    calls = sum(sandbox.faults(n).calls for n in NFT)
    return {
        "requests": requests,
        "answered_200": sum(r.status_code == 200 for r in responses),
        "upstream_calls": calls,
        "upstream_calls_one_cold_request": one,
        "upstream_calls_per_client_request": round(calls / requests, 4),
    }


def burst_over_replicas(op_timeout: str, requests: int = 300) -> dict[str, Any]:
    os.environ["NFTGW_TEST_REDIS_OP_TIMEOUT"] = op_timeout
    expected = asyncio.run(replicas.one_cold_request_in_process(SMALL_WALLET))

    async def burst(urls: list[str]) -> list[httpx.Response]:
        async with replicas.loopback_client() as http:
            return await asyncio.gather(
                *(http.post(f"{urls[i % 3]}/users/u1/nfts", json=BODY) for i in range(requests))
            )

    with shared_redis() as redis, replicas.cluster(redis) as (emulator_url, urls):
        started = time.perf_counter()
        responses = asyncio.run(burst(urls))
        seconds = time.perf_counter() - started
        calls = replicas.nft_calls(emulator_url)
    total = sum(calls.values())
    return {
        "redis_op_timeout": float(op_timeout),
        "requests": requests,
        "answered_200": sum(r.status_code == 200 for r in responses),
        "upstream_calls": calls,
        "upstream_calls_one_cold_request": expected,
        "upstream_calls_per_client_request": round(total / requests, 4),
        "burst_seconds": round(seconds, 2),
    }


async def latency(
    label: str,
    setup: Callable[[FaultSwitches, FaultSwitches], None],
    runs: int = 15,
    **overrides: Any,
) -> dict[str, Any]:
    """Median/p90 of cold requests (fresh wallet walk each time), emulators at 50 ms."""
    samples = []
    for _ in range(runs):
        sandbox = build_sandbox()
        for name in NFT:
            sandbox.faults(name).latency = 0.05
        async with gateway(sandbox, snapshot_ttl=1, **overrides) as http:
            if label.startswith("stale"):
                await http.post("/users/u1/nfts", json=BODY)
                await asyncio.sleep(1.05)
            setup(sandbox.faults("opensea"), sandbox.faults("alchemy"))
            if label.startswith("breaker"):
                await http.post("/users/u1/nfts", json={**BODY, "wallet_address": "0x" + "2" * 40})
            started = time.perf_counter()
            response = await http.post("/users/u1/nfts", json=BODY)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, (label, response.status_code)
    samples.sort()
    return {
        "case": label,
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "p90_ms": round(samples[int(len(samples) * 0.9) - 1] * 1000, 1),
    }


def off(a: FaultSwitches, b: FaultSwitches) -> None:
    return None


def opensea_503(a: FaultSwitches, b: FaultSwitches) -> None:
    a.status = 503


def opensea_slow(a: FaultSwitches, b: FaultSwitches) -> None:
    a.latency = 30.0


def opensea_429_long(a: FaultSwitches, b: FaultSwitches) -> None:
    a.status, a.retry_after = 429, "120"


def all_503(a: FaultSwitches, b: FaultSwitches) -> None:
    a.status = b.status = 503


async def latencies() -> list[dict[str, Any]]:
    return [
        await latency("healthy", off),
        await latency("opensea sustained 503 (2 retries with jitter)", opensea_503),
        await latency("opensea 429 Retry-After 120 s (cool-down, no wait)", opensea_429_long),
        await latency("opensea hangs (1 s provider deadline)", opensea_slow),
        await latency("breaker open on opensea (fails fast)", opensea_503, breaker_min_calls=3),
        await latency("stale: every provider 503, stale snapshot served", all_503),
    ]


def main() -> None:
    report: dict[str, Any] = {}
    report["faults"] = asyncio.run(faults_survived())
    report["burst_in_process"] = asyncio.run(burst_in_process())
    report["burst_three_replicas"] = [burst_over_replicas("0.1"), burst_over_replicas("0.5")]
    report["latency"] = asyncio.run(latencies())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
