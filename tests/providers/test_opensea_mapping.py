"""OpenSea mapping: vendor fixtures, the UPSTREAMS.md §1 examples and every listed quirk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from providers.models import Chain, CollectionInfo, Rarity, TokenStandard, Trait
from providers.opensea.mapping import (
    chain_from_segment,
    chain_segment,
    next_cursor,
    owners_quantity,
    to_collection_info,
    to_nft_detail,
    to_nft_record,
)

REPO = Path(__file__).parents[2]
VENDOR = REPO / "tests" / "fixtures" / "vendor" / "opensea"
OWN = REPO / "tests" / "fixtures" / "opensea"

WALLET = "0x" + "1" * 40
OTHER = "0x" + "7" * 40
MIXED_WALLET = "0x" + "ab" * 20  # listed as 0xaBaB... in get_nft.big_quantity.json


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def own(name: str) -> Any:
    return load(OWN / name)


# -- chains -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "chain"),
    [
        ("ethereum", Chain.ETHEREUM),
        ("polygon", Chain.POLYGON),
        ("matic", Chain.POLYGON),
        ("MATIC", Chain.POLYGON),
        ("base", Chain.BASE),
        ("arbitrum", Chain.ARBITRUM),
        ("optimism", Chain.OPTIMISM),
        ("klaytn", None),
        ("", None),
        (None, None),
    ],
)
def test_chain_segments_parse_with_the_matic_alias(segment: Any, chain: Chain | None) -> None:
    assert chain_from_segment(segment) is chain


def test_every_chain_round_trips_and_polygon_uses_the_current_name() -> None:
    assert chain_segment(Chain.POLYGON) == "polygon"
    for chain in Chain:
        assert chain_from_segment(chain_segment(chain)) is chain


# -- vendor fixtures --------------------------------------------------------------------


def test_vendor_get_nft_mock_with_made_up_contract_is_rejected() -> None:
    # The SDK mock's "0xcontract123" is not an address: no identity, so no record.
    raw = load(VENDOR / "get_nft.sdk_mock.example.json")["nft"]
    assert to_nft_detail(raw, Chain.ETHEREUM, WALLET) is None
    assert to_nft_record(raw, Chain.ETHEREUM, WALLET) is None


def test_vendor_get_nft_mock_maps_legacy_rarity_and_skips_made_up_owners() -> None:
    raw = dict(load(VENDOR / "get_nft.sdk_mock.example.json")["nft"])
    raw["contract"] = "0x" + "c" * 40  # give it a real identity to see the rest
    record = to_nft_detail(raw, Chain.ETHEREUM, WALLET)

    assert record is not None
    assert (record.token_id, record.token_standard) == ("1234", TokenStandard.ERC721)
    assert record.name == "Test NFT #1234"
    assert record.image == "https://example.com/nft/1234.png"
    assert record.traits == (Trait("Background", "Blue"),)
    assert record.rarity == Rarity(rank=42, score=0.95, total=10000)
    # "0xOwner123" is not an address: dropped, so the wallet is not listed.
    assert record.owner_addresses == ()
    assert record.quantity is None
    assert record.spam_signals is None  # OpenSea has no spam field


def test_vendor_get_collection_mock_falls_back_to_total_supply() -> None:
    raw = load(VENDOR / "get_collection.sdk_mock.example.json")  # rarity: null
    assert to_collection_info(raw) == CollectionInfo(
        slug="test-collection", name="Test Collection", rarity_total=10000, ranked=False
    )


# -- UPSTREAMS.md examples --------------------------------------------------------------


def test_list_example_maps_both_rows() -> None:
    body = own("list_by_account.upstreams_1_3.json")
    ape, badge = (to_nft_record(row, Chain.ETHEREUM, WALLET) for row in body["nfts"])

    assert ape is not None and badge is not None
    assert ape.key == (Chain.ETHEREUM, "0x" + "abc" * 13 + "a", "4821")
    assert ape.source == "opensea"
    assert ape.collection_slug == ape.collection_opensea_slug == "example-apes"
    assert ape.collection_name is None
    assert ape.image == "https://i.seadn.io/s/raw/files/ape4821.png?w=1000"
    assert ape.animation_url is None
    assert ape.traits is None  # [] in a list payload means "not told"
    assert ape.quantity == 1
    assert ape.owner_addresses == (WALLET,)
    assert (ape.is_nsfw, ape.trading_disabled, ape.spam_signals) == (False, False, None)
    assert ape.owners_complete is True  # an ERC-721's one holder is the wallet
    assert ape.rarity is None

    assert badge.token_standard is TokenStandard.ERC1155
    assert badge.quantity is None  # unknown until the detail call
    assert badge.description is None
    assert badge.animation_url == "https://raw2.seadn.io/badge7.mp4"
    assert next_cursor(body) == "LXBrPTEyMzQ1Njc4OQ=="


def test_get_nft_example_maps_traits_rank_owners_and_quantity() -> None:
    raw = own("get_nft.upstreams_1_4.json")["nft"]
    record = to_nft_detail(raw, Chain.ETHEREUM, WALLET)

    assert record is not None
    assert record.traits == (Trait("Tier", "Gold"), Trait("Level", "3"))
    assert record.rarity == Rarity(rank=12)
    assert record.owner_addresses == (WALLET, "0x" + "3" * 40)
    assert record.quantity == 3
    assert record.animation_url == "https://raw2.seadn.io/badge7.mp4"
    assert (record.is_nsfw, record.trading_disabled) == (False, False)
    assert record.owners_complete is True


def test_get_nft_example_for_a_wallet_that_is_not_an_owner_has_no_quantity() -> None:
    raw = own("get_nft.upstreams_1_4.json")["nft"]
    record = to_nft_detail(raw, Chain.ETHEREUM, "0x" + "9" * 40)
    assert record is not None and record.quantity is None


def test_owners_example_page() -> None:
    body = own("owners.upstreams_1_5.json")
    assert owners_quantity(body, WALLET) == (3, "b3duZXJzOjI=")
    assert owners_quantity(body, OTHER) == (None, "b3duZXJzOjI=")


def test_collection_example_prefers_rarity_max_rank() -> None:
    raw = own("get_collection.upstreams_1_6.json")
    assert to_collection_info(raw) == CollectionInfo(
        "example-apes", "Example Apes", 10000, ranked=True
    )


# -- quirks -----------------------------------------------------------------------------


def quirk_rows() -> list[Any]:
    return list(own("list_by_account.quirks.json")["nfts"])


def test_list_quirks_skip_rows_without_identity() -> None:
    records = [to_nft_record(row, Chain.POLYGON, WALLET) for row in quirk_rows()]
    kept = [r.token_id for r in records if r is not None]
    # "1e3", a JSON number id, "0xcontract123", a missing contract, null and a string: dropped.
    assert kept == ["15", "42", "3100"]


def test_list_row_with_filled_traits_keeps_them_and_stringifies_numbers() -> None:
    record = to_nft_record(quirk_rows()[0], Chain.POLYGON, WALLET)
    assert record is not None
    assert record.contract_address == "0x" + "abc" * 13 + "a"  # lower-cased
    assert record.token_standard is TokenStandard.ERC721  # "ERC721" upper-case accepted
    assert record.traits == (
        Trait("Cap", "Red"),
        Trait("Spores", "12"),
        Trait("Weight", "2.5"),
        Trait("Born", "1546360800"),
        Trait("Glows", "true"),
    )


def test_list_row_blank_media_and_name_are_none() -> None:
    record = to_nft_record(quirk_rows()[0], Chain.POLYGON, WALLET)
    assert record is not None
    assert (record.name, record.image, record.animation_url) == (None, None, None)
    # NSFW is a fact, not spam: OpenSea has no spam field at all.
    assert (record.is_nsfw, record.trading_disabled, record.spam_signals) == (True, False, None)


def test_list_row_keeps_ipfs_originals_and_normalises_the_id() -> None:
    record = to_nft_record(quirk_rows()[1], Chain.POLYGON, WALLET)
    assert record is not None
    assert record.token_id == "42"  # "0042" is the same token
    assert record.image == "ipfs://bafybeigdyrexample/42.png"
    assert record.animation_url == "ipfs://bafybeigdyrexample/42.mp4"
    assert record.traits is None  # traits: null
    assert record.quantity is None  # ERC-1155
    assert (record.is_nsfw, record.trading_disabled) == (None, None)  # flags absent
    assert record.owners_complete is False  # an ERC-1155 row names only the wallet


def test_list_row_with_unknown_standard_and_disabled_flag() -> None:
    record = to_nft_record(quirk_rows()[2], Chain.ETHEREUM, WALLET)
    assert record is not None
    assert record.token_standard is None
    assert record.quantity is None  # not known to be an ERC-721
    assert record.trading_disabled is True  # is_disabled: disabled for trading
    assert record.spam_signals is None


def test_list_without_next_key_is_the_last_page() -> None:
    assert next_cursor(own("list_by_account.quirks.json")) is None
    assert next_cursor({"nfts": [], "next": None}) is None
    assert next_cursor({"nfts": [], "next": ""}) is None
    assert next_cursor("not an object") is None


def test_detail_takes_the_exact_quantity_string_above_int32() -> None:
    raw = own("get_nft.big_quantity.json")["nft"]
    record = to_nft_detail(raw, Chain.ETHEREUM, MIXED_WALLET)

    assert record is not None
    assert record.quantity == 2147495993  # not the clamped 2147483647
    # Owners compare case-insensitively; malformed owner entries are dropped.
    assert record.owner_addresses == (OTHER, MIXED_WALLET)
    assert record.traits == ()  # detail [] means "no traits"
    assert record.rarity is None
    assert record.image == "ipfs://bafybeigdyrexample/7.png"
    assert record.animation_url == "ipfs://bafybeigdyrexample/7.mp4"


def test_detail_with_null_traits_and_owners_knows_neither() -> None:
    raw = own("get_nft.null_traits_owners.json")["nft"]
    record = to_nft_detail(raw, Chain.ETHEREUM, WALLET)

    assert record is not None
    assert record.traits is None
    assert record.owner_addresses is None
    assert record.quantity is None  # ERC-1155: the /owners endpoint must tell
    assert record.rarity is None  # rarity without a rank
    assert record.name is None
    assert record.owners_complete is None  # owners: null past 50 holders
    assert record.spam_signals is None  # is_suspicious (e.g. stolen) is not spam


def test_detail_of_erc721_with_null_owners_keeps_quantity_one() -> None:
    raw = dict(own("get_nft.null_traits_owners.json")["nft"], token_standard="erc721")
    record = to_nft_detail(raw, Chain.ETHEREUM, WALLET)
    assert record is not None and record.quantity == 1


def test_detail_legacy_rarity_and_numeric_trait_values() -> None:
    raw = own("get_nft.legacy_rarity.json")["nft"]
    record = to_nft_detail(raw, Chain.ETHEREUM, WALLET)

    assert record is not None
    assert record.rarity == Rarity(rank=12, score=1.73, total=9999)  # tokens_scored
    assert record.traits == (
        Trait("Level", "3"),  # 3.0 is the integer 3
        Trait("Boost", "7.5"),
        Trait("Birthday", "2021-05-01"),
    )
    assert record.quantity == 1
    assert record.owners_complete is True


def test_owners_pages_with_big_balance_and_empty_next() -> None:
    assert owners_quantity(own("owners.page1.json"), WALLET) == (None, "b3duZXJzOjI=")
    last = own("owners.page2_last_empty_next.json")
    assert owners_quantity(last, WALLET) == (2**64 + 7, None)
    assert owners_quantity({"owners": None}, WALLET) == (None, None)


@pytest.mark.parametrize("raw", [None, [], "x", {"name": "no slug"}, {"collection": ""}])
def test_collection_without_slug_is_none(raw: Any) -> None:
    assert to_collection_info(raw) is None


def test_collection_total_falls_back_through_rarity_total_supply() -> None:
    raw = {"collection": "s", "name": None, "rarity": {"total_supply": 77}, "total_supply": 80}
    assert to_collection_info(raw) == CollectionInfo("s", None, 77, ranked=True)


@pytest.mark.parametrize(
    ("rarity", "ranked"),
    [
        ({"rarity": {"max_rank": 10}}, True),
        ({"rarity": {}}, True),  # an object, even an empty one: OpenSea ranks it
        ({"rarity": None}, False),  # rarity: null is how OpenSea says "not ranked"
        ({}, None),  # no rarity key: no verdict
        ({"rarity": "yes"}, None),  # not an object: no verdict either
    ],
)
def test_collection_says_whether_opensea_ranks_it(
    rarity: dict[str, Any], ranked: bool | None
) -> None:
    info = to_collection_info({"collection": "s", "total_supply": 80, **rarity})
    assert info is not None and info.ranked is ranked
    assert info.rarity_total in (10, 80)  # the supply either way: not a ranking signal


@pytest.mark.parametrize("raw", [None, "x", 3, [], {"nft": {}}])
def test_mappers_never_raise_on_garbage(raw: Any) -> None:
    assert to_nft_record(raw, Chain.ETHEREUM, WALLET) is None
    assert to_nft_detail(raw, Chain.ETHEREUM, WALLET) is None
    assert owners_quantity(raw, WALLET) == (None, None)
