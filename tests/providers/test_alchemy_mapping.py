"""Alchemy NFT API v3 mapping, on the vendor's published examples and on our quirk fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from providers.alchemy import NETWORKS, network_chain, to_holdings_page, to_nft_record
from providers.errors import ProviderBadData
from providers.models import Chain, NFTRecord, SpamSignal, TokenStandard, Trait

REPO = Path(__file__).parents[2]
VENDOR_FIXTURES = REPO / "tests" / "fixtures" / "vendor" / "alchemy"
QUIRK_FIXTURES = REPO / "tests" / "fixtures" / "alchemy"
OWNER = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
OWNER_LOWER = OWNER.lower()


def vendor(name: str) -> Any:
    path = VENDOR_FIXTURES / name
    return json.loads(path.read_text())


def quirk(name: str) -> Any:
    return json.loads((QUIRK_FIXTURES / name).read_text())


def page_of(body: Any, chain: Chain = Chain.ETHEREUM) -> list[NFTRecord]:
    return list(to_holdings_page(body, chain, OWNER).records)


# -- networks ---------------------------------------------------------------------------


def test_every_chain_has_an_alchemy_network_and_back() -> None:
    assert NETWORKS[Chain.ETHEREUM] == "eth-mainnet"
    assert NETWORKS[Chain.ARBITRUM] == "arb-mainnet"
    assert NETWORKS[Chain.OPTIMISM] == "opt-mainnet"
    assert {network_chain(n) for n in NETWORKS.values()} == set(Chain)
    assert network_chain("avax-mainnet") is None


# -- vendor examples --------------------------------------------------------------------


def test_full_metadata_example_maps_every_field() -> None:
    page = to_holdings_page(vendor("getNFTsForOwner.example.json"), Chain.ETHEREUM, OWNER)

    assert page.next_cursor is None
    assert page.total_count == 3
    first = page.records[0]
    assert first.source == "alchemy"
    assert first.chain is Chain.ETHEREUM
    assert first.contract_address == "0x0beed7099af7514ccedf642cfea435731176fb02"
    assert first.token_id == "28"
    assert first.token_standard is TokenStandard.ERC721
    assert first.name == "DuskBreaker #28"
    assert first.description is not None and first.description.startswith("Breakers have")
    assert first.image == "https://nft-cdn.alchemy.com/eth-mainnet/1f9e8be3feb42b5b66452537a4032668"
    assert first.animation_url is None
    assert first.collection_name == "DuskBreakers"
    # The example carries no collection key and no collectionSlug: slugs stay unknown.
    assert first.collection_slug is None
    assert first.collection_opensea_slug is None
    assert first.traits is not None and len(first.traits) == 10
    assert first.traits[0] == Trait("Clothes", "Locust Rider Armor (Red)")
    assert first.rarity is None
    assert first.owner_addresses == (OWNER_LOWER,)
    assert first.quantity == 1
    assert first.spam_signals is None  # isSpam null, no classifications: not classified


def test_full_metadata_example_erc1155_with_empty_metadata() -> None:
    knight = page_of(vendor("getNFTsForOwner.example.json"))[2]

    assert knight.token_standard is TokenStandard.ERC1155
    assert knight.token_id == "97"
    assert knight.name is None
    assert knight.description is None
    assert knight.image is None  # every image.* is null and raw.metadata is {}
    assert knight.traits is None  # {} metadata: Alchemy could not read it, traits unknown
    assert knight.collection_name == "Knight of Chains Genesis."
    assert knight.quantity == 1


@pytest.mark.parametrize(
    "name",
    [
        "getNFTsForOwner.withoutMetadata.example.json",
        "getNFTsForOwner.withContractFiltering.example.json",
    ],
)
def test_slim_shape_gives_identity_and_balance_only(name: str) -> None:
    records = page_of(vendor(name))

    assert [(r.contract_address, r.token_id, r.quantity) for r in records] == [
        ("0x0beed7099af7514ccedf642cfea435731176fb02", "28", 1),
        ("0x0beed7099af7514ccedf642cfea435731176fb02", "29", 1),
    ]
    assert all(r.name is None and r.traits is None and r.image is None for r in records)
    assert all(r.token_standard is None and r.spam_signals is None for r in records)


def test_pagination_example_exposes_the_page_key_as_cursor() -> None:
    page = to_holdings_page(
        vendor("getNFTsForOwner.withPagination.example.json"), Chain.POLYGON, OWNER
    )

    assert page.next_cursor == "88434286-7eaa-472d-8739-32a0497c2a18"
    assert page.total_count == 2
    assert all(r.chain is Chain.POLYGON for r in page.records)


def test_get_nft_metadata_sdk_output_maps_as_one_record() -> None:
    record = to_nft_record(vendor("getNFTMetadata.sdk_output.example.json"), Chain.ETHEREUM, OWNER)

    assert record is not None
    assert record.contract_address == "0xe785e82358879f061bc3dcac6f0444462d4b5330"
    assert record.token_id == "44"
    assert record.name == "WoW #44"
    assert record.description is None  # key absent in the SDK output
    assert record.collection_name == "World of Women"
    assert record.collection_slug == "world-of-women-nft"
    assert record.collection_opensea_slug == "world-of-women-nft"
    assert record.traits == (
        Trait("Background", "Green Orange"),
        Trait("Skin Tone", "Medium Gold"),
        Trait("Mouth", "Slight Smile"),
        Trait("Lips Color", "Purple"),
    )
    assert record.quantity is None  # single-NFT answers carry no balance
    assert record.spam_signals is None  # no isSpam key, empty classifications


def test_contract_metadata_fills_collection_fields_of_an_owned_nft() -> None:
    contract = vendor("getContractMetadata.sdk_output.example.json")

    record = to_nft_record(
        {"contract": contract, "tokenId": "5", "balance": "3"}, Chain.ETHEREUM, OWNER
    )
    assert to_nft_record(contract, Chain.ETHEREUM, OWNER) is None  # no token: not an NFT

    assert record is not None
    assert record.token_standard is TokenStandard.ERC1155  # from contract.tokenType
    assert record.collection_name == "Undead Warriors"  # openSeaMetadata beats contract.name
    assert record.collection_slug == "undeadwarriors"
    assert record.collection_opensea_slug == "undeadwarriors"
    assert record.quantity == 3


# -- quirks -----------------------------------------------------------------------------


def test_lower_case_openseametadata_spelling_is_read() -> None:
    (record,) = page_of(quirk("opensea_metadata_lowercase.json"))

    assert record.collection_name == "Example Apes"  # not the contract name
    assert record.collection_slug == "example-apes"
    assert record.collection_opensea_slug == "example-apes"
    assert record.spam_signals == ()  # isSpam false: classified, not spam
    assert record.collection_verified is True  # safelistRequestStatus "verified"


def test_numeric_trait_values_become_text_and_malformed_entries_are_skipped() -> None:
    (record,) = page_of(quirk("traits_numeric_and_malformed.json"))

    assert record.traits == (
        Trait("Level", "5"),
        Trait("Speed", "2"),
        Trait("Power", "0.75"),
        Trait("Shiny", "true"),
        Trait("Colour", "Teal"),
        Trait("Born", "1546360800"),
    )


def test_missing_attributes_mean_no_traits_but_missing_metadata_means_unknown() -> None:
    no_key, no_raw, not_a_list = page_of(quirk("missing_attributes.json"))

    assert no_key.traits == ()
    assert no_key.image == "https://plain.example/1.png"  # raw.metadata.image fallback
    assert no_raw.traits is None
    assert not_a_list.traits == ()


def test_hex_and_padded_token_ids_become_canonical_decimal() -> None:
    hex_id, padded = page_of(quirk("hex_token_id.json"))

    assert hex_id.token_id == "31"
    assert padded.token_id == "42"


def test_balance_above_2_pow_64_is_exact() -> None:
    (record,) = page_of(quirk("big_balance.json"), Chain.POLYGON)

    assert record.quantity == 18446744073709551623
    assert record.quantity == 2**64 + 7
    assert record.token_standard is TokenStandard.ERC1155


def test_spam_signals_distinguish_flagged_clean_and_unclassified() -> None:
    records = page_of(quirk("spam_flags.json"))

    assert [r.spam_signals for r in records] == [
        (
            SpamSignal("alchemy", "isSpam"),
            SpamSignal("alchemy", "MostlyHoneyPotOwners"),
            SpamSignal("alchemy", "OwnedByMostHoneyPots"),
        ),
        (),
        None,  # isSpam null: not classified
        None,  # no keys at all: a free-tier answer
        (SpamSignal("alchemy", "Erc721TooManyTokens"),),
    ]


def test_safelist_status_is_a_verified_fact_on_every_tier() -> None:
    raw = quirk("opensea_metadata_lowercase.json")
    item = raw["ownedNfts"][0]
    del item["contract"]["isSpam"]  # a free-tier answer
    statuses = ["verified", "approved", "not_requested", "requested", None, "mystery"]
    facts = []
    for status in statuses:
        item["contract"]["openseaMetadata"]["safelistRequestStatus"] = status
        (record,) = page_of(raw)
        facts.append(record.collection_verified)

    assert facts == [True, True, False, False, None, None]


def test_ipfs_media_in_raw_metadata_is_kept_raw() -> None:
    (record,) = page_of(quirk("ipfs_media.json"))

    assert record.image == "ipfs://bafybeiexamplecid/9.png"
    assert record.animation_url == "ipfs://bafybeiexamplecid/9.mp4"
    assert record.name == "Ipfs Thing #9"  # top-level null, raw.metadata.name fallback
    assert record.description == "Lives on IPFS."
    assert record.collection_name == "Ipfs Things"  # contract.name, the last fallback
    assert record.traits == ()


def test_failed_metadata_keeps_the_nft_without_the_placeholder_name() -> None:
    (record,) = page_of(quirk("failed_metadata.json"))

    assert record.token_id == "13"
    assert record.name is None
    assert record.traits is None
    assert record.collection_name == "Flaky"
    assert record.collection_slug == "flaky-metadata"
    assert record.collection_opensea_slug is None


def test_one_good_item_among_malformed_ones_keeps_the_page() -> None:
    page = to_holdings_page(quirk("malformed_items.json"), Chain.ETHEREUM, OWNER)

    assert [(r.contract_address, r.token_id) for r in page.records] == [
        ("0x7777777777777777777777777777777777777fff", "8")
    ]
    assert page.records[0].traits == (Trait("Grit", "High"),)
    assert page.next_cursor == "3f1e2d4c-5b6a-4789-8abc-def012345678"
    assert page.total_count == 7


def test_animation_object_beats_raw_metadata() -> None:
    raw = {
        "contract": {"address": "0x" + "ab" * 20},
        "tokenId": "1",
        "animation": {"cachedUrl": None, "originalUrl": "https://media.example/1.mp4"},
        "raw": {"metadata": {"animation_url": "ipfs://cid/1.mp4"}},
    }

    record = to_nft_record(raw, Chain.BASE, OWNER)

    assert record is not None and record.animation_url == "https://media.example/1.mp4"


@pytest.mark.parametrize(
    "body",
    [None, [], "<html>", {"ownedNfts": None}, {"ownedNfts": {}}, {"nfts": []}],
    ids=["null", "list", "text", "null-list", "object-list", "wrong-key"],
)
def test_body_without_an_owned_nfts_list_is_bad_data(body: Any) -> None:
    with pytest.raises(ProviderBadData) as caught:
        to_holdings_page(body, Chain.ETHEREUM, OWNER)
    assert caught.value.provider == "alchemy"


def test_empty_page_key_and_non_integer_total_are_dropped() -> None:
    page = to_holdings_page(
        {"ownedNfts": [], "pageKey": "", "totalCount": "12"}, Chain.ETHEREUM, OWNER
    )

    assert page == type(page)(records=(), next_cursor=None, total_count=None)


def test_a_balance_in_non_ascii_digits_is_unknown_not_a_crash() -> None:
    # "²".isdigit() is True but int("²") raises: found by the hostile-payload fuzzer.
    record = to_nft_record(
        {"contract": {"address": "0x" + "ab" * 20}, "tokenId": "5", "balance": "²"},
        Chain.ETHEREUM,
        OWNER,
    )
    assert record is not None
    assert record.quantity is None
