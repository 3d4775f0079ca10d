"""Fault switches for the sandbox emulators.

Every emulator is wrapped in :class:`FaultInjector`, an ASGI middleware that consults its
:class:`FaultSwitches` before each request. Tests flip switches on the instance they were
handed; the emulator server takes them from the command line. Switches are plain data so
a test reads like the fault it injects::

    faults.latency = 0.5              # every answer waits half a second
    faults.fail_next(503, times=2)    # a burst of two 503s, then healthy again
    faults.fail_next(429, headers={"Retry-After": "1"})
    faults.body_override = b"<html>"  # a 200 whose body is not JSON
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Emulator", "FaultInjector", "FaultSwitches", "ForcedResponse"]


@dataclass(slots=True)
class ForcedResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class FaultSwitches:
    """What an emulator does wrong. All off by default."""

    latency: float = 0.0
    body_override: bytes | None = None
    path_filter: str | None = None  # only requests whose path contains this are affected
    queued: deque[ForcedResponse] = field(default_factory=deque)
    calls: int = 0  # requests seen (faulty or not): tests count upstream calls with it

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
        self.latency = 0.0
        self.body_override = None
        self.path_filter = None
        self.queued.clear()
        self.calls = 0


class FaultInjector:
    """ASGI middleware applying :class:`FaultSwitches` in front of an emulator."""

    def __init__(self, app: ASGIApp, switches: FaultSwitches) -> None:
        self.app = app
        self.switches = switches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        switches = self.switches
        if switches.path_filter and switches.path_filter not in scope.get("path", ""):
            await self.app(scope, receive, send)
            return
        switches.calls += 1
        if switches.latency:
            await asyncio.sleep(switches.latency)
        if switches.queued:
            forced = switches.queued.popleft()
            await _send_raw(send, forced.status, forced.body, forced.content_type, forced.headers)
            return
        if switches.body_override is not None:
            await _send_raw(send, 200, switches.body_override, "application/json", {})
            return
        await self.app(scope, receive, send)


async def _send_raw(
    send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str]
) -> None:
    raw_headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Emulator:
    """An upstream emulator: its ASGI app (faults already wired in) and its switches."""

    name: str
    app: ASGIApp
    faults: FaultSwitches
