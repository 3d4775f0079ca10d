"""Three gateway replicas sharing one Redis, in front of the sandbox server, for the bench.

The bench's own copy of what ``tests/test_replicas.py`` starts (the test keeps its own, with
pytest fixtures): ``bench/`` imports the package only, never ``tests``. Redis database 13,
under the key namespace the caller's settings name (``bench.processes.shared_redis``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from bench.processes import HOST, free_port, wait_ready
from gateway.app import create_app
from gateway.settings import Settings
from providers.sandbox import build_sandbox

__all__ = [
    "NFT_EMULATORS",
    "cluster",
    "loopback_client",
    "nft_calls",
    "one_cold_request_in_process",
]

ROOT = Path(__file__).resolve().parents[1]
LATENCY = 0.2  # every upstream answer takes this long: requests really overlap
NFT_EMULATORS = ("opensea", "alchemy")


@contextmanager
def cluster(redis: Mapping[str, str]) -> Iterator[tuple[str, list[str]]]:
    """The emulator server and three gateways on the shared Redis ``redis`` names (their
    settings); yields the emulator and gateway URLs."""
    emulator_port = free_port()
    emulator_url = f"http://{HOST}:{emulator_port}"
    env = {
        "NFTGW_SANDBOX": "off",
        "NFTGW_OPENSEA_API_KEY": "replica-bench-key",
        "NFTGW_ALCHEMY_API_KEY": "replica-bench-key",
        "NFTGW_OPENSEA_BASE_URL": f"{emulator_url}/opensea",
        "NFTGW_ALCHEMY_BASE_URL": f"{emulator_url}/alchemy/{{network}}",
        **redis,
        "NFTGW_LOG_LEVEL": "WARNING",
        "NFTGW_EXACT_TOTAL_WAIT": "8",
        # The bench sets this per run (the Redis op timeout is one of its variables).
        "NFTGW_REDIS_OP_TIMEOUT": os.environ.get("NFTGW_TEST_REDIS_OP_TIMEOUT", "0.5"),
    }
    emulator = ["-m", "providers.sandbox.server", "--port", str(emulator_port)]
    processes = [_spawn([*emulator, "--latency", str(LATENCY)], {})]
    ports = [free_port() for _ in range(3)]
    processes += [_spawn(["-m", "gateway", "serve", "--port", str(p)], env) for p in ports]
    urls = [f"http://{HOST}:{port}" for port in ports]
    try:
        wait_ready(f"{emulator_url}/_sandbox/calls")
        for url in urls:
            wait_ready(f"{url}/healthz")
        yield emulator_url, urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def nft_calls(emulator_url: str) -> dict[str, int]:
    counts = httpx.get(f"{emulator_url}/_sandbox/calls").json()
    return {name: counts[name] for name in NFT_EMULATORS}


async def one_cold_request_in_process(wallet: str) -> dict[str, int]:
    """The upstream calls one cold request makes on a single in-process gateway."""
    sandbox = build_sandbox()
    settings = Settings(sandbox="on", exact_total_wait=8.0)
    app = create_app(settings, transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            body = {"wallet_address": wallet, "page": 1, "size": 20}
            response = await http.post("/users/u1/nfts", json=body)
            response.raise_for_status()
    return {name: sandbox.faults(name).calls for name in NFT_EMULATORS}


@asynccontextmanager
async def loopback_client() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        yield http


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Output to /dev/null, not a pipe: 300 requests' warnings could fill a pipe and stall.
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
