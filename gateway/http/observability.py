"""Operating the gateway: Prometheus metrics, JSON logs and request ids.

Why it looks like this:

* :class:`Metrics` owns one ``CollectorRegistry`` per app (built in the lifespan, never a
  module-level default registry), so two apps in one process - tests, the CLI - never share
  or double-register series. It is also the observer the resilience layer reports to
  (``upstream_call``, ``breaker_state``) and the one the cache can report to
  (``cache_lookup``): plain methods, no Prometheus types leak out.
* :class:`RequestContextMiddleware` is a pure ASGI middleware: it takes the caller's
  ``X-Request-ID`` when it is a sane token (else makes one), keeps it in a ``ContextVar`` so
  every log record of that request carries it, returns it in the response header, and
  records the request in the metrics under its *route template* (``/users/{user_id}/nfts``),
  never the raw path, so label cardinality stays bounded.
* Logs are one JSON object per line (:class:`JSONLogFormatter`), so a log shipper needs no
  parsing rules; :func:`configure_logging` is called by ``serve``, never at import.

Over 400 lines on purpose: the request middleware, the access line, the log formatter and the
metrics it feeds are one per-request path, kept in one place so its cost is read in one file.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Literal

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.logrepeats import RepeatFilter
from gateway.http.redaction import clean_log_text
from gateway.http.upstream_log import UpstreamFailureLog

__all__ = [
    "BREAKER_STATES",
    "REQUEST_ID_HEADER",
    "JSONLogFormatter",
    "Metrics",
    "RequestContextMiddleware",
    "RequestIdFilter",
    "configure_logging",
    "current_request_id",
    "metrics_endpoint",
    "operate_routes",
    "parse_request_id",
    "readyz",
]

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a caller: UUIDs, hex ids, trace-style ids. Anything else (too long,
# spaces, control characters that could forge log lines) is replaced by our own id.
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode()
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# A breaker is in exactly one of these; an unknown state name is still recorded.
BREAKER_STATES = ("closed", "open", "half_open")
UNMATCHED_ROUTE = "unmatched"

_request_id: ContextVar[str | None] = ContextVar("nftgw_request_id", default=None)

access_logger = logging.getLogger("gateway.access")
logger = logging.getLogger(__name__)


# -- metrics -----------------------------------------------------------------------------


class Metrics:
    """The gateway's Prometheus series, in a registry of their own; upstream failures are
    also logged at WARNING (rate-limited, see :mod:`gateway.http.upstream_log`)."""

    def __init__(self, *, failure_log: UpstreamFailureLog | None = None) -> None:
        self._failure_log = failure_log or UpstreamFailureLog()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = Counter(
            "nftgw_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self._request_seconds = Histogram(
            "nftgw_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            registry=r,
        )
        self._upstream_calls = Counter(
            "nftgw_upstream_calls_total",
            "Calls to upstream providers by provider, operation and outcome.",
            ["provider", "operation", "outcome"],
            registry=r,
        )
        self._upstream_errors = Counter(
            "nftgw_upstream_errors_total",
            "Upstream calls that did not succeed, by provider, operation and outcome.",
            ["provider", "operation", "outcome"],
            registry=r,
        )
        self._upstream_seconds = Histogram(
            "nftgw_upstream_call_duration_seconds",
            "Upstream call latency by provider and operation.",
            ["provider", "operation"],
            registry=r,
        )
        self._cache = Counter(
            "nftgw_cache_lookups_total",
            "Shared cache lookups by kind and result (hit or miss).",
            ["kind", "result"],
            registry=r,
        )
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._budget = Gauge(
            "nftgw_upstream_budget_remaining",
            "Calls each provider's budget (per key, shared by replicas) has left, as last seen.",
            ["provider"],
            registry=r,
        )
        self._breaker = Gauge(
            "nftgw_breaker_state",
            "1 for the state each provider's circuit breaker is in, 0 for the others.",
            ["provider", "state"],
            registry=r,
        )

    # The observer methods: names and signatures are the contract with the resilience
    # layer and the cache, so they stay plain Python values.

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        # The labelled children, looked up once per label set (``labels()`` takes a lock
        # and validates the values each time): this runs for every request.
        counted = self._request_series.get((route, method, status))
        if counted is None:
            counted = self._request_series[(route, method, status)] = (
                self._requests.labels(route, method, str(status)),
                self._request_seconds.labels(route, method),
            )
        counted[0].inc()
        counted[1].observe(seconds)

    def upstream_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        self._upstream_calls.labels(provider, operation, outcome).inc()
        self._upstream_seconds.labels(provider, operation).observe(seconds)
        if outcome != "ok":
            self._upstream_errors.labels(provider, operation, outcome).inc()
            self._failure_log.failure(provider, operation, outcome)

    def cache_lookup(self, kind: str, hit: bool) -> None:
        self._cache.labels(kind, "hit" if hit else "miss").inc()

    def breaker_state(self, provider: str, state: str) -> None:
        state = state.lower().replace("-", "_")
        for known in {*BREAKER_STATES, state}:
            self._breaker.labels(provider, known).set(1 if known == state else 0)

    def budget_remaining(self, provider: str, tokens: float) -> None:
        self._budget.labels(provider).set(tokens)

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: this process's series (each replica is scraped on its own).

    With ``NFTGW_METRICS_TOKEN`` set, only ``Authorization: Bearer <token>`` gets them
    (else 401). Without one, the default profile answers anyone and ``production``
    answers 404: the series name the providers, their error rates and the load, which is
    nobody's business but the operator's."""
    settings = getattr(request.app.state, "settings", None)
    token = settings.metrics_token if settings is not None else None
    if token is not None:
        offered = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(offered.encode(), expected.encode()):
            return JSONResponse(
                {"error": {"code": "UNAUTHORIZED", "message": "GET /metrics needs its token"}},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif settings is None or settings.profile == "production":
        return JSONResponse(
            {"error": {"code": "NOT_FOUND", "message": "not found"}}, status_code=404
        )
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def readyz(request: Request) -> Response:
    """``GET /readyz``: 200 once the lifespan has built the providers, else 503."""
    state = request.app.state
    if not getattr(state, "ready", False):
        return JSONResponse({"status": "starting"}, status_code=503)
    service = state.nft_service
    return JSONResponse({"status": "ready", "providers": list(service.provider_names)})


def operate_routes() -> list[BaseRoute]:
    """``/metrics`` and ``/readyz`` (``/healthz`` lives with the app factory)."""
    return [
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


# -- request ids -------------------------------------------------------------------------


def parse_request_id(value: str | None) -> str | None:
    """``value`` when it is an acceptable request id, else ``None``."""
    if value is None or not _REQUEST_ID.fullmatch(value):
        return None
    return value


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class RequestContextMiddleware:
    """Request id in, request id out, one access log line and one metrics sample per request.

    ``error_handler`` renders unexpected exceptions here, inside the request's context,
    so a 500 still carries the request id header and its log record carries the id.
    """

    def __init__(self, app: ASGIApp, *, error_handler: ErrorHandler | None = None) -> None:
        self.app = app
        self.error_handler = error_handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = parse_request_id(_header(scope, _REQUEST_ID_NAME)) or new_request_id()
        token = _request_id.set(request_id)
        # Before the call: routing rewrites the scope's paths for mounted apps.
        route = route_template(scope)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                raw = list(message.get("headers", []))
                raw.append((_REQUEST_ID_NAME, request_id.encode()))
                message = {**message, "headers": raw}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if self.error_handler is None or response_started:
                raise
            response = await self.error_handler(Request(scope, receive), exc)
            await response(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            self._record(scope, route, status, seconds)
            _request_id.reset(token)

    def _record(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        method = scope["method"]
        metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
        if metrics is not None:
            metrics.request(route, method, status, seconds)
        if not access_logger.isEnabledFor(logging.INFO):
            return
        # The client's path is cleaned here, once, for the line and for its ``http``
        # extra (the record factory sees only a record's message and arguments); the
        # line is rendered whole, so the factory searches one string, not four.
        shown_method, path = clean_log_text(method), clean_log_text(scope["path"])
        line = f"{shown_method} {path} {status}"
        http = {
            "method": shown_method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        access_logger.info(line, extra={"http": http})


def route_template(scope: Scope) -> str:
    """The path template of the route that serves ``scope`` (``/users/{user_id}/nfts``)."""
    app = scope.get("app")
    routes: Iterable[BaseRoute] = getattr(app, "routes", ())
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return str(getattr(route, "path", UNMATCHED_ROUTE)) or "/"
    return UNMATCHED_ROUTE


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), without decoding the others."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


# -- logs --------------------------------------------------------------------------------

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged
# (but uvicorn's ``color_message``: the same text with terminal colour codes).
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}
)


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` from the current request's context (or ``None``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        return True


class JSONLogFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        try:  # orjson: a JSON access log line per request, at a fraction of json's cost
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:  # what orjson refuses (non-str keys, 65-bit ints)
            return json.dumps(entry, default=str, ensure_ascii=False)


_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_OURS = "_nftgw_handler"


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (as the stdlib's last resort does),
    so a replaced stderr (a test runner's capture) never leaves it writing to a closed one."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass  # the stream is always the current stderr


def configure_logging(
    level: str,
    *,
    fmt: Literal["json", "text"] = "json",
    stream: IO[str] | None = None,
    repeat_window: float = 0.0,
) -> logging.Handler:
    """Route every logger (uvicorn's included) through one handler on the root logger.

    Calling it again replaces the handler it installed before (and only that one: a
    test runner's capture handlers stay). Returns the handler so a caller can remove it.
    ``repeat_window`` > 0 writes a repeated warning or error once per that many seconds,
    with a count (:class:`~gateway.http.logrepeats.RepeatFilter`).
    """
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    )
    handler.addFilter(RepeatFilter(repeat_window))
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JSONLogFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _OURS, False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # Our access log replaces uvicorn's; httpx logs every upstream URL at INFO, and the
    # Alchemy key is part of its path, so it only speaks up for warnings.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
