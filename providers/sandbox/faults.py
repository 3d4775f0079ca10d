"""Fault switches for the sandbox emulators: everything an upstream does wrong, on demand.

Every emulator is wrapped in :class:`FaultInjector`, an ASGI middleware that consults its
:class:`FaultSwitches` before each request. Tests flip switches on the instance they were
handed; the emulator server sets them by name from the command line
(``--set opensea.status=503``), so switches are plain data (numbers, strings, flags)::

    faults.latency = 0.5              # every answer leaves half a second after its request
    faults.drip = 0.8                 # the body arrives a chunk every 0.8 s
    faults.status = 503               # sustained 503s ...
    faults.status_count = 2           # ... or a burst of two, then healthy again
    faults.status, faults.retry_after = 429, "Wed, 21 Oct 2065 07:28:00 GMT"
    faults.connection_reset = True    # half the body, then the connection drops
    faults.body = "deep"              # malformed | truncated | deep | huge | html | empty | array
    faults.drift = "bad_item"         # missing | mistyped | bad_item (schema drift)
    faults.content_type = "text/html" # the real body under a wrong content type
    faults.redirect = "http://elsewhere.invalid/"
    faults.echo_request = True        # a 400 quoting path, query and custom headers back
    faults.cursor_loop = True         # every page points back at the first
    faults.cursor_expire = True       # every cursor is answered as expired
    faults.fail_next(429, headers={"Retry-After": "1"})  # one-off forced answers
    faults.quota_tier = "instant"     # the vendor's volume limit for that tier (quotas.py)
    faults.quota_limit, faults.quota_window = 120, 60  # ... or any other figure
    faults.batch_limit = 10           # OpenSea batch routes refuse more items than this
    faults.batch_routes = False       # a server without the batch routes (404)

``refuse`` and ``connect_timeout`` raise httpx's own connect errors, so they only mean
something in process (over a real socket the server cannot refuse after accepting).
Cursor faults need to know the emulator's cursor parameter: emulators pass
:class:`CursorHooks` (OpenSea ``next``, Alchemy ``pageKey``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "BAD_BODIES",
    "LOOP_CURSOR",
    "CursorHooks",
    "EmulatedReset",
    "Emulator",
    "FaultInjector",
    "FaultSwitches",
    "ForcedResponse",
]

LOOP_CURSOR = "sandbox-loop"
HUGE_BODY_BYTES = 6 * 1024 * 1024  # above the gateway's 5 MiB cap
DEEP_NESTING = 5_000  # far beyond any JSON parser's recursion limit

BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "malformed": (b'{"nfts": [{"identifier": "1", "contract": ', "application/json"),
    "deep": (b'{"nfts": ' + b"[" * DEEP_NESTING + b"]" * DEEP_NESTING + b"}", "application/json"),
    "huge": (b'{"pad": "' + b"x" * HUGE_BODY_BYTES + b'", "nfts": []}', "application/json"),
    "html": (
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
        b"<body><h1>502 Bad Gateway</h1><hr>cloudflare</body></html>",
        "text/html; charset=utf-8",
    ),
    "empty": (b"", "application/json"),
    "array": (b"[1, 2, 3]", "application/json"),
}


class EmulatedReset(httpx.RemoteProtocolError):
    """The emulator dropped the connection mid-body (in process; a server just closes)."""


@dataclass(slots=True)
class ForcedResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class CursorHooks:
    """Where an emulator's cursor travels: the query ``param``, the body ``field``, and
    the answer it gives for a cursor it no longer knows."""

    param: str
    field: str
    expired: ForcedResponse


@dataclass
class FaultSwitches:
    """What an emulator does wrong. All off by default."""

    latency: float = 0.0  # seconds from a request's arrival to its answer
    drip: float = 0.0  # seconds between body chunks (a slow body)
    drip_chunk: int = 64  # bytes per dripped chunk
    status: int = 0  # answer with this status instead (0: off)
    status_count: int = -1  # how many answers get ``status``: -1 sustained, N a burst
    retry_after: str | None = None  # Retry-After on forced answers (seconds or HTTP-date)
    ratelimit_reset: str | None = None  # X-RateLimit-Reset on forced answers
    connection_reset: bool = False  # send half the body, then drop the connection
    body: str | None = None  # a named bad body from BAD_BODIES, or "truncated"
    body_override: bytes | None = None  # a 200 with exactly these bytes
    content_type: str | None = None  # the real body under this content type
    drift: str | None = None  # schema drift: missing | mistyped | bad_item
    redirect: str | None = None  # a 302 to this location
    refuse: bool = False  # connection refused (in process only)
    connect_timeout: bool = False  # connect timeout (in process only)
    cursor_loop: bool = False  # every page's cursor points back at the first page
    cursor_expire: bool = False  # every cursor is answered as expired
    path_filter: str | None = None  # only requests whose path contains this are affected
    echo_request: bool = False  # a 400 quoting the request back (path, query, custom headers)
    # Volume limits per key (see quotas.py): a tier of the emulator's own table, or figures.
    quota_tier: str | None = None
    quota_limit: int = 0  # units per window (0: the tier decides)
    quota_window: float = 0.0  # seconds
    batch_limit: int = 0  # items a batch route accepts (0: the emulator's default)
    batch_routes: bool = True  # False: no batch routes (404), as older servers
    # Not a fault: the customer's tier for Alchemy's spam fields (free: none; paid: Ethereum
    # and Polygon). Here so the emulator server sets it like a switch (alchemy.spam_tier).
    spam_tier: str = "free"
    queued: deque[ForcedResponse] = field(default_factory=deque)
    calls: int = 0  # requests seen (faulty or not): tests count upstream calls with it
    throttled: int = 0  # requests refused for volume (a spent quota)

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``times`` requests with ``status`` instead of the real answer."""
        for _ in range(times):
            self.queued.append(ForcedResponse(status, body, dict(headers or {}), content_type))

    def reset(self) -> None:
        """Every switch off and the call counter at zero (the spam tier is kept: not a fault)."""
        fresh = FaultSwitches(spam_tier=self.spam_tier)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    @property
    def rewrites_body(self) -> bool:
        return bool(
            self.drip or self.connection_reset or self.body or self.content_type or self.drift
        ) or bool(self.cursor_loop)


