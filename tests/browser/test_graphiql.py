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


def test_graphiql_docs_pane_lists_the_schema_types(
    page: Page, live_server: LiveServer, offsite: OffsiteRequests, screenshot: Screenshot
) -> None:
    """GraphiQL's own introspection query loads the schema (it is 15 deep: past the data
    limits, within introspection's own), so Docs lists the types instead of "Error fetching
    schema"."""
    introspection: list[str] = []
    page.on(
        "request",
        lambda request: (
            introspection.append(request.post_data or "")
            if "IntrospectionQuery" in (request.post_data or "")
            else None
        ),
    )
    page.goto(live_server.url + "/graphql")
    page.get_by_role("button", name="Show Documentation Explorer").click()
    docs = page.get_by_role("region", name="Documentation Explorer")
    expect(docs).to_contain_text("All Schema Types")
    for type_name in ("Query", "Wallet", "NFTPage", "Identity"):
        expect(docs.get_by_role("link", name=type_name, exact=True).first).to_be_visible()
    expect(docs).not_to_contain_text("Error fetching schema")
    screenshot(page, "graphiql-docs-types")

    docs.get_by_role("link", name="Wallet", exact=True).first.click()
    expect(docs).to_contain_text("address")
    screenshot(page, "graphiql-docs")
    assert introspection, "GraphiQL sent no introspection query"
    assert list(offsite) == []
