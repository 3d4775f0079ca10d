"""Operating the gateway: /metrics, /healthz, /readyz, JSON logs and request ids."""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.http.edge import REQUEST_ID_HEADER, AccessRecord, parse_request_id
from gateway.http.logs import (
    BatchedStderrHandler,
    JSONLogFormatter,
    configure_logging,
    direct_json_lines,
)
from gateway.http.observability import Metrics
from gateway.http.redaction import install_log_redaction
from gateway.settings import Settings
from providers.sandbox import Sandbox
from tests.conftest import sandbox_settings

WALLET = "0x1111111111111111111111111111111111111111"
NFTS_ROUTE = "/users/{user_id}/nfts"


@pytest.fixture
def app(sandbox: Sandbox) -> Starlette:
    return create_app(sandbox_settings(), transport=sandbox.transport())


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            yield c


class LogLines:
    """The JSON log lines written so far, parsed afresh on every iteration."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter([json.loads(line) for line in self._stream.getvalue().splitlines()])


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """What the gateway logs during the test, through the same handler ``serve`` installs."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", stream=stream)
    try:
        yield LogLines(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or ``None`` when it is absent."""
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def list_nfts(http: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await http.post(
        "/users/u1/nfts",
        json={"wallet_address": WALLET, "page": 1, "size": 5},
        headers=headers,
    )


# -- one request, seen in the response, the metrics and the logs ------------------------------


async def test_a_request_shows_up_in_metrics_and_logs_with_its_request_id(
    http: httpx.AsyncClient, log_lines: LogLines
) -> None:
    response = await list_nfts(http, **{REQUEST_ID_HEADER: "trace-abc.123"})
    assert response.status_code == 200
    assert response.headers[REQUEST_ID_HEADER] == "trace-abc.123"

    metrics = (await http.get("/metrics")).text
    assert (
        sample(metrics, "nftgw_http_requests_total", route=NFTS_ROUTE, method="POST", status="200")
        == 1
    )
    assert (
        sample(
            metrics, "nftgw_http_request_duration_seconds_count", route=NFTS_ROUTE, method="POST"
        )
        == 1
    )

    access = [line for line in log_lines if line["logger"] == "gateway.access"]
    nfts_line = next(line for line in access if line["http"]["route"] == NFTS_ROUTE)
    assert nfts_line["request_id"] == "trace-abc.123"
    assert nfts_line["http"]["status"] == 200
    assert nfts_line["level"] == "INFO"


async def test_upstream_calls_are_counted_per_provider(http: httpx.AsyncClient) -> None:
    await list_nfts(http)
    metrics = (await http.get("/metrics")).text
    for provider in ("opensea", "alchemy", "moralis"):
        calls = sample(metrics, "nftgw_upstream_calls_total", provider=provider, outcome="ok")
        assert calls is not None and calls > 0, provider
        latency = sample(metrics, "nftgw_upstream_call_duration_seconds_count", provider=provider)
        assert latency is not None and latency > 0, provider


async def test_two_identical_requests_show_cache_misses_then_hits(
    http: httpx.AsyncClient,
) -> None:
    assert (await list_nfts(http)).status_code == 200
    cold = (await http.get("/metrics")).text
    assert (await list_nfts(http)).status_code == 200
    warm = (await http.get("/metrics")).text

    # The first answer fetched its wallet snapshot and its details (in batches): misses only.
    assert sample(cold, "nftgw_cache_lookups_total", kind="snapshot", result="miss") == 1
    detail_misses = sample(cold, "nftgw_cache_lookups_total", kind="details", result="miss")
    assert detail_misses is not None and detail_misses > 0
    assert sample(cold, "nftgw_cache_lookups_total", kind="details", result="hit") is None
    # The second found every detail cached: no new miss.
    assert sample(warm, "nftgw_cache_lookups_total", kind="details", result="miss") == detail_misses


async def test_metrics_are_in_prometheus_text_format(http: httpx.AsyncClient) -> None:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE nftgw_http_request_duration_seconds histogram" in response.text
    assert "# TYPE nftgw_upstream_calls_total counter" in response.text


async def test_unknown_paths_share_one_route_label(http: httpx.AsyncClient) -> None:
    await http.get("/no/such/page/1")
    await http.get("/no/such/page/2")
    metrics = (await http.get("/metrics")).text
    assert sample(metrics, "nftgw_http_requests_total", route="unmatched", status="404") == 2
    assert "/no/such/page" not in metrics


# -- request ids ------------------------------------------------------------------------------


async def test_a_request_without_an_id_gets_a_fresh_one(http: httpx.AsyncClient) -> None:
    first = (await http.get("/healthz")).headers[REQUEST_ID_HEADER]
    second = (await http.get("/healthz")).headers[REQUEST_ID_HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize(
    "unsafe", ["has space", "line\\nbreak", "x" * 129, "", "-leading-dash", "semi;colon"]
)
def test_unsafe_request_ids_are_not_accepted(unsafe: str) -> None:
    assert parse_request_id(unsafe) is None


async def test_an_unsafe_request_id_is_replaced_not_echoed(
    http: httpx.AsyncClient, log_lines: LogLines
) -> None:
    response = await http.get("/healthz", headers={REQUEST_ID_HEADER: "evil id\tforged"})
    returned = response.headers[REQUEST_ID_HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", returned)
    assert all("evil" not in json.dumps(line) for line in log_lines)


async def test_an_unexpected_error_is_a_500_that_keeps_its_request_id(
    app: Starlette, http: httpx.AsyncClient, log_lines: LogLines
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    app.state.nft_service.list_holdings = broken
    response = await list_nfts(http, **{REQUEST_ID_HEADER: "req-500"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL"
    assert response.headers[REQUEST_ID_HEADER] == "req-500"
    mine = [line for line in log_lines if line["request_id"] == "req-500"]
    assert any(line["level"] == "ERROR" and "RuntimeError" in line.get("exc", "") for line in mine)
    assert any(
        line["logger"] == "gateway.access" and line["http"]["status"] == 500 for line in mine
    )
    metrics = (await http.get("/metrics")).text
    assert sample(metrics, "nftgw_http_requests_total", route=NFTS_ROUTE, status="500") == 1


# -- health and readiness -----------------------------------------------------------------------


async def test_ready_once_the_lifespan_has_built_the_providers(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "providers": ["opensea", "alchemy", "moralis"],
    }
    assert (await http.get("/healthz")).status_code == 200


async def test_not_ready_before_the_lifespan_ran(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)  # no lifespan: nothing is built yet
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "starting"


# -- the Metrics observer on its own ------------------------------------------------------------


def test_a_breaker_is_in_exactly_one_state() -> None:
    metrics = Metrics()
    metrics.breaker_state("opensea", "open")
    metrics.breaker_state("opensea", "half-open")
    text = metrics.render().decode()
    assert sample(text, "nftgw_breaker_state", provider="opensea", state="half_open") == 1
    assert sample(text, "nftgw_breaker_state", provider="opensea", state="open") == 0
    assert sample(text, "nftgw_breaker_state", provider="opensea", state="closed") == 0


def test_cache_hits_and_misses_and_upstream_errors_are_counted() -> None:
    metrics = Metrics()
    metrics.cache_lookup("detail", hit=True)
    metrics.cache_lookup("detail", hit=False)
    metrics.cache_lookup("detail", hit=False)
    metrics.upstream_call("alchemy", "list", "timeout", 0.5)
    text = metrics.render().decode()
    assert sample(text, "nftgw_cache_lookups_total", kind="detail", result="hit") == 1
    assert sample(text, "nftgw_cache_lookups_total", kind="detail", result="miss") == 2
    assert sample(text, "nftgw_upstream_errors_total", provider="alchemy", outcome="timeout") == 1


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # would raise "Duplicated timeseries" if shared
    first.request("/", "GET", 200, 0.01)
    assert sample(second.render().decode(), "nftgw_http_requests_total") is None


def test_log_lines_are_json_with_extras_and_exceptions() -> None:
    logger = logging.getLogger("gateway.test")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord(
            "gateway.test",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("x",),
            exc_info=sys.exc_info(),
            extra={"provider": "opensea"},
        )
    line = json.loads(JSONLogFormatter().format(record))
    assert line["message"] == "failed x"
    assert line["provider"] == "opensea"
    assert line["exc_type"] == "ValueError"
    assert "boom" in line["exc"]


@asynccontextmanager
async def gateway_client(settings: Settings, sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            yield c


async def test_metrics_take_a_bearer_token_when_one_is_set(sandbox: Sandbox) -> None:
    settings = sandbox_settings(metrics_token="scrape-token-123")
    async with gateway_client(settings, sandbox) as http:
        assert (await http.get("/metrics")).status_code == 401
        answer = await http.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
        assert answer.status_code == 200


async def test_metrics_are_refused_in_production_without_a_token(sandbox: Sandbox) -> None:
    settings = sandbox_settings(profile="production", rate_limit="off")
    async with gateway_client(settings, sandbox) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_the_access_line_formats_with_any_standard_formatter(
    http: httpx.AsyncClient, log_lines: LogLines
) -> None:
    # The access record is built without Logger.info: a plain text handler (an operator's
    # own, or a test runner's) must still find every standard field on it.
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    access = logging.getLogger("gateway.access")
    access.addHandler(handler)
    try:
        await list_nfts(http, **{REQUEST_ID_HEADER: "req-text"})
    finally:
        access.removeHandler(handler)
    every_field = " ".join(f"%({name})s" for name in vars(logging.makeLogRecord({})))
    text = logging.Formatter(every_field + " %(message)s %(request_id)s").format(seen[0])
    assert text.endswith("POST /users/u1/nfts 200 req-text")
    assert seen[0].levelname == "INFO" and seen[0].name == "gateway.access"


async def test_serve_writes_the_access_line_its_formatter_would_write_for_the_record(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under serve's own setup (its handler alone on the root logger) the access line is
    # rendered straight into the batch; a reader of the log cannot tell it from the line
    # the JSON formatter writes for an AccessRecord, the form any other setup gets.
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # a test runner's capture handlers, for now
    level = root.level
    handler = configure_logging("INFO")
    secret = secrets.token_hex(16)
    install_log_redaction([secret])
    try:
        assert direct_json_lines() == (handler, handler.formatter)
        await list_nfts(http, **{REQUEST_ID_HEADER: "req-direct"})
        await http.post(f"/users/{secret}/nfts", json={})  # a 422, with a key in its path
    finally:
        handler.flush()
        root.removeHandler(handler)
        handler.close()
        root.setLevel(level)
    lines = [json.loads(line) for line in err.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "gateway.access"]
    assert [line["http"]["status"] for line in access] == [200, 422]
    first = access[0]
    record = AccessRecord(first["message"], first["request_id"], first["http"])
    expected = json.loads(JSONLogFormatter().format(record))
    assert list(first) == list(expected)  # the same keys in the same order
    assert {**first, "ts": None} == {**expected, "ts": None}
    assert first["message"] == "POST /users/u1/nfts 200" and first["request_id"] == "req-direct"
    assert secret not in err.getvalue() and access[1]["http"]["route"] == NFTS_ROUTE


def _record(level: int, message: str) -> logging.LogRecord:
    return logging.makeLogRecord({"name": "gateway.test", "levelno": level, "msg": message})


def test_serve_writes_its_lines_in_batches_in_order_and_warnings_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    handler = BatchedStderrHandler(interval=3600)  # no timed flush within this test
    handler.setFormatter(logging.Formatter("%(message)s"))
    for n in range(3):
        handler.handle(_record(logging.INFO, f"access {n}"))
    assert err.getvalue() == ""  # batched
    handler.handle(_record(logging.WARNING, "upstream failed"))
    assert err.getvalue().splitlines() == ["access 0", "access 1", "access 2", "upstream failed"]
    handler.handle(_record(logging.INFO, "access 3"))
    handler.flush()  # what logging.shutdown does at exit
    assert err.getvalue().splitlines()[-1] == "access 3"
    handler.close()


def test_a_full_batch_is_written_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    handler = BatchedStderrHandler(interval=3600, max_bytes=100)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for n in range(5):
        handler.handle(_record(logging.INFO, f"line {n:02d} " + "x" * 20))
    assert len(err.getvalue().splitlines()) >= 3  # 30 bytes a line, written per 100
    handler.close()
    handler.flush()
    assert len(err.getvalue().splitlines()) == 5


def test_serve_logs_through_the_batched_handler() -> None:
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO")
    try:
        assert isinstance(handler, BatchedStderrHandler)
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(level)


def test_request_latency_lands_in_cumulative_buckets_by_route_and_method() -> None:
    metrics = Metrics()
    for seconds, status in ((0.001, 200), (0.005, 200), (0.02, 404), (0.3, 200)):
        metrics.request("/graphql", "POST", status, seconds)
    text = metrics.render().decode()
    bucket = "nftgw_http_request_duration_seconds_bucket"
    assert sample(text, bucket, route="/graphql", method="POST", le="0.005") == 2  # le: <=
    assert sample(text, bucket, route="/graphql", method="POST", le="0.025") == 3
    assert sample(text, bucket, route="/graphql", method="POST", le="+Inf") == 4
    total = sample(text, "nftgw_http_request_duration_seconds_sum", route="/graphql")
    assert total is not None and abs(total - 0.326) < 1e-9
    assert sample(text, "nftgw_http_requests_total", status="200") == 3
    assert sample(text, "nftgw_http_requests_total", status="404") == 1
