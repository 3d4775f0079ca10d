"""Figure 3g: the gateway's CPU for one upstream call, against aiohttp's alone.

A cold page's calls leave one after another on the gateway's one event loop, so what a call
costs the gateway is on the page's critical path. This process sends the same GET to an
emulator server of its own (no latency) in turn: through :func:`providers.base.fetch_json`
on the gateway's :class:`~gateway.http.transport.UpstreamClient` (its direct path), through
``fetch_json`` on a plain httpx client over the same transport (httpx's API, as tests' fakes
are called), and with a bare aiohttp session reading the body; process CPU time per call,
the median of rounds taken in turns. Informational: no goal, the ratio shows what the
gateway adds to the HTTP client it cannot do without.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

from bench.processes import HOST, OPENSEA_KEY, free_port, process, wait_ready
from gateway.http.transport import AiohttpTransport, UpstreamClient
from providers.base import fetch_json

__all__ = ["call_cost_figure"]

CALLS = 300  # per way and round
ROUNDS = 5
HEADERS = {"accept": "application/json", "x-api-key": OPENSEA_KEY}


def call_cost_figure() -> dict[str, Any]:
    port = free_port()
    with process(["-m", "providers.sandbox.server", "--port", str(port)]):
        wait_ready(f"http://{HOST}:{port}/_sandbox/calls")
        url = f"http://{HOST}:{port}/opensea/api/v2/collections/tiny-collection-3"
        return asyncio.run(_measure(url))


async def _measure(url: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=8)
    timeout = httpx.Timeout(5.0)
    async with (
        UpstreamClient(transport=AiohttpTransport(limits=limits), timeout=timeout) as gateway,
        httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=timeout) as plain,
        aiohttp.ClientSession() as bare,
    ):

        async def through_aiohttp() -> Any:
            async with bare.get(url, headers=HEADERS) as response:
                return await response.read()

        ways: dict[str, Callable[[], Awaitable[Any]]] = {
            "gateway": lambda: fetch_json(gateway, "opensea", "GET", url, headers=HEADERS),
            "httpx_api": lambda: fetch_json(plain, "opensea", "GET", url, headers=HEADERS),
            "aiohttp": through_aiohttp,
        }
        samples: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(ROUNDS):
            for name, call in ways.items():
                for _ in range(20):  # connections open, code paths run once
                    await call()
                started = time.process_time()
                for _ in range(CALLS):
                    await call()
                samples[name].append((time.process_time() - started) / CALLS * 1e6)
    us = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "cpu_us_per_call": us,
        "gateway_vs_aiohttp": us["gateway"] / us["aiohttp"],
        "httpx_api_vs_aiohttp": us["httpx_api"] / us["aiohttp"],
    }


if __name__ == "__main__":
    print(call_cost_figure())
