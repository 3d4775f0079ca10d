"""The yardstick: a bare Starlette app answering the very bytes the gateway answered.

It exists only in the benchmark harness. ``--body NAME=FILE`` serves the bytes of FILE at
``/NAME``, read once at start: "a bare Starlette route returning the same bytes", as issue
14 measures from outside. The route reads the request's body and answers; no parsing, no
encoding, no middleware. (Until the sixth session it re-encoded the parsed JSON on every
request, which charged the yardstick an encoding the gateway, answering kept bytes, does
not pay: 56 us of a 50-NFT REST page's ~250 on that session's host.)
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["bare_app", "main"]


def bare_app(bodies: dict[str, bytes]) -> Starlette:
    def endpoint(body: bytes) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            await request.body()
            return Response(body, media_type="application/json")

        return handle

    routes = [
        Route(f"/{name}", endpoint(body), methods=["GET", "POST"]) for name, body in bodies.items()
    ]
    return Starlette(routes=routes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", action="append", default=[], metavar="NAME=FILE")
    args = parser.parse_args(argv)
    bodies = {}
    for item in args.body:
        name, _, path = item.partition("=")
        bodies[name] = Path(path).read_bytes()
    # h11, the HTTP/1.1 implementation the gateway's server runs (its guarded protocol is
    # h11's), whatever else is installed: the emulators' server parses with httptools when
    # the dev extra is installed, and uvicorn's default would then put the yardstick on a
    # parser the gateway does not use.
    uvicorn.run(bare_app(bodies), host="127.0.0.1", port=args.port, log_level="warning", http="h11")


if __name__ == "__main__":
    main()
