"""An identity's NFTs across every wallet it links: each NFT once, labelled, paged stably.

``shared.bit`` (added to the sandbox identities here) points to ``OTHER_HOLDER`` and then
``SMALL_WALLET``, which hold two ERC-1155 tokens in common: the case where dedupe matters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from gateway.identity.union import LinkedHolding, WalletShare, _union
from gateway.nfts.merging import Holding
from gateway.nfts.pages import HoldingsSlice
from gateway.validation import checksum
from providers.models import Chain, NFTRecord
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.identities import (
    FAR_FUTURE,
    BitAccount,
    BitRecord,
    Persona,
    Proof,
    identities,
    persona_key,
)
from providers.sandbox.world import (
    BIG_BALANCE,
    DID_WALLET,
    OTHER_HOLDER,
    SMALL_WALLET,
)

SHARED = BitAccount(
    "shared.bit",
    owner=OTHER_HOLDER,
    manager=OTHER_HOLDER,
    registered_at=1_700_000_000,
    expired_at=FAR_FUTURE,
    records=(BitRecord("address.60", OTHER_HOLDER), BitRecord("address.60", SMALL_WALLET)),
)
# A persona whose proof of OTHER_HOLDER went stale: only SMALL_WALLET is linked through it.
STALE = Persona(
    persona_key("stale"),
    proofs=(
        Proof("ethereum", OTHER_HOLDER, 1, 2, is_valid=False, invalid_reason="signature"),
        Proof("ethereum", SMALL_WALLET, 1, 2),
        Proof("github", "stale-dev", 1, 2),
    ),
)

ASSET = "nft { chain contractAddress tokenId } quantity quantityKnown wallets { address quantity }"
IDENTITY_PAGE = (
    "query ($n: String!, $p: Int!, $s: Int!) { identity(name: $n) {"
    " name kind wallets { address links { kind via } wallet { address } }"
    f" nfts(page: $p, size: $s) {{ total totalIsExact hasNextPage assets {{ {ASSET} }}"
    " providers { provider status } } } }"
)
IDENTITY_CONNECTION = """query ($n: String!, $f: Int!, $a: String) { identity(name: $n) {
  nftConnection(first: $f, after: $a) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { nft { chain contractAddress tokenId } wallets { address } } }
} } }"""
WALLET_KEYS = """query ($a: String!) { wallet(address: $a) {
  nfts(size: 100) { total assets { nft { chain contractAddress tokenId } } } } }"""


@pytest.fixture
def sandbox() -> Sandbox:
    base = identities()
    return build_sandbox(
        people=replace(
            base,
            bit_accounts=(*base.bit_accounts, SHARED),
            personas=(*base.personas, STALE),
        )
    )


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body


def key(asset: dict[str, Any]) -> tuple[str, str, str]:
    nft = asset["nft"]
    return nft["chain"], nft["contractAddress"], nft["tokenId"]


async def wallet_keys(client: httpx.AsyncClient, address: str) -> list[tuple[str, str, str]]:
    body = await graphql(client, WALLET_KEYS, a=address)
    assets = body["data"]["wallet"]["nfts"]["assets"]
    assert len(assets) == body["data"]["wallet"]["nfts"]["total"] < 100
    return [key(asset) for asset in assets]


async def all_pages(client: httpx.AsyncClient, name: str, size: int) -> tuple[list[Any], int]:
    assets: list[dict[str, Any]] = []
    page, total = 1, -1
    while True:
        body = await graphql(client, IDENTITY_PAGE, n=name, p=page, s=size)
        nfts = body["data"]["identity"]["nfts"]
        assert total in (-1, nfts["total"]), "total never changes between pages"
        total = nfts["total"]
        assets += nfts["assets"]
        if not nfts["hasNextPage"]:
            return assets, total
        page += 1


# -- the linked wallets ----------------------------------------------------------------------


async def test_a_bit_name_links_its_address_records_in_order(client: httpx.AsyncClient) -> None:
    identity = (await graphql(client, IDENTITY_PAGE, n="Shared.bit", p=1, s=1))["data"]["identity"]

    assert identity["name"] == "shared.bit" and identity["kind"] == "DOTBIT"
    assert [w["address"] for w in identity["wallets"]] == [
        checksum(OTHER_HOLDER),
        checksum(SMALL_WALLET),
    ]
    for wallet in identity["wallets"]:
        assert wallet["links"] == [{"kind": "DOTBIT_RECORD", "via": "shared.bit"}]
        assert wallet["wallet"]["address"] == wallet["address"]


async def test_a_persona_links_only_its_valid_ethereum_proofs(client: httpx.AsyncClient) -> None:
    for name in (persona_key("stale"), "github:stale-dev"):
        identity = (await graphql(client, IDENTITY_PAGE, n=name, p=1, s=1))["data"]["identity"]
        assert [w["address"] for w in identity["wallets"]] == [checksum(SMALL_WALLET)]
        assert identity["wallets"][0]["links"] == [
            {"kind": "NEXTID_PROOF", "via": persona_key("stale")}
        ]


async def test_a_handle_whose_only_proof_is_stale_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": IDENTITY_PAGE, "variables": {"n": "twitter:alice_old", "p": 1, "s": 1}},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "NAME_NOT_FOUND"


async def test_a_twitter_handle_links_the_wallets_its_persona_proves(
    client: httpx.AsyncClient,
) -> None:
    identity = (await graphql(client, IDENTITY_PAGE, n="twitter:alice_nft", p=1, s=1))["data"][
        "identity"
    ]
    assert {w["address"] for w in identity["wallets"]} == {
        checksum(SMALL_WALLET),
        checksum(DID_WALLET),
    }


# -- the union of their NFTs -----------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 7, 100])
async def test_pages_return_each_nft_once_and_total_agrees(
    client: httpx.AsyncClient, size: int
) -> None:
    other = await wallet_keys(client, OTHER_HOLDER)
    small = await wallet_keys(client, SMALL_WALLET)
    assert set(other) & set(small), "the fixture needs NFTs held by both wallets"

    assets, total = await all_pages(client, "shared.bit", size)
    keys = [key(asset) for asset in assets]

    assert len(keys) == len(set(keys)) == total
    # Wallets in record order, then each wallet's own order; a later sighting keeps its place.
    assert keys == list(dict.fromkeys(other + small))


async def test_each_nft_is_labelled_with_every_wallet_holding_it(
    client: httpx.AsyncClient,
) -> None:
    other = set(await wallet_keys(client, OTHER_HOLDER))
    small = set(await wallet_keys(client, SMALL_WALLET))
    assets, _ = await all_pages(client, "shared.bit", 100)

    for asset in assets:
        expected = [
            checksum(address)
            for address, held in ((OTHER_HOLDER, other), (SMALL_WALLET, small))
            if key(asset) in held
        ]
        assert [w["address"] for w in asset["wallets"]] == expected
    shared_badge = next(a for a in assets if a["nft"]["tokenId"] == "7" and len(a["wallets"]) == 2)
    assert int(shared_badge["quantity"]) == BIG_BALANCE + 3  # summed over the two wallets
    assert [int(w["quantity"]) for w in shared_badge["wallets"]] == [3, BIG_BALANCE]


async def test_the_connection_walks_the_same_list_as_the_pages(client: httpx.AsyncClient) -> None:
    pages, total = await all_pages(client, "shared.bit", 100)
    seen: list[tuple[str, str, str]] = []
    after = None
    while True:
        body = await graphql(client, IDENTITY_CONNECTION, n="shared.bit", f=4, a=after)
        connection = body["data"]["identity"]["nftConnection"]
        assert connection["totalCount"] == total
        seen += [key(edge["node"]) for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [key(asset) for asset in pages]


async def test_rest_with_a_name_serves_the_same_union(client: httpx.AsyncClient) -> None:
    graph, total = await all_pages(client, "shared.bit", 100)
    response = await client.post(
        "/users/u1/nfts", json={"wallet_address": "shared.bit", "page": 1, "size": 100}
    )

    body = response.json()
    assert response.status_code == 200 and body["total"] == total
    assert response.headers["X-NFTGW-Providers"] == "opensea=ok, alchemy=ok, moralis=ok"
    rest_keys = [(a["nft"]["contract_address"], a["nft"]["token_id"]) for a in body["assets"]]
    assert rest_keys == [(a["nft"]["contractAddress"], a["nft"]["tokenId"]) for a in graph]
    assert [a["wallets"] for a in body["assets"]] == [
        [w["address"] for w in a["wallets"]] for a in graph
    ]


async def test_a_provider_failing_for_the_identity_is_reported_not_fatal(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults("alchemy").fail_next(500, times=500)
    body = await graphql(client, IDENTITY_PAGE, n="shared.bit", p=1, s=5)

    nfts = body["data"]["identity"]["nfts"]
    assert nfts["assets"] and nfts["totalIsExact"] is False
    statuses = {p["provider"]: p["status"] for p in nfts["providers"]}
    assert statuses == {"opensea": "ok", "alchemy": "failed", "moralis": "ok"}


# -- the union itself (pure) -----------------------------------------------------------------


def holding(token_id: str) -> Holding:
    record = NFTRecord("alchemy", Chain.ETHEREUM, "0xc", token_id, quantity=1)
    return Holding(nft=record, records=(record,), provenance=())


def whole(*token_ids: str) -> HoldingsSlice:
    holdings = tuple(holding(t) for t in token_ids)
    return HoldingsSlice(holdings, 0, len(holdings), True, False, ())


def test_union_keeps_first_places_and_labels_later_sightings() -> None:
    union = _union(["0xa", "0xb", "0xc"], [whole("1", "2"), None, whole("3", "1")])

    assert [u.holding.nft.token_id for u in union] == ["1", "2", "3"]
    assert union[0].wallets == ("0xa", "0xc")
    assert union[0].counted_quantity() == (2, True)
    assert union[2] == LinkedHolding((WalletShare("0xc", holding("3")),))
