"""Shared fixtures: the sandbox emulators and a gateway app wired to them in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.settings import Settings
from providers.sandbox import Sandbox, build_sandbox

# The vendors' published examples (see fixtures/vendor/SOURCES.md), carried by the repository
# so that a fresh clone runs every mapping test.
VENDOR_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "vendor"


@pytest.fixture
def sandbox() -> Sandbox:
    return build_sandbox()


def sandbox_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"sandbox": "on", "exact_total_wait": 5.0}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings() -> Settings:
    return sandbox_settings()


@asynccontextmanager
async def gateway_client(sandbox: Sandbox, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for a gateway with ``settings`` on ``sandbox`` (lifespan included)."""
    app = create_app(settings, transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


@pytest.fixture
async def client(sandbox: Sandbox, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for a gateway running on the sandbox (lifespan included)."""
    async with gateway_client(sandbox, settings) as http:
        yield http
