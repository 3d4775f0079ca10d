"""The browser faces: the gallery at ``/``, its static files, and GraphiQL that works offline.

Both pages are plain files served by the gateway: no build step, no CDN. The gallery talks
to the public GraphQL API only (``POST /graphql``), exactly as any other client would.
GraphiQL's scripts are vendored under ``static/vendor/`` (versions and licences in its
README) and the page that boots it is rendered here, with example queries preloaded as
tabs. Examples that do not validate against the running schema are left out, so a tab
never opens on an error (the DIDs example appears once the schema has ``Wallet.dids``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import build_schema, parse, validate
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.schema.base import BaseSchema

__all__ = [
    "EXAMPLE_QUERIES",
    "STATIC_DIR",
    "CachedStaticFiles",
    "ExampleQuery",
    "gallery",
    "graphiql_html",
    "graphiql_response",
    "valid_examples",
    "web_routes",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_CACHE_CONTROL = "public, max-age=3600"
SANDBOX_WALLET = "0x1111111111111111111111111111111111111111"
SANDBOX_BIG_WALLET = "0x2222222222222222222222222222222222222222"

# The pages load only what the gateway serves; images may come from providers' CDNs or
# the configured IPFS gateway, or be inline data: URIs (the sandbox's).
GALLERY_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: https: http:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# GraphiQL sets inline styles (panel sizes) and inlines its fonts as data: URIs.
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class ExampleQuery:
    """One GraphiQL tab: a query and its variables."""

    query: str
    variables: dict[str, object]

    def as_tab(self) -> dict[str, str]:
        return {"query": self.query, "variables": json.dumps(self.variables, indent=2)}


EXAMPLE_QUERIES: tuple[ExampleQuery, ...] = (
    ExampleQuery(
        query="""# A sandbox wallet: 11 NFTs on four chains (13
# with the 2 spam ones, which `total` leaves out),
# merged from OpenSea and Alchemy. `provenance`
# says which provider won each field.
query WalletNFTs($address: String!) {
  wallet(address: $address) {
    address
    nfts(page: 1, size: 5) {
      total
      totalIsExact
      hasNextPage
      assets {
        quantity
        quantityKnown
        nft {
          blockchain
          name
          collectionName
          tokenId
          rarity { rank total }
          traits { type value }
          provenance { field provider }
        }
      }
      providers { provider status errorKind }
    }
  }
}
""",
        variables={"address": SANDBOX_WALLET},
    ),
    ExampleQuery(
        query="""# 2,400 NFTs on ethereum and polygon, 200 of
# them spam: only the spam, only on polygon.
query SpamOnPolygon($address: String!) {
  wallet(address: $address) {
    nfts(page: 1, size: 10, chains: [POLYGON], spam: ONLY) {
      total
      assets { nft { name isSpam sources } }
    }
  }
}
""",
        variables={"address": SANDBOX_BIG_WALLET},
    ),
    ExampleQuery(
        query="""# A name works wherever an address does.
# identity(name:) goes further: the NFTs of
# every wallet the name links, as one list.
query ByName($name: String!) {
  wallet(address: $name) {
    address
    nfts(size: 3) { total assets { nft { name blockchain } } }
  }
  identity(name: $name) {
    name
    kind
    wallets { address }
    nfts(size: 3) { total }
  }
}
""",
        variables={"name": "alice.bit"},
    ),
    ExampleQuery(
        query="""# The same list as a cursor connection:
# pass pageInfo.endCursor as $after.
query Connection($address: String!, $after: String) {
  wallet(address: $address) {
    nftConnection(first: 3, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { nft { name blockchain } quantity } }
    }
  }
}
""",
        variables={"address": SANDBOX_WALLET, "after": None},
    ),
    ExampleQuery(
        query="""# The wallet's identities: .bit names,
# Next.ID proofs and name tags.
query WalletDIDs($address: String!) {
  wallet(address: $address) {
    address
    dids {
      total
      dids {
        type
        identity
        displayName
        isPrimary
        valid
        expiresAt
        links { platform identity valid }
        source
      }
      providers { provider status errorKind }
    }
  }
}
""",
        variables={"address": SANDBOX_WALLET},
    ),
)

_GRAPHIQL_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>nft-gateway · GraphiQL</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/vendor/graphiql.min.css">
  <link rel="stylesheet" href="/static/graphiql-page.css">
</head>
<body>
  <div id="graphiql" role="main">Loading GraphiQL…</div>
  <script id="graphiql-config" type="application/json">{config}</script>
  <script src="/static/vendor/react.production.min.js"></script>
  <script src="/static/vendor/react-dom.production.min.js"></script>
  <script src="/static/vendor/graphiql.min.js"></script>
  <script src="/static/graphiql-init.js"></script>
</body>
</html>
"""


def valid_examples(schema: BaseSchema | str) -> list[ExampleQuery]:
    """The examples that validate against ``schema`` (others wait for their fields)."""
    graphql_schema = build_schema(schema if isinstance(schema, str) else schema.as_str())
    return [
        example for example in EXAMPLE_QUERIES if not validate(graphql_schema, parse(example.query))
    ]


def graphiql_html(schema: BaseSchema | str, *, endpoint: str = "/graphql") -> str:
    """The GraphiQL page: vendored assets, the endpoint and the example tabs."""
    config = {
        "endpoint": endpoint,
        "tabs": [example.as_tab() for example in valid_examples(schema)],
    }
    return _GRAPHIQL_PAGE.format(config=script_json(config))


def script_json(value: object) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` as JSON escapes."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@lru_cache(maxsize=4)
def _cached_graphiql_html(sdl: str, endpoint: str) -> str:
    return graphiql_html(sdl, endpoint=endpoint)


def graphiql_response(schema: BaseSchema, request: Request) -> Response:
    """What ``GET /graphql`` answers a browser (``Accept: text/html``)."""
    page = _cached_graphiql_html(schema.as_str(), request.url.path)
    return HTMLResponse(page, headers={"Content-Security-Policy": GRAPHIQL_CSP})


class CachedStaticFiles(StaticFiles):
    """Static files with a cache lifetime: browsers revalidate with the ETag after an hour
    (the vendored GraphiQL bundle is 3.5 MB; it should not travel on every page load)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.setdefault("Cache-Control", STATIC_CACHE_CONTROL)
        return response


async def gallery(request: Request) -> Response:
    """``GET /``: the gallery page (all data comes from ``POST /graphql``)."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html",
        headers={"Content-Security-Policy": GALLERY_CSP, "Cache-Control": "no-cache"},
    )


def web_routes() -> list[BaseRoute]:
    """``/`` and ``/static/...``."""
    return [
        Route("/", gallery, methods=["GET", "HEAD"]),
        Mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static"),
    ]
