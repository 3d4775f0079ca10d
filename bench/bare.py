"""The yardstick: a bare Starlette app answering fixed JSON with orjson, nothing else.

It exists only in the benchmark harness. ``--body NAME=FILE`` serves the JSON in FILE at
``/NAME``; every request re-encodes the parsed document with orjson, as a minimal real
endpoint would.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["bare_app", "main"]


def bare_app(documents: dict[str, Any]) -> Starlette:
    def endpoint(document: Any) -> Any:
        async def handle(request: Request) -> Response:
            await request.body()
            return Response(orjson.dumps(document), media_type="application/json")

        return handle

    routes = [
        Route(f"/{name}", endpoint(doc), methods=["GET", "POST"]) for name, doc in documents.items()
    ]
    return Starlette(routes=routes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", action="append", default=[], metavar="NAME=FILE")
    args = parser.parse_args(argv)
    documents = {}
    for item in args.body:
        name, _, path = item.partition("=")
        documents[name] = orjson.loads(Path(path).read_bytes())
    uvicorn.run(bare_app(documents), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
