"""Moralis v2.2 mapping, on fixtures written from the vendor's OpenAPI schema examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from providers.errors import ProviderBadData
from providers.models import Chain, FloorPrice, SpamSignal, TokenStandard, Trait
from providers.moralis import chain_param, is_verified_collection, to_holdings_page

FIXTURES = Path(__file__).parents[1] / "fixtures" / "moralis"
OWNER = "0x1111111111111111111111111111111111111111"
FETCHED_AT = 1_760_000_000.0


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_chains_are_spelled_as_moralis_spells_them() -> None:
    assert [chain_param(chain) for chain in Chain] == [
        "eth",
        "polygon",
        "base",
        "arbitrum",
        "optimism",
    ]


def test_the_schema_example_maps_every_field_it_has() -> None:
    page = to_holdings_page(
        fixture("wallet_nfts.schema_example.json"), Chain.ETHEREUM, OWNER, FETCHED_AT
    )
    assert page.next_cursor is None and page.total_count is None
    (record,) = page.records
    assert record.source == "moralis"
    assert record.contract_address == "0xb47e3cd837ddf8e4c57f05d70ab865de6e193bbb"
    assert (record.token_id, record.token_standard) == ("15", TokenStandard.ERC721)
    assert record.name == "Moralis Mug"  # the NFT's own name, from normalized_metadata
    assert record.collection_name == "CryptoKitties"  # ``name`` is the contract's
    assert record.description is not None and record.description.startswith("Moralis Coffee")
    assert record.image is not None and record.image.endswith("_moralismug.png")
    assert record.animation_url == "https://giphy.com/gifs/food-design-donuts-o9ngTPVYW4qo8"
    assert record.traits == (Trait("Eye Color", "hazel"),)
    assert record.owner_addresses == ("0x057ec652a4f150f7ff94f089a38008f49a0df88e",)
    assert record.quantity == 1
    # "false", a string, as the schema's example writes it: classified, not spam.
    assert record.spam_signals == ()
    assert record.collection_verified is False
    assert record.rarity is None  # Moralis's own rank is not OpenSea's: not read
    assert record.collection_slug is None  # Moralis has no slugs
    assert record.floor == FloorPrice(12345.0, "ETH", "moralis", FETCHED_AT)
    assert is_verified_collection(fixture("wallet_nfts.schema_example.json")["result"][0]) is False


def test_quirks_big_balances_raw_metadata_and_malformed_items() -> None:
    body = fixture("wallet_nfts.quirks.json")
    page = to_holdings_page(body, Chain.POLYGON, OWNER, FETCHED_AT)

    assert page.next_cursor == body["cursor"]
    badge, ape, bare = page.records  # three malformed items skipped
    assert badge.chain is Chain.POLYGON
    assert badge.contract_address == "0xdefdefdefdefdefdefdefdefdefdefdefdefdefd"
    assert badge.quantity == 2**64 + 7 and badge.token_standard is TokenStandard.ERC1155
    assert badge.traits == (Trait("Level", "3"), Trait("Ratio", "2"))
    assert badge.spam_signals == (SpamSignal("moralis", "possible_spam"),)
    assert badge.description is None
    assert is_verified_collection(body["result"][0]) is True

    assert ape.token_id == "42"  # "0042" and "42" are one token
    assert (ape.name, ape.image) == ("Ape #42", "ar://raw-image")  # from the raw string
    assert ape.traits == (Trait("Fur", "Gold"),)
    assert ape.floor is None  # a floor without a currency is no floor

    assert (bare.token_id, bare.name, bare.traits, bare.spam_signals) == ("43", None, None, None)
    assert bare.owner_addresses == (OWNER,)  # no owner_of: the wallet asked about


@pytest.mark.parametrize("body", [[], {"result": "nope"}, {"cursor": None}, "text"])
def test_a_body_without_a_result_list_is_bad_data(body: Any) -> None:
    with pytest.raises(ProviderBadData) as caught:
        to_holdings_page(body, Chain.ETHEREUM, OWNER, FETCHED_AT)
    assert caught.value.provider == "moralis"
