"""Responses whose header pairs are ready before the answer is.

Starlette's ``Response`` encodes, lower-cases and inspects its header mapping, and adds the
content type and length, on every answer. A warm answer (a kept REST page, a replayed
GraphQL answer) has the same headers each time: :func:`header_pairs` encodes them once,
and :class:`PreparedResponse` sends them with only the body's length added.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

__all__ = ["HeaderPairs", "PreparedResponse", "header_pairs"]

HeaderPairs = list[tuple[bytes, bytes]]


def header_pairs(headers: Mapping[str, str], *, media_type: str) -> HeaderPairs:
    """``headers`` and ``Content-Type: media_type`` as ASGI header pairs (latin-1, as
    Starlette encodes them; names in lower case)."""
    pairs = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]
    return [*pairs, (b"content-type", media_type.encode("latin-1"))]


class PreparedResponse(Response):
    """A 200 with ``body`` and the ready ``headers`` (:func:`header_pairs`), plus its
    ``Content-Length``."""

    def __init__(self, body: bytes, headers: HeaderPairs) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [*headers, (b"content-length", str(len(body)).encode())]
