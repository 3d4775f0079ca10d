"""Figures 3, 4 and 5: cold requests against fresh gateways.

Figure 3 (cold 20-NFT page / one upstream round trip) and figure 5 (page 1 of a
10,000-NFT wallet / of a 20-NFT one) run against an emulator server of their own at a
realistic upstream latency (100 ms by default), for both NFT providers together (the
default settings) and for each alone; figure 3 also against an OpenSea without the batch
routes (``cold_without_batch_routes_vs_round_trip``: one GET per NFT and per
collection), and with the cache shared in Redis as replicas share it
(``cold_with_redis_vs_round_trip``, figure 3f). Figure 4 (upstream calls of 100
identical cold requests / of one) runs on the caller's emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.processes import (
    HOST,
    free_port,
    gateway,
    process,
    shared_redis,
    wait_ready,
)
from providers.sandbox.world import HUGE_WALLET, SMALL_WALLET, TINY_WALLET

__all__ = ["COLD_ENV", "PROVIDER_SETS", "cold_burst_calls", "cold_figures"]

# Figures 3 and 5 ask for page 1 as soon as it is final. By default a page waits up to 8 s
# for the whole walk (an exact ``total`` for clients that page by it); the 20-NFT wallet's
# walk ends in one round trip either way, the 10,000-NFT one's takes about 10 s.
COLD_ENV = {"NFTGW_EXACT_TOTAL_WAIT": "0"}
# The NFT providers a gateway runs with: both (the default), or one (the other's key unset).
PROVIDER_SETS: dict[str, tuple[str, ...]] = {
    "both": (),
    "opensea": ("NFTGW_ALCHEMY_API_KEY",),
    "alchemy": ("NFTGW_OPENSEA_API_KEY",),
}


async def _rest_page(client: httpx.AsyncClient, wallet: str, size: int = 20) -> float:
    started = time.perf_counter()
    response = await client.post(
        "/users/bench/nfts", json={"wallet_address": wallet, "page": 1, "size": size}
    )
    response.raise_for_status()
    return time.perf_counter() - started


async def _round_trip(emulator_port: int) -> float:
    """One upstream call as the gateway makes it (a list page), median of ten."""
    path = f"/alchemy/eth-mainnet/nft/v3/bench/getNFTsForOwner?owner={TINY_WALLET}&pageSize=100"
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{emulator_port}") as client:
        await client.get(path)
        times = []
        for _ in range(10):
            started = time.perf_counter()
            (await client.get(path)).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def _calls(client: httpx.AsyncClient, reset: bool = False) -> int:
    if reset:
        await client.post("/_sandbox/reset-calls")
        return 0
    counts = (await client.get("/_sandbox/calls")).json()
    return int(sum(counts.values()))


def _cold_pages(
    emulator_port: int, rounds: int, without: Sequence[str], huge: bool, redis: bool = False
) -> tuple[float, float]:
    """Medians over ``rounds`` fresh gateways: the 20-NFT wallet's page 1, and (when
    ``huge``) the 10,000-NFT wallet's (else 0). With ``redis``, each gateway shares a cache
    in Redis as replicas do, a namespace of its own, so that it starts cold too."""
    tiny_times: list[float] = []
    huge_times: list[float] = []
    for _ in range(rounds):
        with contextlib.ExitStack() as stack:
            env = dict(COLD_ENV)
            if redis:
                env |= stack.enter_context(shared_redis())
            port = stack.enter_context(gateway(emulator_port, without=without, **env))

            async def one_round(gateway_port: int = port) -> tuple[float, float]:
                async with httpx.AsyncClient(
                    base_url=f"http://{HOST}:{gateway_port}", timeout=60.0
                ) as client:
                    await _rest_page(client, "0x" + "3" * 40)  # connections and imports warm
                    small = await _rest_page(client, TINY_WALLET)
                    big = await _rest_page(client, HUGE_WALLET) if huge else 0.0
                    return small, big

            small, big = asyncio.run(one_round())
            tiny_times.append(small)
            huge_times.append(big)
    return statistics.median(tiny_times), statistics.median(huge_times)


def cold_figures(emulator_port: int, args: argparse.Namespace) -> dict[str, Any]:
    slow_port, documented_port = free_port(), free_port()
    slow = ["-m", "providers.sandbox.server", "--port", str(slow_port)]
    # The same upstreams with OpenSea's documented per-NFT and per-collection routes only
    # (no batch routes, as on servers that speak the published API v2 and no more).
    documented = ["-m", "providers.sandbox.server", "--port", str(documented_port)]
    latency = ["--latency", str(args.cold_latency)]
    with (
        process([*slow, *latency]),
        process([*documented, *latency, "--set", "opensea.batch_routes=False"]),
    ):
        wait_ready(f"http://{HOST}:{slow_port}/_sandbox/calls")
        wait_ready(f"http://{HOST}:{documented_port}/_sandbox/calls")
        round_trip = asyncio.run(_round_trip(slow_port))
        pages = {
            name: _cold_pages(slow_port, args.cold_rounds, without, huge=name == "both")
            for name, without in PROVIDER_SETS.items()
        }
        # Replicas share their cache in Redis: every detail, collection and budget step is
        # then a Redis command too (both providers, the default settings otherwise).
        with_redis = _cold_pages(slow_port, args.cold_rounds, (), False, redis=True)[0]
        without_batches = {
            name: _cold_pages(documented_port, args.cold_rounds, PROVIDER_SETS[name], False)[0]
            for name in ("both", "opensea")
        }
        # Figure 4 without the batch routes: each NFT and collection has a GET of its own.
        documented_herd = asyncio.run(_herd(documented_port, args.cold_latency))
    single, herd = asyncio.run(_herd(emulator_port, args.latency))
    tiny, huge = pages["both"]
    return {
        "latency_ms": 1000 * args.cold_latency,
        "round_trip_ms": 1000 * round_trip,
        "tiny_cold_ms": {name: 1000 * page[0] for name, page in pages.items()},
        "huge_cold_ms": 1000 * huge,
        "cold_vs_round_trip": {name: page[0] / round_trip for name, page in pages.items()},
        # Figure 3 without OpenSea's batch routes (per-NFT and per-collection GETs).
        "cold_without_batch_routes_vs_round_trip": {
            name: page / round_trip for name, page in without_batches.items()
        },
        "cold_with_redis_ms": 1000 * with_redis,
        "cold_with_redis_vs_round_trip": with_redis / round_trip,
        "huge_vs_tiny": huge / tiny,
        "calls_one_request": single,
        "calls_100_concurrent": herd,
        "herd_ratio": herd / max(single, 1),
        "herd_without_batch_routes": {
            "calls_one_request": documented_herd[0],
            "calls_100_concurrent": documented_herd[1],
            "ratio": documented_herd[1] / max(documented_herd[0], 1),
        },
    }


async def _herd(emulator_port: int, latency: float) -> tuple[int, int]:
    """Upstream calls for one cold request, then for 100 concurrent identical ones (on
    emulators answering in ``latency`` seconds)."""
    counts = []
    for concurrency in (1, 100):
        with gateway(emulator_port) as port:
            counts.append(await cold_burst_calls(port, emulator_port, concurrency, latency))
    return counts[0], counts[1]


async def cold_burst_calls(
    gateway_port: int, emulator_port: int, concurrency: int, latency: float
) -> int:
    """Upstream calls made for ``concurrency`` identical cold requests (SMALL_WALLET's page
    1) sent at once to a fresh gateway, on as many connections, counted by the emulators
    whose per-call ``latency`` is given; background calls those requests start count too."""
    async with (
        httpx.AsyncClient(base_url=f"http://{HOST}:{emulator_port}") as control,
        httpx.AsyncClient(
            base_url=f"http://{HOST}:{gateway_port}",
            timeout=60.0,
            limits=httpx.Limits(max_connections=concurrency),
        ) as client,
    ):
        await _rest_page(client, "0x" + "3" * 40)
        await asyncio.sleep(0.5)  # let the warm-up's own calls finish
        await _calls(control, reset=True)
        await asyncio.gather(*(_rest_page(client, SMALL_WALLET) for _ in range(concurrency)))
        await asyncio.sleep(latency * 4 + 0.5)  # background calls land too
        return await _calls(control)
