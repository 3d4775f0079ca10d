"""Figure 7: warm throughput of ``serve --workers 2`` / of one worker, on one machine; and
7b: the upstream calls of 100 identical cold requests spread over the two workers / of one.

Both servers share one Redis (database 13, key namespaces of this run's own, deleted at
the end), as replicas do in production. They are warmed on the same wallet, then loaded
in turns (one worker, two workers, one, ...) and the medians compared. The load driver
runs in its own process and needs a share of the cores too, so on a 2-core machine this
figure measures the gateway and the driver together: it is a floor, not the ceiling.

7c says how far the cores allow: every request costs the machine some CPU beside the
worker's (the driver's, the kernel's work on both ends of the loopback), so while one
worker keeps its core busy the machine is busier than that one core. Two workers can
serve at most as many times one worker's throughput as that busy share fits into the
cores (read from ``/proc/stat`` over the one-worker rounds; where there is none, 7c says
so); 7c is figure 7 over that ceiling.

For 7b each count starts from a fresh two-worker gateway with a namespace of its own (an
empty shared cache): the kernel spreads the burst's 100 connections over both workers'
sockets, so only the walk shared through Redis keeps the calls at one request's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.cold import cold_burst_calls
from bench.processes import HOST, gateway, shared_redis

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
        busy: dict[int, list[float]] = {1: [], 2: []}  # cores busy during the rounds
        for _ in range(args.rounds):
            for workers, port in ((1, one), (2, two)):
                before = _cpu_times()
                rps[workers].append(drive(port, path, body, load)["rps"])
                busy[workers].append(_busy_cores(before, _cpu_times()))
    one_rps, two_rps = statistics.median(rps[1]), statistics.median(rps[2])
    figure: dict[str, Any] = {"one_rps": one_rps, "two_rps": two_rps, "ratio": two_rps / one_rps}
    if busy[1][0] > 0:
        one_busy, two_busy = statistics.median(busy[1]), statistics.median(busy[2])
        ceiling = min(2.0, (os.cpu_count() or 1) / one_busy)
        figure |= {
            "busy_cores": {1: one_busy, 2: two_busy},
            "ceiling": ceiling,
            "vs_ceiling": figure["ratio"] / ceiling,
        }
    return figure


_PROC_STAT = Path("/proc/stat")


def _cpu_times() -> list[int]:
    """The machine's CPU times (Linux ``/proc/stat``: user, nice, system, idle, iowait,
    ...); empty where there is no such file."""
    if not _PROC_STAT.exists():
        return []
    return [int(ticks) for ticks in _PROC_STAT.read_text().split("\n", 1)[0].split()[1:]]


def _busy_cores(before: list[int], after: list[int]) -> float:
    """How many cores were busy between two readings (0 when they could not be read)."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    if not spent or sum(spent) == 0:
        return 0.0
    idle = spent[3] + spent[4]  # idle and iowait
    return (os.cpu_count() or 1) * (1 - idle / sum(spent))


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
    with shared_redis() as redis:
        yield {"NFTGW_SNAPSHOT_TTL": "3600", **redis}
