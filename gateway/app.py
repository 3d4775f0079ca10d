"""The app factory: the one place that builds the HTTP client, the cache and the providers.

``create_app(settings, transport=...)`` is how the server, the CLI and every test get an
app; there are no module-level singletons. Everything long-lived is created in the
lifespan and closed with it.
"""

from __future__ import annotations

import gc
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.cache.shared import build_shared_cache
from gateway.errors import GatewayError
from gateway.http.edge import EdgeMiddleware
from gateway.http.observability import Metrics, operate_routes
from gateway.http.ratelimit import (
    ClientAccessMiddleware,
    MemoryRateLimiter,
    build_rate_limiter,
    rate_limit_redis,
)
from gateway.http.redaction import install_log_redaction
from gateway.http.security import cors_middleware
from gateway.http.transport import AiohttpTransport, CallObserver, UpstreamClient
from gateway.identity.service import IdentityService
from gateway.nfts.service import NFTService
from gateway.openapi import openapi_endpoint
from gateway.resilience import CacheCooldowns, GuardPolicy, ProviderGuards
from gateway.resilience.upstreams import CallFeed, build_budgets
from gateway.rest import (
    RenderedPages,
    error_response,
    json_response,
    list_user_dids,
    list_user_nfts,
)
from gateway.schema import schema
from gateway.schema.limits import GraphQLLimits
from gateway.schema.persisted import PersistedDocuments, TrustedDocuments
from gateway.schema.view import GraphQLView
from gateway.settings import Settings
from gateway.web import web_routes
from providers import build_providers

