"""``wallets(addresses:)``: several wallets paged like an identity, each NFT once with the
wallets holding it, names allowed, and a bound on how many."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.validation import checksum
from providers.sandbox.world import OTHER_HOLDER, SMALL_WALLET, TRIO_WALLET

PAGE_QUERY = """
query ($a: [String!]!, $page: Int!, $size: Int!) {
  wallets(addresses: $a) {
    addresses
    nfts(page: $page, size: $size) {
      total totalIsExact hasNextPage fetchedAt
      assets { quantity nft { blockchain contractAddress tokenId } wallets { address quantity } }
    }
  }
}
"""
CONNECTION_QUERY = """
query ($a: [String!]!, $first: Int!, $after: String) {
  wallets(addresses: $a) {
    nftConnection(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { nft { blockchain contractAddress tokenId } } }
    }
  }
}
"""


async def graphql(http: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def key(nft: dict[str, Any]) -> tuple[str, str, str]:
    return (nft["blockchain"], nft["contractAddress"], nft["tokenId"])


async def every_page(http: httpx.AsyncClient, wallets: list[str], size: int) -> list[Any]:
    assets: list[Any] = []
    for page in range(1, 50):
        body = await graphql(http, PAGE_QUERY, a=wallets, page=page, size=size)
        answer = body["data"]["wallets"]["nfts"]
        assets += answer["assets"]
        if not answer["hasNextPage"]:
            return assets
    raise AssertionError("no last page")


async def test_two_wallets_page_like_an_identity(client: httpx.AsyncClient) -> None:
    wallets = [SMALL_WALLET, TRIO_WALLET]
    whole = await graphql(client, PAGE_QUERY, a=wallets, page=1, size=100)
    answer = whole["data"]["wallets"]
    assert answer["addresses"] == [checksum(SMALL_WALLET), checksum(TRIO_WALLET)]
    total = answer["nfts"]["total"]
    assert answer["nfts"]["totalIsExact"] is True and answer["nfts"]["fetchedAt"]
    one_by_one = [key(a["nft"]) for a in answer["nfts"]["assets"]]
    assert len(one_by_one) == total == len(set(one_by_one))  # exact total, each NFT once

    paged = [key(a["nft"]) for a in await every_page(client, wallets, size=4)]
    assert paged == one_by_one  # one stable order, whatever the page size

    seen: list[tuple[str, str, str]] = []
    after = None
    while True:
        body = await graphql(client, CONNECTION_QUERY, a=wallets, first=5, after=after)
        connection = body["data"]["wallets"]["nftConnection"]
        assert connection["totalCount"] == total
        seen += [key(edge["node"]["nft"]) for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == one_by_one


async def test_an_nft_both_wallets_hold_is_listed_once_with_both(
    client: httpx.AsyncClient,
) -> None:
    body = await graphql(client, PAGE_QUERY, a=[SMALL_WALLET, OTHER_HOLDER], page=1, size=100)
    assets = body["data"]["wallets"]["nfts"]["assets"]
    shared = [a for a in assets if len(a["wallets"]) == 2]
    assert shared, "the sandbox's other holder shares ERC-1155s with the small wallet"
    for asset in shared:
        holders = [w["address"] for w in asset["wallets"]]
        assert holders == [checksum(SMALL_WALLET), checksum(OTHER_HOLDER)]
        assert int(asset["quantity"]) == sum(int(w["quantity"]) for w in asset["wallets"])


async def test_names_count_as_their_first_address_and_repeats_once(
    client: httpx.AsyncClient,
) -> None:
    named = await graphql(client, PAGE_QUERY, a=["alice.bit"], page=1, size=100)
    assert "errors" not in named, named
    (address,) = named["data"]["wallets"]["addresses"]
    both = await graphql(client, PAGE_QUERY, a=["alice.bit", address.lower()], page=1, size=100)
    assert both["data"]["wallets"]["addresses"] == [address]
    assert both["data"]["wallets"]["nfts"]["total"] == named["data"]["wallets"]["nfts"]["total"]


async def test_more_wallets_than_the_bound_is_refused_with_a_code(
    client: httpx.AsyncClient,
) -> None:
    addresses = ["0x" + f"{n:040x}" for n in range(1, 12)]  # 11: the default bound is 10
    body = await graphql(client, PAGE_QUERY, a=addresses, page=1, size=5)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "TOO_MANY_WALLETS"
    assert body["data"] is None
    empty = await graphql(client, PAGE_QUERY, a=[], page=1, size=5)
    assert empty["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    bad = await graphql(client, PAGE_QUERY, a=["0x12"], page=1, size=5)
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_ADDRESS"