class FaultInjector:
    """ASGI middleware applying :class:`FaultSwitches` in front of an emulator."""

    def __init__(
        self, app: ASGIApp, switches: FaultSwitches, *, cursors: CursorHooks | None = None
    ) -> None:
        self.app = app
        self.switches = switches
        self.cursors = cursors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        switches = self.switches
        if scope["type"] != "http" or (
            switches.path_filter and switches.path_filter not in scope.get("path", "")
        ):
            await self.app(scope, receive, send)
            return
        switches.calls += 1
        _refuse_if_asked(switches)
        if switches.latency and not (switches.drip or switches.connection_reset):
            await self._answer_after(switches.latency, scope, receive, send)
            return
        if switches.latency:  # a body sent over time: the wait comes first
            await asyncio.sleep(switches.latency)
        await self._answer(scope, receive, send)

    async def _answer_after(
        self, latency: float, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The answer made at once and sent ``latency`` seconds after the request arrived,
        as from a remote server, whose calls are made side by side: made after the wait,
        the answers to calls that arrive together queued behind each other's making in
        this one process (0.3-1.5 ms each), which a cold page's wave paid and a single
        round trip did not."""
        loop = asyncio.get_running_loop()
        due = loop.time() + latency
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self._answer(scope, receive, keep)
        await asyncio.sleep(max(0.0, due - loop.time()))
        for message in messages:
            await send(message)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        switches = self.switches
        forced = self._forced(scope)
        if forced is not None:
            await _send_raw(send, forced.status, forced.body, forced.content_type, forced.headers)
            return
        if switches.cursor_loop and self.cursors is not None:
            scope = _without_loop_cursor(scope, self.cursors.param)
        if not switches.rewrites_body:
            await self.app(scope, receive, send)
            return
        status, headers, body = await _capture(self.app, scope, receive)
        await self._send_rewritten(send, status, headers, body)

    def _forced(self, scope: Scope) -> ForcedResponse | None:
        """The answer that replaces the emulator's, if a switch says so."""
        switches = self.switches
        if switches.queued:
            return switches.queued.popleft()
        if switches.status and switches.status_count != 0:
            if switches.status_count > 0:
                switches.status_count -= 1
            return _status_answer(switches)
        if switches.echo_request:
            return ForcedResponse(400, orjson.dumps({"errors": [_request_text(scope)]}))
        if switches.redirect:
            return ForcedResponse(302, b"", {"location": switches.redirect}, "text/plain")
        cursors = self.cursors
        if switches.cursor_expire and cursors is not None and _query(scope).get(cursors.param):
            return cursors.expired
        if switches.body_override is not None:
            return ForcedResponse(200, switches.body_override)
        return None

    async def _send_rewritten(
        self, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        switches = self.switches
        content_type = _header(headers, b"content-type") or "application/json"
        if switches.cursor_loop and self.cursors is not None:
            body = _with_json(body, lambda data: data.__setitem__(self.cursors.field, LOOP_CURSOR))  # type: ignore[union-attr]
        if switches.drift:
            body = _with_json(body, _DRIFTS[switches.drift])
        if switches.body == "truncated":
            body = body[: len(body) // 2]
        elif switches.body:
            body, content_type = BAD_BODIES[switches.body]
        content_type = switches.content_type or content_type
        kept = [(k, v) for k, v in headers if k not in (b"content-type", b"content-length")]
        await _send_start(send, status, body, content_type, kept)
        await self._send_body(send, body)

    async def _send_body(self, send: Send, body: bytes) -> None:
        switches = self.switches
        if switches.connection_reset:
            half = body[: len(body) // 2]
            await send({"type": "http.response.body", "body": half, "more_body": True})
            raise EmulatedReset("connection reset by the sandbox emulator")
        if not switches.drip:
            await send({"type": "http.response.body", "body": body})
            return
        step = max(1, switches.drip_chunk)
        for start in range(0, len(body), step):
            chunk = body[start : start + step]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(switches.drip)
        await send({"type": "http.response.body", "body": b""})


# -- helpers ------------------------------------------------------------------------------

# The request httpx's connect errors name: made once, not for every call the emulator sees.
_NOWHERE = httpx.Request("GET", "http://sandbox.invalid/")


def _refuse_if_asked(switches: FaultSwitches) -> None:
    if switches.refuse:
        raise httpx.ConnectError("connection refused by the sandbox emulator", request=_NOWHERE)
    if switches.connect_timeout:
        raise httpx.ConnectTimeout("connect timeout at the sandbox emulator", request=_NOWHERE)


def _status_answer(switches: FaultSwitches) -> ForcedResponse:
    headers: dict[str, str] = {}
    if switches.retry_after is not None:
        headers["retry-after"] = switches.retry_after
    if switches.ratelimit_reset is not None:
        headers["x-ratelimit-reset"] = switches.ratelimit_reset
    body = orjson.dumps({"errors": [f"sandbox fault: HTTP {switches.status}"]})
    return ForcedResponse(switches.status, body, headers)


# Headers every client sends; what is left (x-api-key...) is what an error page would quote.
_COMMON_HEADERS = {b"host", b"accept", b"accept-encoding", b"connection", b"user-agent"}


def _request_text(scope: Scope) -> str:
    """The request as an upstream's error text may quote it: keys in it leak unless redacted."""
    query = scope.get("query_string", b"").decode("latin-1")
    headers = " ".join(
        f"{k.decode('latin-1')}: {v.decode('latin-1')}"
        for k, v in scope.get("headers", [])
        if k.lower() not in _COMMON_HEADERS and not k.lower().startswith(b"content-")
    )
    return f"bad request: {scope.get('path', '')}?{query} {headers}".strip()


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))


def _without_loop_cursor(scope: Scope, param: str) -> Scope:
    """The request without our loop cursor: the emulator answers its first page again."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not (k == param and v == LOOP_CURSOR)]
    if len(kept) == len(pairs):
        return scope
    return {**scope, "query_string": urlencode(kept).encode("latin-1")}


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[Any], bytes]:
    """Run the emulator to completion and keep its answer for rewriting."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    return int(start.get("status", 500)), list(start.get("headers", [])), b"".join(chunks)


def _with_json(body: bytes, change: Callable[[dict[str, Any]], object]) -> bytes:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(data, dict):
        return body
    change(data)
    return orjson.dumps(data)


def _first_list_field(data: dict[str, Any]) -> str | None:
    return next((key for key, value in data.items() if isinstance(value, list)), None)


def _drop_list(data: dict[str, Any]) -> None:
    name = _first_list_field(data)
    if name is not None:
        del data[name]


def _mistype_list(data: dict[str, Any]) -> None:
    name = _first_list_field(data)
    if name is not None:
        data[name] = "not a list"


def _add_bad_item(data: dict[str, Any]) -> None:
    name = _first_list_field(data)
    if name is not None:
        items = data[name]
        items.insert(len(items) // 2, {"identifier": None, "contract": 42, "tokenId": []})
        items.insert(0, "a string where an object belongs")


_DRIFTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "missing": _drop_list,
    "mistyped": _mistype_list,
    "bad_item": _add_bad_item,
}


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), None)


async def _send_start(
    send: Send, status: int, body: bytes, content_type: str, headers: list[tuple[bytes, bytes]]
) -> None:
    raw_headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})


async def _send_raw(
    send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str]
) -> None:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await _send_start(send, status, body, content_type, raw)
    await send({"type": "http.response.body", "body": body})


@dataclass
class Emulator:
    """An upstream emulator: its ASGI app (faults already wired in) and its switches."""

    name: str
    app: ASGIApp
    faults: FaultSwitches
