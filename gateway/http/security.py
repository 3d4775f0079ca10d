"""HTTP guards shared by both faces: bodies, content types, JSON depth, headers and CORS.

A public gateway meets scanners and browsers driven by other sites. The rules here:

* Bodies are read with a byte cap (413) and must be ``application/json`` (415). Browsers
  send ``text/plain``, form and multipart POSTs cross-origin without a CORS preflight (the
  "simple requests" CSRF rides on), so refusing them leaves no way to POST from another
  site without the CORS allowlist agreeing.
* JSON is parsed by orjson (which refuses nesting past 1024 levels instead of raising
  ``RecursionError`` like the standard library) and then checked against a much smaller
  depth limit, because deep values also cost recursion in everything that walks them.
* Every response gets ``X-Content-Type-Options: nosniff`` and, unless a handler chose a
  cache policy itself, ``Cache-Control: no-store``: answers are per user and per wallet.
* CORS is an explicit allowlist (``NFTGW_CORS_ORIGINS``); credentials are never allowed, so
  ``*`` can never be echoed back with cookies (Starlette reflects the Origin in that case).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.types import Scope

from gateway.errors import BadRequest, BodyTooLarge, UnsupportedMediaType
from gateway.settings import Settings

__all__ = [
    "JSON_MEDIA_TYPE",
    "SECURITY_HEADERS",
    "check_json_media_type",
    "cors_middleware",
    "decode_json_body",
    "decode_json_object",
    "encode_json",
    "exceeds_depth",
    "media_type",
    "read_body",
    "read_json_object",
    "request_header",
    "secure_headers",
]

SECURITY_HEADERS: Mapping[str, str] = {"X-Content-Type-Options": "nosniff"}
JSON_MEDIA_TYPE = "application/json"
# The same headers as raw ASGI pairs, built once rather than per response.
_SECURITY_RAW = [
    (name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()
]
_SECURITY_NAMES = frozenset(name for name, _ in _SECURITY_RAW)
_NO_STORE = (b"cache-control", b"no-store")


def media_type(request: Request) -> str:
    """The request's media type, lower-case, without parameters (``""`` when absent)."""
    sent = request_header(request.scope, b"content-type") or b""
    return sent.split(b";")[0].strip().lower().decode("latin-1")


def check_json_media_type(request: Request) -> None:
    """415 unless the request says its body is JSON."""
    if media_type(request) != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType("send the body as Content-Type: application/json")


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``max_bytes`` (declared or sent).

    Read from the ASGI messages directly, in one loop (Starlette's ``Request.stream`` is an
    async generator the event loop tracks, a cost on every request); nothing else reads
    the body of a request that comes here."""
    declared = request_header(request.scope, b"content-length") or b""
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"the body may be at most {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"the body may be at most {max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def decode_json_body(body: bytes | str, *, max_depth: int, what: str = "the body") -> Any:
    """JSON text as Python values; :class:`BadRequest` when malformed or nested too deeply."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest(f"{what} is not valid JSON") from None
    if exceeds_depth(data, max_depth):
        raise BadRequest(f"{what} is nested more than {max_depth} levels deep")
    return data


def encode_json(data: Any) -> bytes:
    """``data`` as compact JSON: the one encoder for every JSON body the gateway sends.

    orjson, falling back to the standard library only for integers beyond 64 bits (ERC-1155
    balances), which orjson refuses and JSON numbers may carry exactly. Not redacted: callers
    that may quote upstream text pass the bytes through
    :func:`gateway.http.redaction.redact_bytes` when they answer.
    """
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


async def read_json_object(request: Request, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The request body as a JSON object, with 415, 413 and 400 errors for everything else."""
    check_json_media_type(request)
    return decode_json_object(await read_body(request, max_bytes=max_bytes), max_depth=max_depth)


def decode_json_object(body: bytes, *, max_depth: int) -> dict[str, Any]:
    """A body read already, as a JSON object (400 when it is not one, or not JSON)."""
    data = decode_json_body(body, max_depth=max_depth)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def exceeds_depth(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit`` (iterative: no recursion to exhaust)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):  # only containers nest
                stack.append((child, depth + 1))
    return False


def request_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of request header ``name`` (lower case) in an ASGI ``scope``, for
    middleware that reads one header without building a ``Request`` or decoding the rest."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def secure_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A response's raw header pairs with the security headers added (replacing any a
    handler wrote) and ``Cache-Control: no-store`` unless the handler chose a policy.
    Applied to every response by :class:`gateway.http.edge.EdgeMiddleware`."""
    raw = []
    cache_policy = False
    for name, value in headers:
        lower = name.lower()  # names as the route wrote them (Starlette: lower case)
        if lower in _SECURITY_NAMES:
            continue
        cache_policy = cache_policy or lower == b"cache-control"
        raw.append((name, value))
    raw += _SECURITY_RAW
    if not cache_policy:
        raw.append(_NO_STORE)
    return raw


def cors_middleware(settings: Settings) -> Middleware | None:
    """CORS for the configured origins only; none configured means no CORS headers at all."""
    if not settings.cors_origins:
        return None
    return Middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        # The last two let a cross-origin GraphQL client force the preflight that
        # production's CSRF prevention asks for (gateway/schema/requests.py).
        allow_headers=[
            "Content-Type",
            "Accept",
            "X-API-Key",
            "Apollo-Require-Preflight",
            "X-Apollo-Operation-Name",
        ],
        expose_headers=["X-NFTGW-Providers", "Retry-After"],
        allow_credentials=False,
        max_age=600,
    )
