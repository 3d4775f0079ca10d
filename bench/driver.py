"""A small HTTP/1.1 load driver: N keep-alive connections, bounded in time and count.

Run as its own process (``python -m bench.driver ...``) so the server under test has a
core to itself. It speaks just enough HTTP for loopback benchmarking: one request per
connection at a time, ``Content-Length`` bodies only (which is what uvicorn sends for
these responses). It prints one JSON object: requests, errors, rps, p50/p99 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "run_load"]


def build_request(method: str, host: str, port: int, path: str, body: bytes) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"host: {host}:{port}",
        "connection: keep-alive",
        "accept: application/json",
    ]
    if body:
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    host: str,
    port: int,
    request: bytes,
    deadline: float,
    budget: list[int],
    latencies: list[float],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _content_length(head)
            if length is None:
                errors.append("response without content-length")
                return
            await reader.readexactly(length)
            if head[9:12] != b"200":
                errors.append(head[9:12].decode())
                continue
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


async def run_load(
    host: str,
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    connections: int = 16,
    duration: float = 3.0,
    max_requests: int = 1_000_000,
) -> dict[str, float]:
    request = build_request(method, host, port, path, body)
    latencies: list[float] = []
    errors: list[str] = []
    budget = [max_requests]
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(
            _connection(host, port, request, deadline, budget, latencies, errors)
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "errors": len(errors),
        "rps": len(ordered) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered) if ordered else float("nan"),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan"),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.driver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body-file", type=Path)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the driver only talks to loopback")
    body = args.body_file.read_bytes() if args.body_file else b""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio is slower but still bounded and correct
        pass
    result = asyncio.run(
        run_load(
            args.host,
            args.port,
            args.path,
            method=args.method,
            body=body,
            connections=args.connections,
            duration=args.duration,
            max_requests=args.max_requests,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
