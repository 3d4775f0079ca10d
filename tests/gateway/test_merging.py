from __future__ import annotations

from gateway.nfts.merging import NsfwFilter, SpamFilter, merge_holding, with_record
from gateway.nfts.spam import SpamVerdict
from gateway.settings import DEFAULT_FIELD_PRIORITY
from providers.models import Chain, NFTRecord, Rarity, SpamSignal, TokenStandard, Trait

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


def test_each_gateways_priority_decides_for_it_in_one_process() -> None:
    # Two gateways (two settings) merging the same providers' records, in turns.
    records = [record("opensea", name="OS name"), record("alchemy", name="Alchemy name")]
    opensea_first = {"name": ["opensea", "alchemy"]}
    alchemy_first = {"name": ["alchemy", "opensea"]}
    names = [merge_holding(records, p).nft.name for p in (opensea_first, alchemy_first) * 2]
    assert names == ["OS name", "Alchemy name"] * 2
    # With one provider's record only, its value wins whatever the priority says.
    assert merge_holding(records[1:], opensea_first).nft.name == "Alchemy name"


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


def test_every_providers_spam_facts_are_combined_not_prioritised() -> None:
    flagged = (SpamSignal("alchemy", "isSpam"),)
    holding = merge_holding(
        [
            record("opensea", is_nsfw=True, trading_disabled=False),
            record("alchemy", spam_signals=flagged, collection_verified=False),
            record("moralis", spam_signals=(), collection_verified=True),
        ],
        DEFAULT_FIELD_PRIORITY,
    )
    assert holding.nft.spam_signals == flagged  # each flag names its provider
    assert holding.nft.collection_verified is True  # any provider vouching is enough
    assert (holding.nft.is_nsfw, holding.nft.trading_disabled) == (True, False)
    assert holding.spam is None  # the verdict is the walk's to give


def test_no_provider_classifying_is_unknown_not_clean() -> None:
    holding = merge_holding([record("opensea"), record("alchemy")], {})
    assert holding.nft.spam_signals is None
    assert holding.nft.collection_verified is None
    assert not holding.is_spam and not holding.is_nsfw


def test_a_detail_record_keeps_the_verdict_the_list_gave() -> None:
    listed = merge_holding([record("alchemy", name="Claim 5000 USDT")], {}).judged(
        SpamVerdict(True, ("claim_wording",))
    )
    detailed = with_record(listed, record("opensea", collection_verified=True), {})
    assert detailed.spam == SpamVerdict(True, ("claim_wording",))


def test_owners_complete_follows_the_winning_owner_list() -> None:
    holding = merge_holding(
        [
            record("opensea", owner_addresses=("0x1",), owners_complete=False),
            record("alchemy", owner_addresses=("0x1", "0x2"), owners_complete=True),
        ],
        {"owner_addresses": ["opensea", "alchemy"]},
    )
    assert holding.nft.owners_complete is False


def test_filters_admit_by_verdict_and_nsfw() -> None:
    assert not SpamFilter.EXCLUDE.admits(True) and SpamFilter.ONLY.admits(True)
    assert NsfwFilter.INCLUDE.admits(True) and NsfwFilter.INCLUDE.admits(False)
    assert not NsfwFilter.EXCLUDE.admits(True) and NsfwFilter.ONLY.admits(True)
    assert not NsfwFilter.ONLY.admits(False)


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
