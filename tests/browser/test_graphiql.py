"""GraphiQL at ``/graphql`` with the network blocked for anything but the gateway."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, OffsiteRequests, Screenshot

pytestmark = pytest.mark.browser


def test_graphiql_runs_a_query_offline(
    page: Page, live_server: LiveServer, offsite: OffsiteRequests, screenshot: Screenshot
) -> None:
    page.goto(live_server.url + "/graphql")
    expect(page.locator(".graphiql-container")).to_be_visible()
    # The example tabs are preloaded, the first one with its variables.
    expect(page.get_by_role("tab", name="WalletNFTs")).to_be_visible()
    expect(page.get_by_role("tab", name="WalletDIDs")).to_be_visible()
    expect(page.locator(".graphiql-editor-tool .CodeMirror").first).to_contain_text("0x1111")

    page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .result-window")
    expect(result).to_contain_text('"totalIsExact": true')
    expect(result).to_contain_text("Pixel Punks #42")
    expect(result).not_to_contain_text('"errors"')
    screenshot(page, "graphiql-result")
    assert list(offsite) == []
