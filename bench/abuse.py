"""Measure what issue 16 promises: idle connections survived, recovery after chained faults.

    python bench/abuse.py                 # both figures
    python bench/abuse.py idle            # 5,000 idle connections against ``serve``
    python bench/abuse.py recovery        # the chained fault sequence, default breaker

Prints one JSON object. Nothing here asserts: tests/gateway/test_serve_limits.py and
test_recovery.py assert the behaviour at small scale; this reports the figures at full
scale with the default settings.

* **idle**: ``nft-gateway serve`` (sandbox, default settings: 10 s header timeout, 1,000
  connections) in its own process; 5,000 connections that never send a byte; then a normal
  client's request (its latency), how long until every idle connection was closed, and
  how many log lines the server wrote meanwhile.
* **recovery**: the gateway in process on the sandbox, default breaker (open 30 s). OpenSea
  down, Alchemy 429, OpenSea slow, garbage, each long enough for probes to meet it, then
  every upstream healthy: seconds until every provider reports ``ok`` again (polled every
  0.5 s), and how many of those requests still saw a provider fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import free_port
from gateway.app import create_app
from gateway.settings import Settings
from providers.sandbox import build_sandbox
from providers.sandbox.world import SMALL_WALLET

IDLE = 5000
BODY = {"wallet_address": SMALL_WALLET, "page": 1, "size": 20}


def idle_connections() -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NFTGW_")}
    env.update({"NFTGW_SANDBOX": "on", "NFTGW_LOG_FORMAT": "text"})
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        opened_at = time.monotonic()
        idle = []
        refused = 0
        for _ in range(IDLE):
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                refused += 1
        opened = time.monotonic() - opened_at
        started = time.perf_counter()
        answer = httpx.get(f"{url}/healthz", timeout=10)
        client_ms = (time.perf_counter() - started) * 1000
        for sock in idle:
            sock.setblocking(False)
        open_ = set(range(len(idle)))
        deadline = time.monotonic() + 60
        while open_ and time.monotonic() < deadline:
            for i in list(open_):
                try:
                    if idle[i].recv(1) == b"":
                        open_.discard(i)
                except BlockingIOError:
                    pass
                except OSError:
                    open_.discard(i)
            time.sleep(0.1)
        all_closed = time.monotonic() - opened_at
        for sock in idle:
            sock.close()
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    return {
        "idle_connections": IDLE,
        "seconds_to_open_them": round(opened, 2),
        "refused_at_connect": refused,
        "normal_client_status": answer.status_code,
        "normal_client_ms": round(client_ms, 1),
        "seconds_until_every_idle_one_was_closed": round(all_closed, 1),
        "still_open_after_60s": len(open_),
        "server_log_lines": len(err.splitlines()),
    }


async def chained_recovery() -> dict[str, Any]:
    sandbox = build_sandbox()
    opensea, alchemy = sandbox.faults("opensea"), sandbox.faults("alchemy")
    settings = Settings(sandbox="on", rate_limit="off")
    app = create_app(settings, transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:

            async def ask() -> dict[str, str]:
                response = await http.post("/users/u1/nfts", json=BODY)
                header = response.headers["x-nftgw-providers"]
                return dict(part.split("=", 1) for part in header.split(", "))

            async def phase(seconds: float) -> None:
                until = time.monotonic() + seconds
                while time.monotonic() < until:
                    await ask()
                    await asyncio.sleep(0.5)

            opensea.status = 503
            await phase(10)
            opensea.reset()
            alchemy.status, alchemy.retry_after = 429, "5"
            await phase(10)
            alchemy.reset()
            opensea.latency = 30.0  # past the 8 s provider deadline
            await phase(35)
            opensea.reset()
            opensea.body = "malformed"
            await phase(35)
            opensea.reset()
            recovered_at = time.monotonic()
            partial = 0
            while time.monotonic() - recovered_at < 120:
                seen = await ask()
                if all(status == "ok" for status in seen.values()):
                    break
                partial += 1
                await asyncio.sleep(0.5)
            seconds = time.monotonic() - recovered_at
    return {
        "sequence": "opensea 503 10s, alchemy 429 10s, opensea slow 35s, garbage 35s, healthy",
        "seconds_until_every_provider_ok": round(seconds, 1),
        "requests_still_partial": partial,
    }


def main() -> None:
    which = sys.argv[1:] or ["idle", "recovery"]
    report: dict[str, Any] = {}
    if "idle" in which:
        report["idle"] = idle_connections()
    if "recovery" in which:
        report["recovery"] = asyncio.run(chained_recovery())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
