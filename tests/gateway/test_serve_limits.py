"""``nft-gateway serve`` under abuse, over loopback: idle connections, forged proxy headers
and ``/metrics`` in production.

One real server process per module (small deadlines and cap from the environment, as an
operator would set them); every socket wait is bounded. The 5,000-connection figure lives
in bench/ (``python -m bench abuse``); here 300 connections against a cap of 100.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

HEADER_TIMEOUT = 1.0
MAX_CONNECTIONS = 100
IDLE_CONNECTIONS = 300
METRICS_TOKEN = "metrics-canary-0123456789"
START_TIMEOUT = 30.0


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NFTGW_")},
        "NFTGW_SANDBOX": "on",
        "NFTGW_PROFILE": "production",
        "NFTGW_CORS_ORIGINS": "https://app.example",
        "NFTGW_RATE_LIMIT_BURST": "5",
        "NFTGW_RATE_LIMIT_PER_MINUTE": "1",
        "NFTGW_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "NFTGW_BODY_TIMEOUT": str(HEADER_TIMEOUT),
        "NFTGW_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "NFTGW_METRICS_TOKEN": METRICS_TOKEN,
        "NFTGW_LOG_FORMAT": "text",
        "FORWARDED_ALLOW_IPS": "*",  # uvicorn's own variable must not be what decides
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("serve did not start")
        time.sleep(0.1)
    yield Served(url, port, process)
    process.terminate()
    process.wait(timeout=10)


def stderr_lines(served: Served) -> list[str]:
    served.process.terminate()
    _, err = served.process.communicate(timeout=10)
    return err.splitlines()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_idle_connections_are_closed_and_a_talking_client_still_gets_in(served: Served) -> None:
    idle = []
    for _ in range(IDLE_CONNECTIONS):
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        idle.append(sock)
    half = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    try:
        # 300 silent connections against a cap of 100: a client that talks is answered.
        answer = httpx.get(f"{served.url}/healthz", timeout=5.0)
        assert answer.status_code == 200
        # Every silent or half-sent connection is closed, within the header deadline
        # (plus slack for a loaded machine: this bounds a wait, it times nothing).
        assert closed_by_server(half, HEADER_TIMEOUT + 5)
        assert all(closed_by_server(sock, HEADER_TIMEOUT + 5) for sock in idle)
    finally:
        for sock in [*idle, half]:
            sock.close()


def test_a_slow_body_is_cut_off(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        data, ended = b"", False
        sock.settimeout(HEADER_TIMEOUT + 5)
        try:
            while chunk := sock.recv(4096):
                data += chunk
            ended = True
        except ConnectionResetError:
            ended = True
        except TimeoutError:
            pass
        assert ended  # the server hung up on the slow body
        assert b"200 OK" not in data


def test_a_rotating_forwarded_for_does_not_lift_the_rate_limit(served: Served) -> None:
    statuses = []
    with httpx.Client(base_url=served.url, timeout=5.0) as http:
        for i in range(12):
            forged = {"X-Forwarded-For": f"203.0.113.{i}"}
            response = http.post(
                "/users/u/dids", json={"wallet_address": "0x" + "1" * 40}, headers=forged
            )
            statuses.append(response.status_code)
    assert statuses.count(429) >= 12 - 5 - 1  # one bucket: the peer's


def test_metrics_need_the_token_in_production(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=5.0) as http:
        assert http.get("/metrics").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert http.get("/metrics", headers=wrong).status_code == 401
        right = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        response = http.get("/metrics", headers=right)
        assert response.status_code == 200 and "nftgw" in response.text


def test_the_log_stays_short(served: Served) -> None:
    lines = stderr_lines(served)
    assert len(lines) < 100, lines[-20:]
    assert not any(METRICS_TOKEN in line for line in lines)
