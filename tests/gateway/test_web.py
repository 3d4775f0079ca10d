"""The browser faces over HTTP: the gallery page, its static files, and offline GraphiQL.

What a browser does with them is in tests/browser/; here: what the gateway serves.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from gateway.schema import schema
from gateway.web import EXAMPLE_QUERIES, ExampleQuery, valid_examples

HTML = {"accept": "text/html,application/xhtml+xml"}


class AssetLinks(HTMLParser):
    """Every script src and stylesheet href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))


def asset_links(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


async def test_graphiql_is_served_to_browsers_from_the_gateway_only(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = asset_links(response.text)
    assert "/static/vendor/graphiql.min.js" in urls
    assert all(url.startswith("/static/") for url in urls), urls
    assert "connect-src 'self'" in response.headers["content-security-policy"]
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["cache-control"] == "public, max-age=3600"


async def test_graphiql_page_preloads_every_example_as_a_tab(client: httpx.AsyncClient) -> None:
    page = (await client.get("/graphql", headers=HTML)).text
    for example in EXAMPLE_QUERIES:
        name = re.search(r"query (\w+)", example.query)
        assert name is not None and name.group(1) in page


def test_every_example_query_validates_against_the_schema() -> None:
    # An example that stops validating silently disappears from GraphiQL: catch it here.
    assert valid_examples(schema) == list(EXAMPLE_QUERIES)


@pytest.mark.parametrize("example", EXAMPLE_QUERIES, ids=lambda e: e.query.split("query ")[1][:20])
async def test_every_example_query_answers_without_errors_on_the_sandbox(
    client: httpx.AsyncClient, example: ExampleQuery
) -> None:
    response = await client.post(
        "/graphql", json={"query": example.query, "variables": example.variables}
    )
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]


async def test_api_clients_still_get_json_from_get_graphql(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={
            "query": '{ wallet(address: "0x1111111111111111111111111111111111111111") { address } }'
        },
        headers={"accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["wallet"]["address"].startswith("0x")


async def test_the_gallery_page_and_its_files_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert '<label for="wallet-input">' in response.text
    for url in asset_links(response.text):
        assert (await client.get(url)).status_code == 200, url


async def test_the_gallery_scripts_use_only_the_public_graphql_api(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/")).text
    scripts = [url for url in asset_links(page) if url.endswith(".js")]
    assert scripts == ["/static/gallery-api.js", "/static/gallery-view.js", "/static/app.js"]
    source = "\n".join([(await client.get(url)).text for url in scripts])
    assert set(re.findall(r'ENDPOINT = "([^"]+)"', source)) == {"/graphql"}
    assert "fetch(" in source and source.count("fetch(") == 1  # one way out: gql()
    assert "innerHTML" not in source  # API values go in as text, never as markup
    # An address is a wallet; anything else is an identity, as REST reads a name.
    assert "wallet(address: $input)" in source and "identity(name: $input)" in source


async def test_vendored_assets_carry_their_licences(client: httpx.AsyncClient) -> None:
    for name in ("LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom", "README.md"):
        response = await client.get(f"/static/vendor/{name}")
        assert response.status_code == 200, name
    readme = (await client.get("/static/vendor/README.md")).text
    assert "3.8.3" in readme and "18.3.1" in readme
