"""Operating the gateway: Prometheus metrics, ``/metrics`` and ``/readyz``.

:class:`Metrics` owns one ``CollectorRegistry`` per app (built in the lifespan, never a
module-level default registry), so two apps in one process - tests, the CLI - never share
or double-register series. It is also the observer the resilience layer reports to
(``upstream_call``, ``breaker_state``) and the one the cache can report to
(``cache_lookup``): plain methods, no Prometheus types leak out. The edge middleware
(:mod:`gateway.http.edge`) records each request here; logs are :mod:`gateway.http.logs`.
"""

from __future__ import annotations

import bisect
import hmac
import itertools
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.http.upstream_log import UpstreamFailureLog

__all__ = ["BREAKER_STATES", "Metrics", "metrics_endpoint", "operate_routes", "readyz"]

# A breaker is in exactly one of these; an unknown state name is still recorded.
BREAKER_STATES = ("closed", "open", "half_open")


# -- metrics -----------------------------------------------------------------------------


class Metrics:
    """The gateway's Prometheus series, in a registry of their own; upstream failures are
    also logged at WARNING (rate-limited, see :mod:`gateway.http.upstream_log`)."""

    def __init__(self, *, failure_log: UpstreamFailureLog | None = None) -> None:
        self._failure_log = failure_log or UpstreamFailureLog()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._requests = RequestTally()
        r.register(self._requests)
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
        self._requests.add(route, method, status, seconds)

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


class RequestTally(Collector):
    """``nftgw_http_requests_total`` and ``nftgw_http_request_duration_seconds``, counted in
    plain numbers and handed to Prometheus when it scrapes.

    Every request adds one sample to both. prometheus_client's labelled children take a
    lock and walk the buckets in Python for each (about 2.5 us of a warm answer's 40 in
    process); here a sample is a dictionary lookup, a bisection and three additions, on
    the event loop's thread, the only one that counts or scrapes. The series are the ones
    ``Counter`` and ``Histogram`` wrote (default buckets; the histogram by route and
    method), without their ``_created`` samples.
    """

    BOUNDS = tuple(b for b in Histogram.DEFAULT_BUCKETS if b != float("inf"))

    def __init__(self) -> None:
        # (route, method, status) -> [count, sum of seconds, count per bucket ..., +Inf]
        self._rows: dict[tuple[str, str, int], list[float]] = {}

    def add(self, route: str, method: str, status: int, seconds: float) -> None:
        row = self._rows.get((route, method, status))
        if row is None:
            row = self._rows[(route, method, status)] = [0.0] * (len(self.BOUNDS) + 3)
        row[0] += 1
        row[1] += seconds
        row[2 + bisect.bisect_left(self.BOUNDS, seconds)] += 1

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "nftgw_http_requests",
            "HTTP requests by route template, method and status.",
            labels=["route", "method", "status"],
        )
        by_route: dict[tuple[str, str], list[float]] = {}
        for (route, method, status), row in self._rows.items():
            requests.add_metric([route, method, str(status)], row[0])
            merged = by_route.setdefault((route, method), [0.0] * len(row))
            for index, value in enumerate(row):
                merged[index] += value
        seconds = HistogramMetricFamily(
            "nftgw_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            labels=["route", "method"],
        )
        bounds = [*(str(bound) for bound in self.BOUNDS), "+Inf"]  # as Histogram labels them
        for (route, method), row in by_route.items():
            cumulative = list(itertools.accumulate(row[2:]))
            seconds.add_metric([route, method], list(zip(bounds, cumulative, strict=True)), row[1])
        return [requests, seconds]


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
