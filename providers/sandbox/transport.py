"""Routes sandbox hosts to the in-process emulators, so adapters run unchanged.

The production adapters build URLs from their base URL settings; in sandbox mode those
point at ``*.sandbox`` hosts, and :class:`SandboxTransport` hands each request to the
emulator that owns the host (over ``httpx.ASGITransport``, no sockets involved). A request
for any other host is refused, so a sandboxed gateway can never reach the internet.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from starlette.types import ASGIApp

__all__ = ["SandboxTransport"]


class SandboxTransport(httpx.AsyncBaseTransport):
    """Dispatches by host suffix: ``{"opensea.sandbox": app, "alchemy.sandbox": app}``."""

    def __init__(self, apps: Mapping[str, ASGIApp]) -> None:
        self._transports = {suffix: httpx.ASGITransport(app=app) for suffix, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        for suffix, transport in self._transports.items():
            if host == suffix or host.endswith("." + suffix):
                return await transport.handle_async_request(request)
        raise httpx.ConnectError(f"sandbox has no emulator for host {host!r}", request=request)

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
