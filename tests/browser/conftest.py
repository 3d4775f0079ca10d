"""Browser tests: Debian's Chromium driven by Playwright against a real uvicorn server.

The gateway runs on the sandbox in a thread, on a free loopback port. Every page the
browser opens may reach 127.0.0.1 only: anything else is aborted and recorded, so a test
also proves the page works offline. Screenshots land in ``artifacts/browser/``.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it), never
from Playwright's own download. Without it the tests are skipped on a developer's
machine, and fail under CI (``CI`` set), where a skip would hide a missing install.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from tests.live import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"


@pytest.fixture(scope="package")
def live_server() -> Iterator[LiveServer]:
    server = LiveServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Package scope, not session: Playwright's sync API keeps an event loop current in this
# thread while it runs, which the async tests after this package must not inherit.
@pytest.fixture(scope="package")
def playwright_session() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    browser = playwright_session.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser
    finally:
        browser.close()


class OffsiteRequests(list[str]):
    """URLs the page tried to load from anywhere but the gateway (all were aborted)."""


@pytest.fixture
def offsite() -> OffsiteRequests:
    return OffsiteRequests()


@pytest.fixture
def context(browser: Browser, offsite: OffsiteRequests) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:")):
            route.continue_()
        else:
            offsite.append(url)
            route.abort()

    context.route("**/*", only_loopback)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext, offsite: OffsiteRequests) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"script errors on the page: {errors}"
    assert list(offsite) == [], f"the page reached beyond the gateway: {list(offsite)}"


class Screenshot(Protocol):
    def __call__(self, page: Page, name: str, *, full_page: bool = True) -> Path: ...


@pytest.fixture
def screenshot() -> Screenshot:
    """``screenshot(page, name)`` saves a PNG of the page as a test artefact."""

    def take(page: Page, name: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
