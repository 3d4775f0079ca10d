"""Child processes for the benches: a free loopback port, a process that is always reaped,
waiting for a server to answer, and a gateway pointed at the sandbox server's emulators.

Shared by ``python -m bench`` and :mod:`bench.replicas`. Imports only the package
(``gateway`` runs as a child process) and never ``tests``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence

import httpx
from redis import Redis

__all__ = [
    "HOST",
    "REDIS_URL",
    "START_TIMEOUT",
    "free_port",
    "gateway",
    "gateway_env",
    "process",
    "shared_redis",
    "wait_ready",
]

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
# The benches' Redis database; each run keeps its keys under a namespace of its own.
REDIS_URL = "redis://127.0.0.1:6379/13"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def process(
    args: Sequence[str], env: dict[str, str] | None = None, *, program: str = sys.executable
) -> Iterator[None]:
    """A child process (``program args``: Python unless told, e.g. Node.js for the bench's
    peer), terminated (then killed) on the way out. Its stderr goes to a file (a pipe nobody
    reads would block a server logging every request), whose tail is shown when it failed."""
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            [program, *args],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            yield
        finally:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.returncode not in (0, -15):
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace")[-2000:])


@contextlib.contextmanager
def shared_redis() -> Iterator[dict[str, str]]:
    """A gateway's settings for a cache in :data:`REDIS_URL` as replicas share it, under a
    key namespace of this run's own, its keys deleted after (never anyone else's: no
    flush)."""
    namespace = f"nftgw-bench-{secrets.token_hex(6)}"
    try:
        yield {"NFTGW_REDIS_URL": REDIS_URL, "NFTGW_REDIS_NAMESPACE": namespace}
    finally:
        redis = Redis.from_url(REDIS_URL)
        keys = list(redis.scan_iter(match=f"{namespace}:*"))
        if keys:
            redis.delete(*keys)
        redis.close()


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up within {START_TIMEOUT} s")


# Keys shaped like the vendors' (32 hex digits), made once per run. A short key would be
# redacted wherever its letters appear: "bench" matched the benches' own REST path
# (/users/bench/nfts), so every access line took the redaction path, as no real key would.
OPENSEA_KEY = secrets.token_hex(16)
ALCHEMY_KEY = secrets.token_hex(16)


def gateway_env(emulator_port: int) -> dict[str, str]:
    base = f"http://{HOST}:{emulator_port}"
    return {
        "NFTGW_SANDBOX": "off",
        "NFTGW_OPENSEA_API_KEY": OPENSEA_KEY,
        "NFTGW_ALCHEMY_API_KEY": ALCHEMY_KEY,
        "NFTGW_OPENSEA_BASE_URL": f"{base}/opensea",
        "NFTGW_ALCHEMY_BASE_URL": f"{base}/alchemy/{{network}}",
        # The default level: every request writes its JSON access log line, as in production.
        "NFTGW_LOG_LEVEL": "INFO",
    }


@contextlib.contextmanager
def gateway(
    emulator_port: int, *, workers: int = 1, without: Sequence[str] = (), **extra: str
) -> Iterator[int]:
    """A gateway on the emulators; ``without`` names settings left unset (a provider's key)."""
    port = free_port()
    env = {**gateway_env(emulator_port), **extra}
    for name in without:
        env.pop(name, None)
    serve = ["-m", "gateway", "serve", "--port", str(port), "--workers", str(workers)]
    with process(serve, env):
        wait_ready(f"http://{HOST}:{port}/healthz")
        yield port
