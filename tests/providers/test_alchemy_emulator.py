"""The Alchemy emulator's own wire format, as the vendor documents it (UPSTREAMS.md §2)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils.address import to_checksum_address

from providers.models import Chain
from providers.sandbox.alchemy import EXPIRED_PAGE_KEY_TEXT, alchemy_emulator
from providers.sandbox.faults import Emulator
from providers.sandbox.labelled import LABELLED_WALLET
from providers.sandbox.transport import SandboxTransport
from providers.sandbox.world import (
    BIG_BALANCE,
    OTHER_HOLDER,
    SMALL_WALLET,
    world,
)

HOST_BASE_URL = "http://{network}.alchemy.sandbox"
PATH_BASE_URL = "http://alchemy.sandbox/{network}"
CANARY_KEY = "canary-KEY-5f3a9c1e7d"
VENDOR_FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendor" / "alchemy"


@pytest.fixture
def emulator() -> Emulator:
    return alchemy_emulator()


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = SandboxTransport({"alchemy.sandbox": emulator.app})
    async with httpx.AsyncClient(transport=transport) as http:
        yield http


# -- the emulator's wire format ----------------------------------------------------------


async def get(
    client: httpx.AsyncClient, method: str, network: str = "eth-mainnet", **params: Any
) -> httpx.Response:
    return await client.get(
        f"http://{network}.alchemy.sandbox/nft/v3/any-key/{method}", params=params
    )


def vendor_item_keys() -> set[str]:
    owned = json.loads((VENDOR_FIXTURES / "getNFTsForOwner.example.json").read_text())
    single = json.loads((VENDOR_FIXTURES / "getNFTMetadata.sdk_output.example.json").read_text())
    return set(owned["ownedNfts"][0]) | set(single)


async def test_owned_nft_uses_only_vendor_keys_and_checksummed_addresses(
    client: httpx.AsyncClient,
) -> None:
    body = (await get(client, "getNFTsForOwner", owner=SMALL_WALLET)).json()

    allowed = vendor_item_keys() | {"animation"}  # animation: SDK type, UPSTREAMS.md §2.3
    for item in body["ownedNfts"]:
        assert set(item) <= allowed
        assert item["contract"]["address"] == to_checksum_address(item["contract"]["address"])
        assert "openSeaMetadata" in item["contract"] and "openseaMetadata" not in item["contract"]
        assert isinstance(item["balance"], str)
    assert set(body) == {"ownedNfts", "totalCount", "pageKey", "validAt"}
    assert body["pageKey"] is None


async def test_slim_shape_and_both_contract_filter_spellings(client: httpx.AsyncClient) -> None:
    apes = next(n for n in world().holdings(SMALL_WALLET, Chain.ETHEREUM))
    address = to_checksum_address(apes.contract)
    for name in ("contractAddresses[]", "contractAddresses"):
        response = await client.get(
            "http://eth-mainnet.alchemy.sandbox/nft/v3/k/getNFTsForOwner",
            params={"owner": SMALL_WALLET, "withMetadata": "false", name: address},
        )
        items = response.json()["ownedNfts"]
        assert items and all(set(i) == {"contractAddress", "tokenId", "balance"} for i in items)
        assert {i["contractAddress"] for i in items} == {address}
        assert response.json()["totalCount"] == len(items)


@pytest.fixture
async def paid_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = SandboxTransport({"alchemy.sandbox": alchemy_emulator(spam_tier="paid").app})
    async with httpx.AsyncClient(transport=transport) as http:
        yield http


async def test_free_tier_has_no_spam_fields_anywhere(client: httpx.AsyncClient) -> None:
    for network, owner in (("eth-mainnet", SMALL_WALLET), ("polygon-mainnet", LABELLED_WALLET)):
        body = (await get(client, "getNFTsForOwner", network, owner=owner)).json()

        contracts = [item["contract"] for item in body["ownedNfts"]]
        assert contracts and not any({"isSpam", "spamClassifications"} & set(c) for c in contracts)
        # The safelist status is OpenSea's, echoed on every tier.
        statuses = {c["openSeaMetadata"]["safelistRequestStatus"] for c in contracts}
        assert statuses & {"verified", "approved"} and "not_requested" in statuses


async def test_paid_tier_classifies_only_ethereum_and_polygon(
    paid_client: httpx.AsyncClient,
) -> None:
    for network, classified in (("polygon-mainnet", True), ("base-mainnet", False)):
        body = (await get(paid_client, "getNFTsForOwner", network, owner=LABELLED_WALLET)).json()

        contracts = [item["contract"] for item in body["ownedNfts"]]
        assert contracts and all(("isSpam" in c) is classified for c in contracts)


async def test_the_paid_classifier_misses_some_spam(paid_client: httpx.AsyncClient) -> None:
    body = await get(paid_client, "getNFTsForOwner", "polygon-mainnet", owner=LABELLED_WALLET)
    items = body.json()["ownedNfts"]
    truth = {
        n.contract: n.collection.is_spam for n in world().holdings(LABELLED_WALLET, Chain.POLYGON)
    }
    spam = [i for i in items if truth[i["contract"]["address"].lower()]]

    flagged = [i for i in spam if i["contract"]["isSpam"] is True]
    assert 0 < len(flagged) < len(spam)


async def test_spam_exclusion_filter(paid_client: httpx.AsyncClient) -> None:
    client = paid_client
    everything = (await get(client, "getNFTsForOwner", owner=SMALL_WALLET)).json()
    clean = (
        await get(client, "getNFTsForOwner", owner=SMALL_WALLET, **{"excludeFilters[]": "SPAM"})
    ).json()

    spam = [i for i in everything["ownedNfts"] if i["contract"]["isSpam"] is True]
    assert spam and spam[0]["contract"]["spamClassifications"]
    assert clean["totalCount"] == everything["totalCount"] - len(spam)
    assert all(i["contract"]["isSpam"] is not True for i in clean["ownedNfts"])


async def test_is_spam_is_null_for_some_honest_contracts(paid_client: httpx.AsyncClient) -> None:
    body = (await get(paid_client, "getNFTsForOwner", owner=SMALL_WALLET)).json()

    flags = {i["contract"]["isSpam"] for i in body["ownedNfts"]}
    assert None in flags and False in flags


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({"pageSize": "101"}, 400, "pageSize"),
        ({"pageKey": "made-up"}, 400, EXPIRED_PAGE_KEY_TEXT),
        ({"excludeFilters[]": "BORING"}, 400, "Invalid exclude filters"),
    ],
)
async def test_bad_requests_answer_plain_text(
    client: httpx.AsyncClient, params: dict[str, str], status: int, text: str
) -> None:
    response = await get(client, "getNFTsForOwner", owner=SMALL_WALLET, **params)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/plain")
    assert text in response.text


async def test_unknown_network_and_missing_key(client: httpx.AsyncClient) -> None:
    unknown = await get(client, "getNFTsForOwner", network="avax-mainnet", owner=SMALL_WALLET)
    locked = alchemy_emulator(api_keys={"k"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=locked.app)) as c:
        denied = await c.get(
            "http://eth-mainnet.alchemy.sandbox/nft/v3/nope/getNFTsForOwner",
            params={"owner": SMALL_WALLET},
        )

    assert unknown.status_code == 400
    assert (denied.status_code, denied.text) == (401, "Must be authenticated!")


async def test_single_nft_methods(client: httpx.AsyncClient) -> None:
    holdings = world().holdings(SMALL_WALLET, Chain.ETHEREUM)
    badge = next(n for n in holdings if n.token_id == "7" and OTHER_HOLDER in n.holders)
    address = to_checksum_address(badge.contract)

    by_dec = (await get(client, "getNFTMetadata", contractAddress=address, tokenId="7")).json()
    by_hex = (await get(client, "getNFTMetadata", contractAddress=address, tokenId="0x7")).json()
    owners = (await get(client, "getOwnersForNFT", contractAddress=address, tokenId="7")).json()
    balances = (
        await get(client, "getOwnersForContract", contractAddress=address, withTokenBalances="true")
    ).json()
    missing = (await get(client, "getNFTMetadata", contractAddress=address, tokenId="999")).json()

    assert by_dec == by_hex and by_dec["tokenId"] == "7" and "balance" not in by_dec
    assert owners == {
        "owners": sorted(to_checksum_address(a) for a in (SMALL_WALLET, OTHER_HOLDER)),
        "pageKey": None,
    }
    mine = next(o for o in balances["owners"] if o["ownerAddress"].lower() == SMALL_WALLET)
    assert {"tokenId": "7", "balance": str(BIG_BALANCE)} in mine["tokenBalances"]
    assert missing["raw"]["error"] and missing["name"] is None  # 200 with raw.error


async def test_attributes_summary_and_rarity(client: httpx.AsyncClient) -> None:
    ape = next(n for n in world().holdings(SMALL_WALLET, Chain.ETHEREUM) if n.token_id == "4821")
    address = to_checksum_address(ape.contract)

    summary = (await get(client, "summarizeNFTAttributes", contractAddress=address)).json()
    rarity = (await get(client, "computeRarity", contractAddress=address, tokenId="4821")).json()

    assert summary["totalSupply"] == str(ape.collection.total_supply)
    assert summary["contractAddress"] == address
    kind, value = ape.traits[0]
    assert summary["summary"][kind][str(value)] >= 1
    assert [(r["traitType"], r["value"]) for r in rarity["rarities"]] == list(ape.traits)
    assert all(0 < r["prevalence"] <= 1 for r in rarity["rarities"])
