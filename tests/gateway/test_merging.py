from __future__ import annotations

from gateway.nfts.merging import SpamFilter, merge_holding, with_record
from gateway.settings import DEFAULT_FIELD_PRIORITY
from providers.models import Chain, NFTRecord, Rarity, TokenStandard, Trait

CONTRACT = "0x" + "ab" * 20


def record(source: str, **fields: object) -> NFTRecord:
    return NFTRecord(
        source=source, chain=Chain.ETHEREUM, contract_address=CONTRACT, token_id="7", **fields
    )  # type: ignore[arg-type]


def test_each_field_comes_from_its_preferred_provider_and_says_so() -> None:
    opensea = record(
        "opensea", collection_slug="apes", rarity=Rarity(rank=3), quantity=None, name="OS name"
    )
    alchemy = record(
        "alchemy",
        collection_slug="apes-alchemy",
        quantity=5,
        name="Alchemy name",
        token_standard=TokenStandard.ERC1155,
    )

    holding = merge_holding([opensea, alchemy], DEFAULT_FIELD_PRIORITY)

    assert holding.nft.collection_slug == "apes"
    assert holding.nft.rarity == Rarity(rank=3)
    assert holding.nft.quantity == 5
    assert holding.source_of("collection_slug") == "opensea"
    assert holding.source_of("quantity") == "alchemy"
    assert holding.source_of("token_standard") == "alchemy"
    assert holding.sources == ("opensea", "alchemy")


def test_a_field_unknown_to_the_preferred_provider_falls_back_to_the_other() -> None:
    opensea = record("opensea", traits=None)
    alchemy = record("alchemy", traits=(Trait("Fur", "Gold"),))
    holding = merge_holding([opensea, alchemy], {"traits": ["opensea", "alchemy"]})
    assert holding.nft.traits == (Trait("Fur", "Gold"),)
    assert holding.source_of("traits") == "alchemy"


def test_known_empty_traits_are_not_replaced_by_a_fallback() -> None:
    holding = merge_holding(
        [record("opensea", traits=()), record("alchemy", traits=(Trait("a", "b"),))],
        {"traits": ["opensea", "alchemy"]},
    )
    assert holding.nft.traits == ()


def test_any_provider_calling_it_spam_makes_it_spam() -> None:
    holding = merge_holding([record("opensea", is_spam=False), record("alchemy", is_spam=True)], {})
    assert holding.is_spam
    assert not SpamFilter.EXCLUDE.admits(holding.is_spam)
    assert SpamFilter.ONLY.admits(holding.is_spam)
    assert SpamFilter.INCLUDE.admits(holding.is_spam)


def test_unknown_spam_signals_are_not_spam() -> None:
    holding = merge_holding([record("opensea"), record("alchemy", is_spam=None)], {})
    assert not holding.is_spam
    assert holding.nft.is_spam is None


def test_a_detail_record_replaces_the_same_providers_list_record() -> None:
    listed = merge_holding(
        [record("opensea", quantity=None), record("alchemy", quantity=2)], DEFAULT_FIELD_PRIORITY
    )
    detailed = with_record(
        listed,
        record("opensea", rarity=Rarity(rank=1, total=10), quantity=2),
        DEFAULT_FIELD_PRIORITY,
    )
    assert detailed.nft.rarity == Rarity(rank=1, total=10)
    assert len(detailed.records) == 2


def test_unknown_erc1155_quantity_is_flagged_not_silently_one() -> None:
    erc1155 = merge_holding([record("opensea", token_standard=TokenStandard.ERC1155)], {})
    erc721 = merge_holding([record("opensea", token_standard=TokenStandard.ERC721)], {})
    assert erc1155.counted_quantity() == (1, False)
    assert erc721.counted_quantity() == (1, True)
