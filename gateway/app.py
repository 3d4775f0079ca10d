"""The app factory: the one place that builds the HTTP client, the cache and the providers.

``create_app(settings, transport=...)`` is how the server, the CLI and every test get an
app; there are no module-level singletons. Everything long-lived is created in the
lifespan and closed with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.caching import BoundedMemoryCache, SharedCache
from gateway.errors import GatewayError
from gateway.rest import error_response, json_response, list_user_nfts
from gateway.schema import schema
from gateway.schema.view import GraphQLView
from gateway.service import NFTService
from gateway.settings import Settings
from providers.alchemy import AlchemySource
from providers.opensea import OpenSeaSource

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """A gateway app. ``transport`` replaces the network (tests, the sandbox)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        upstream = settings.upstreams()
        client_transport = transport
        if client_transport is None and settings.sandbox_enabled:
            from providers.sandbox import build_sandbox

            client_transport = build_sandbox().transport()
            logger.info("no provider keys configured: serving the embedded sandbox")
        async with _http_client(settings, client_transport) as client:
            cache = SharedCache(BoundedMemoryCache(max_entries=10_000))
            nft_sources, detail_sources = _nft_providers(upstream, client)
            service = NFTService(nft_sources, detail_sources, cache, settings)
            app.state.settings = settings
            app.state.nft_service = service
            app.state.sandbox = settings.sandbox_enabled
            try:
                yield
            finally:
                await service.aclose()
                await cache.close()

    return Starlette(
        routes=[
            Route("/users/{user_id}/nfts", list_user_nfts, methods=["POST"]),
            Route("/graphql", GraphQLView(schema), methods=["GET", "POST"]),
            Route("/healthz", _healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers={
            GatewayError: _gateway_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
    )


def _http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=settings.connect_timeout, read=settings.read_timeout, write=5.0, pool=1.0
    )
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=20)
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, limits=limits, follow_redirects=False
    )


def _nft_providers(
    settings: Settings, client: httpx.AsyncClient
) -> tuple[list[OpenSeaSource | AlchemySource], list[OpenSeaSource]]:
    """The NFT providers with a key configured, in priority order."""
    sources: list[OpenSeaSource | AlchemySource] = []
    details: list[OpenSeaSource] = []
    if settings.opensea_api_key is not None:
        opensea = OpenSeaSource(
            client,
            base_url=settings.opensea_base_url,
            api_key=settings.opensea_api_key.get_secret_value(),
        )
        sources.append(opensea)
        details.append(opensea)
    if settings.alchemy_api_key is not None:
        sources.append(
            AlchemySource(
                client,
                base_url=settings.alchemy_base_url,
                api_key=settings.alchemy_api_key.get_secret_value(),
            )
        )
    return sources, details


async def _healthz(request: Request) -> Response:
    return json_response({"status": "ok", "sandbox": request.app.state.sandbox})


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return json_response(
        {"error": {"code": code, "message": str(exc.detail)}},
        status=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response(
        {"error": {"code": "INTERNAL", "message": "Internal server error"}}, status=500
    )
