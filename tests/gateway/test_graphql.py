"""The GraphQL face against the sandbox: the same data as REST, pages and cursors."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.cli import main as cli
from gateway.schema import SCHEMA_PATH, export_schema
from providers.sandbox import Sandbox
from providers.sandbox.world import BIG_BALANCE, HUGE_BALANCE, SMALL_WALLET, WHALE_WALLET

PAGE_QUERY = """
query ($address: String!, $page: Int!, $size: Int!) {
  wallet(address: $address) {
    address
    nfts(page: $page, size: $size) {
      total totalIsExact hasNextPage
      assets {
        quantity quantityInt quantityKnown
        nft { blockchain contractAddress tokenId collectionSlug collectionOpenseaSlug
              rarity { rank total } traits { type value } ownerAddresses
              provenance { field provider } }
      }
      providers { provider status errorKind }
    }
  }
}
"""

CONNECTION_QUERY = """
query ($address: String!, $first: Int!, $after: String) {
  wallet(address: $address) {
    nftConnection(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { nft { blockchain contractAddress tokenId } } }
    }
  }
}
"""


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def test_schema_graphql_matches_the_code() -> None:
    assert SCHEMA_PATH.read_text() == export_schema(), "run `nft-gateway export-schema`"


def test_export_schema_check_fails_on_drift(tmp_path: Any) -> None:
    from click.testing import CliRunner

    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")
    result = CliRunner().invoke(cli, ["export-schema", "--check", "--output", str(stale)])
    assert result.exit_code == 1
    assert CliRunner().invoke(cli, ["export-schema", "--output", str(stale)]).exit_code == 0
    assert stale.read_text() == export_schema()


async def test_merged_nft_with_provenance(client: httpx.AsyncClient) -> None:
    body = await graphql(client, PAGE_QUERY, address=SMALL_WALLET, page=1, size=50)
    assert "errors" not in body
    page = body["data"]["wallet"]["nfts"]
    punk = next(a for a in page["assets"] if a["nft"]["tokenId"] == "1337")
    provenance = {p["field"]: p["provider"] for p in punk["nft"]["provenance"]}

    assert punk["nft"]["collectionSlug"] == "pixel-punks"
    assert provenance["collection_slug"] == "opensea"
    assert provenance["rarity"] == "opensea"
    assert punk["nft"]["rarity"]["total"] == 5000
    assert page["totalIsExact"] is True
    assert {p["provider"]: p["status"] for p in page["providers"]} == {
        "opensea": "ok",
        "alchemy": "ok",
        "moralis": "ok",
    }


async def test_big_balances_do_not_overflow_int(client: httpx.AsyncClient) -> None:
    body = await graphql(client, PAGE_QUERY, address=SMALL_WALLET, page=1, size=50)
    assert "errors" not in body
    quantities = {
        (a["nft"]["blockchain"], a["nft"]["collectionSlug"], a["nft"]["tokenId"]): a
        for a in body["data"]["wallet"]["nfts"]["assets"]
    }
    badge = quantities[("ETH", "gold-badges", "7")]
    gem = quantities[("POLYGON", "polygon-gems", "1")]
    assert badge["quantity"] == str(BIG_BALANCE)
    assert badge["quantityInt"] is None
    assert gem["quantity"] == str(HUGE_BALANCE)
    assert quantities[("ETH", "sandbox-apes", "4821")]["quantityInt"] == 1


async def test_cursor_paging_yields_every_nft_exactly_once(client: httpx.AsyncClient) -> None:
    seen: list[tuple[str, str, str]] = []
    after = None
    total = None
    while True:
        body = await graphql(client, CONNECTION_QUERY, address=WHALE_WALLET, first=37, after=after)
        connection = body["data"]["wallet"]["nftConnection"]
        total = connection["totalCount"]
        seen += [
            (
                e["node"]["nft"]["blockchain"],
                e["node"]["nft"]["contractAddress"],
                e["node"]["nft"]["tokenId"],
            )
            for e in connection["edges"]
        ]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == total >= 2000


async def test_a_query_without_detail_fields_makes_no_detail_calls(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    query = """query ($a: String!) {
      wallet(address: $a) { nfts(page: 1, size: 10) { assets { nft { tokenId name image } } } }
    }"""
    body = await graphql(client, query, a=SMALL_WALLET)
    assert len(body["data"]["wallet"]["nfts"]["assets"]) == 10
    list_calls = sandbox.faults("opensea").calls

    await graphql(client, PAGE_QUERY, address=SMALL_WALLET, page=1, size=10)
    assert sandbox.faults("opensea").calls > list_calls  # detail fields selected: detail calls made


async def test_invalid_address_is_an_error_with_a_code(client: httpx.AsyncClient) -> None:
    body = await graphql(client, PAGE_QUERY, address="0xnothex", page=1, size=5)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ADDRESS"


async def test_out_of_range_size_and_bad_cursor_have_codes(client: httpx.AsyncClient) -> None:
    body = await graphql(client, PAGE_QUERY, address=SMALL_WALLET, page=1, size=1000)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_PAGINATION"
    body = await graphql(
        client, CONNECTION_QUERY, address=SMALL_WALLET, first=5, after="bm90LW91cnM="
    )
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_graphiql_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
