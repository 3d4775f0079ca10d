"""Upstream failures in the log: one WARNING per provider and kind per interval, and one
for a real outage end to end (the sandbox's fault switches)."""

from __future__ import annotations

import logging

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.http.upstream_log import UpstreamFailureLog
from providers.sandbox import build_sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.conftest import sandbox_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.upstream"]


def test_a_burst_of_failures_is_one_line_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    log = UpstreamFailureLog(interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="gateway.upstream"):
        for _ in range(5):
            log.failure("opensea", "list", "timeout")
            clock.now += 1
        log.failure("alchemy", "list", "timeout")  # another provider: its own line
        log.failure("opensea", "list", "rate_limited")  # another kind: its own line
        clock.now += 10
        log.failure("opensea", "detail", "timeout")
    lines = warnings(caplog)
    assert [r.getMessage() for r in lines] == [
        "upstream opensea failed: timeout (list)",
        "upstream alchemy failed: timeout (list)",
        "upstream opensea failed: rate_limited (list)",
        "upstream opensea failed: timeout (detail); 4 more like it since the last line",
    ]
    assert all(r.levelno == logging.WARNING for r in lines)
    last = lines[-1]
    assert (last.provider, last.kind, last.suppressed) == ("opensea", "timeout", 4)  # type: ignore[attr-defined]


async def test_a_provider_outage_is_logged_with_its_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = build_sandbox()
    sandbox.faults("opensea").status = 503
    settings = sandbox_settings(exact_total_wait=2.0, retry_backoff_base=0.01)
    app = create_app(settings, transport=sandbox.transport())
    with caplog.at_level(logging.WARNING, logger="gateway.upstream"):
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                body = {"wallet_address": SMALL_WALLET, "page": 1, "size": 5}
                response = await http.post("/users/u1/nfts", json=body)
    assert response.status_code == 200  # alchemy still answers
    lines = [r for r in warnings(caplog) if r.provider == "opensea"]  # type: ignore[attr-defined]
    assert lines, "an opensea failure was logged"
    kinds = [r.kind for r in lines]  # type: ignore[attr-defined]
    assert kinds[0] == "unavailable"  # what the emulator's 503 is
    # Every chain and retry of one kind is one line (the breaker may open: its own kind).
    assert len(kinds) == len(set(kinds))
    assert set(kinds) <= {"unavailable", "circuit_open"}
