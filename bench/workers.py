"""Figure 7: warm throughput of ``serve --workers 2`` / of one worker, on one machine; and
7b: the upstream calls of 100 identical cold requests spread over the two workers / of one.

Both servers share one Redis (database 13, key namespaces of this run's own, deleted at
the end), as replicas do in production. They are warmed on the same wallet, then loaded
in turns (one worker, two workers, one, ...) and the medians compared. The load driver
runs in its own process and needs a share of the cores too, so on a 2-core machine this
figure measures the gateway and the driver together: it is a floor, not the ceiling.

7c says how far the cores allow: one worker keeps one core busy (g CPU seconds per
request, 1 / its throughput), and with two workers every core is busy, serving the
workers and the driver (w CPU seconds per request, its own user and system time as a
child process of this one). Two workers can then serve at most 2 / (g + w), that is
2 / (1 + w / g) times one worker; 7c is figure 7 over that ceiling.

For 7b each count starts from a fresh two-worker gateway with a namespace of its own (an
empty shared cache): the kernel spreads the burst's 100 connections over both workers'
sockets, so only the walk shared through Redis keeps the calls at one request's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
from collections.abc import Callable, Iterator
from typing import Any

from bench.cold import cold_burst_calls
from bench.processes import HOST, REDIS_URL, gateway, redis_namespace

__all__ = ["cold_burst_figure", "workers_figure"]

Drive = Callable[[int, str, bytes, argparse.Namespace], dict[str, float]]
WarmUp = Callable[[str], None]


def workers_figure(
    emulator_port: int,
    args: argparse.Namespace,
    *,
    path: str,
    body: bytes,
    drive: Drive,
    warm_up: WarmUp,
) -> dict[str, Any]:
    with (
        shared_cache() as env,
        gateway(emulator_port, workers=1, **env) as one,
        gateway(emulator_port, workers=2, **env) as two,
    ):
        for port in (one, two):
            warm_up(f"http://{HOST}:{port}")
        # Many connections: the kernel spreads them over the two workers' accepts.
        load = argparse.Namespace(**{**vars(args), "connections": 2 * args.connections})
        brief = argparse.Namespace(**{**vars(load), "duration": 1.0})
        for port in (one, two, two):  # every worker has its connections warm
            drive(port, path, body, brief)
        rps: dict[int, list[float]] = {1: [], 2: []}
        driver_cpu: list[float] = []  # the driver's CPU seconds per request
        for _ in range(args.rounds):
            for workers, port in ((1, one), (2, two)):
                before = _children_cpu()
                result = drive(port, path, body, load)
                rps[workers].append(result["rps"])
                driver_cpu.append((_children_cpu() - before) / result["requests"])
    one_rps, two_rps = statistics.median(rps[1]), statistics.median(rps[2])
    per_request = statistics.median(driver_cpu)
    ceiling = 2 / (1 + per_request * one_rps)
    return {
        "one_rps": one_rps,
        "two_rps": two_rps,
        "ratio": two_rps / one_rps,
        "driver_us_per_request": per_request * 1e6,
        "ceiling": ceiling,
        "vs_ceiling": two_rps / one_rps / ceiling,
    }


def _children_cpu() -> float:
    """User and system CPU seconds of this process's ended children (the driver runs as
    one per round)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold_burst_figure(emulator_port: int, args: argparse.Namespace) -> dict[str, Any]:
    """Upstream calls of one cold request and of 100 identical ones at once, each on a
    fresh ``--workers 2`` gateway sharing Redis."""
    counts = {}
    for concurrency in (1, 100):
        with shared_cache() as env, gateway(emulator_port, workers=2, **env) as port:
            counts[concurrency] = asyncio.run(
                cold_burst_calls(port, emulator_port, concurrency, args.latency)
            )
    return {
        "calls_one_request": counts[1],
        "calls_100_concurrent": counts[100],
        "ratio": counts[100] / max(counts[1], 1),
    }


@contextlib.contextmanager
def shared_cache() -> Iterator[dict[str, str]]:
    """Settings for gateways sharing a Redis key namespace of their own, deleted after."""
    with redis_namespace() as namespace:
        yield {
            "NFTGW_SNAPSHOT_TTL": "3600",
            "NFTGW_REDIS_URL": REDIS_URL,
            "NFTGW_REDIS_NAMESPACE": namespace,
        }
