"""Figure 7: warm throughput of ``serve --workers 2`` / of one worker, on one machine.

Both servers share one Redis (database 13, a key namespace of this run's own, deleted at
the end), as replicas do in production. They are warmed on the same wallet, then loaded
in turns (one worker, two workers, one, ...) and the medians compared. The load driver
runs in its own process and needs a share of the cores too, so on a 2-core machine this
figure measures the gateway and the driver together: it is a floor, not the ceiling.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
from collections.abc import Callable
from typing import Any

from redis import Redis

from bench.processes import HOST, gateway

__all__ = ["REDIS_URL", "workers_figure"]

REDIS_URL = "redis://127.0.0.1:6379/13"

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
    namespace = f"nftgw-bench-{secrets.token_hex(6)}"
    env = {
        "NFTGW_SNAPSHOT_TTL": "3600",
        "NFTGW_REDIS_URL": REDIS_URL,
        "NFTGW_REDIS_NAMESPACE": namespace,
    }
    try:
        with (
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
            for _ in range(args.rounds):
                for workers, port in ((1, one), (2, two)):
                    rps[workers].append(drive(port, path, body, load)["rps"])
    finally:
        _forget(namespace)
    one_rps, two_rps = statistics.median(rps[1]), statistics.median(rps[2])
    return {"one_rps": one_rps, "two_rps": two_rps, "ratio": two_rps / one_rps}


def _forget(namespace: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    keys = list(redis.scan_iter(match=f"{namespace}:*"))
    if keys:
        redis.delete(*keys)
    redis.close()