__all__ = ["create_app", "freeze_startup_heap"]

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    freeze_heap: bool = False,
) -> Starlette:
    """A gateway app. ``transport`` replaces the network (tests, the sandbox).
    ``freeze_heap``: once started, leave what the process built so far out of every later
    garbage collection (``serve`` does, see :func:`freeze_startup_heap`)."""
    settings = settings or Settings()
    # Before anything can log: every configured key is redacted from every log record.
    install_log_redaction(settings.secrets())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        upstream = settings.upstreams()
        client_transport = transport
        if client_transport is None and settings.sandbox_enabled:
            from providers.sandbox import build_sandbox

            client_transport = build_sandbox().transport()
            logger.info("no provider keys configured: serving the embedded sandbox")
        # Built first: the observer for upstream calls, the cache and breakers.
        app.state.metrics = Metrics()
        # Memory, plus Redis when configured; hits and misses go to the metrics.
        cache = build_shared_cache(settings, observer=app.state.metrics)
        await cache.open_connections()  # with Redis: the first requests find them open
        guards = ProviderGuards(
            GuardPolicy.from_settings(settings),
            cooldowns=CacheCooldowns(cache),
            observer=app.state.metrics,
            budgets=build_budgets(settings, upstream, cache.redis_layer),
        )
        # Every upstream answer's X-RateLimit-* headers correct its provider's budget,
        # and every request counts on the guarded attempt that sent it (its cost).
        feed = CallFeed(guards, upstream)
        async with UpstreamClients(settings, client_transport, feed) as clients:
            app.state.guards = guards  # one guard per provider, for every service
            sources = build_providers(upstream, clients.new)
            service = NFTService(
                sources.nft_sources,
                sources.detail_sources,
                cache,
                settings,
                guards=guards,
                floor_sources=sources.floor_sources,
                refreshers=sources.refreshers,
            )
            app.state.identity_service = IdentityService(
                sources.did_sources,
                sources.name_resolvers,
                sources.personas,
                service,
                cache,
                settings,
            )
            app.state.settings = settings
            app.state.nft_service = service
            app.state.cache = cache  # GraphQL's persisted queries live there too
            # The REST face's bytes of the pages the service keeps (as many as it keeps).
            app.state.rest_pages = RenderedPages(settings.page_cache_entries)
            app.state.sandbox = settings.sandbox_enabled
            # Shared by every replica through Redis when NFTGW_REDIS_URL is set.
            rate_redis = rate_limit_redis(settings)
            app.state.rate_limiter = build_rate_limiter(settings, redis=rate_redis)
            app.state.refresh_limiter = MemoryRateLimiter(
                settings.refresh_per_minute, settings.refresh_burst
            )
            app.state.ready = True
            if freeze_heap:
                freeze_startup_heap()
            try:
                yield
            finally:
                app.state.ready = False
                await service.aclose()
                await cache.close()
                if rate_redis is not None:
                    await rate_redis.aclose()

    return Starlette(
        # The busiest routes first: the router tries them in order, for every request.
        routes=[
            # Every verb reaches the view, which answers 405 itself (a GraphQL error body,
            # `Allow: GET, POST`); Starlette's own 405 would advertise HEAD, which it lacks.
            Route("/graphql", _graphql_view(settings)),
            Route("/users/{user_id}/nfts", list_user_nfts, methods=["POST"]),
            Route("/users/{user_id}/dids", list_user_dids, methods=["POST"]),
            Route("/openapi.json", openapi_endpoint, methods=["GET"]),
            Route("/healthz", _healthz, methods=["GET"]),
            *operate_routes(),
            *web_routes(),
        ],
        lifespan=lifespan,
        middleware=_middleware(settings),
        exception_handlers={
            GatewayError: _gateway_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
    )


def freeze_startup_heap() -> None:
    """Collect, then freeze every object the collector tracks (``gc.freeze``): the modules,
    the schema, the services and clients a started process keeps until it exits.

    A full collection walks every tracked object, and a started app tracks about 136,000.
    Full collections come once enough new objects have outlived younger ones (a big
    wallet's walk makes that many), and each stops every request of the process: on a
    2-core test host they took 70-160 ms, 15-75 ms once frozen. What the process builds
    later (walks, cached pages) is collected as before. For serving processes only: a
    frozen object that later becomes part of an unreachable cycle is never freed, no loss
    for what lives as long as the process, but a leak for the apps a test suite starts and
    drops."""
    gc.collect()
    gc.freeze()


def _graphql_view(settings: Settings) -> GraphQLView:
    """GraphQL with its limits; the production profile has no GraphiQL, no introspection."""
    return GraphQLView(
        schema,
        limits=GraphQLLimits.from_settings(settings),
        max_body_bytes=settings.graphql_max_body_bytes,
        graphiql=settings.profile != "production",
        answers_per_page=settings.graphql_answers_per_page,
        kept_pages=settings.page_cache_entries,
        documents=PersistedDocuments(
            apq=settings.graphql_persisted_queries,
            ttl=settings.graphql_persisted_query_ttl,
            trusted=(
                TrustedDocuments.load(settings.graphql_trusted_documents)
                if settings.graphql_trusted_documents is not None
                else None
            ),
        ),
    )


def _middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: the edge (request id, security headers, metrics and the access
    line, on every answer, errors and 429s too), CORS, then client keys and rate limits
    right before the routes, when there are any to enforce."""
    cors = cors_middleware(settings)
    client_keys = [key.get_secret_value() for key in settings.client_api_keys]
    return [
        Middleware(EdgeMiddleware, error_handler=_unexpected_error),
        *([cors] if cors is not None else []),
        *(
            [Middleware(ClientAccessMiddleware, client_keys=client_keys)]
            if client_keys or settings.rate_limited
            else []
        ),
    ]


class UpstreamClients:
    """One HTTP client per provider, all closed with the app.

    Each client has a connection pool of its own (64 connections at most: its provider's
    bulkhead), on :class:`~gateway.http.transport.AiohttpTransport` unless a transport is
    given (the sandbox, tests). The clients share one TLS context: building one reads the
    CA bundle, about 25 ms each."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None,
        observer: CallObserver,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._observer = observer
        self._clients: list[httpx.AsyncClient] = []
        self._ssl_context: ssl.SSLContext | None = None

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def new(self) -> httpx.AsyncClient:
        settings = self._settings
        timeout = httpx.Timeout(
            connect=settings.connect_timeout, read=settings.read_timeout, write=5.0, pool=1.0
        )
        transport = self._transport or AiohttpTransport(
            limits=httpx.Limits(max_connections=64), ssl_context=self._ssl()
        )
        client = UpstreamClient(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            observer=self._observer,
        )
        self._clients.append(client)
        return client

    async def __aenter__(self) -> UpstreamClients:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for client in self._clients:
            await client.aclose()


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
