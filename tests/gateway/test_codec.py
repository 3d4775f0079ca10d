"""The cache codec: every cached shape survives the cache's own JSON exactly, and an old
stored shape is a miss."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.cache.backends import JsonBytes
from gateway.cache.codec import (
    decode_addresses,
    decode_collection,
    decode_dids,
    decode_record,
    encode_addresses,
    encode_collection,
    encode_dids,
    encode_record,
    pack_record,
    unpack_record,
)
from providers.models import (
    DID,
    Chain,
    CollectionInfo,
    DIDType,
    LinkedAccount,
    NFTRecord,
    Rarity,
    SpamSignal,
    TokenStandard,
    Trait,
)

# What JSON can carry: text without lone surrogates, finite floats, 64-bit integers
# (quantities are the exception: any size, they travel as decimal strings).
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
maybe_text = st.none() | text
int64 = st.integers(-(2**63), 2**63 - 1)
maybe_int = st.none() | int64

records = st.builds(
    NFTRecord,
    source=text,
    chain=st.sampled_from(Chain),
    contract_address=text,
    token_id=text,
    token_standard=st.none() | st.sampled_from(TokenStandard),
    name=maybe_text,
    description=maybe_text,
    image=maybe_text,
    animation_url=maybe_text,
    collection_name=maybe_text,
    collection_slug=maybe_text,
    collection_opensea_slug=maybe_text,
    traits=st.none() | st.lists(st.builds(Trait, text, text), max_size=4).map(tuple),
    rarity=st.none()
    | st.builds(
        Rarity, maybe_int, st.none() | st.floats(allow_nan=False, allow_infinity=False), maybe_int
    ),
    owner_addresses=st.none() | st.lists(text, max_size=3).map(tuple),
    quantity=st.none() | st.integers(),
    owners_complete=st.none() | st.booleans(),
    spam_signals=st.none() | st.lists(st.builds(SpamSignal, text, text), max_size=3).map(tuple),
    collection_verified=st.none() | st.booleans(),
    is_nsfw=st.none() | st.booleans(),
    trading_disabled=st.none() | st.booleans(),
)
collections = st.builds(CollectionInfo, text, maybe_text, maybe_int, st.none() | st.booleans())
links = st.builds(LinkedAccount, text, text, st.none() | st.booleans(), maybe_int)
dids = st.lists(
    st.builds(
        DID,
        type=st.sampled_from(DIDType),
        identity=text,
        source=text,
        display_name=maybe_text,
        is_primary=st.booleans(),
        valid=st.none() | st.booleans(),
        expires_at=maybe_int,
        links=st.lists(links, max_size=3).map(tuple),
    ),
    max_size=4,
).map(tuple)


def stored(data: Any) -> Any:
    """``data`` as the cache keeps it: its bytes, read back."""
    serializer = JsonBytes()
    return serializer.loads(serializer.dumps(data))


@settings(deadline=None)  # no timed assertion: the suite shares its CPUs
@given(records)
def test_a_detail_record_round_trips(record: NFTRecord) -> None:
    assert decode_record(stored(encode_record(record))) == record


@settings(deadline=None)
@given(records)
def test_a_snapshot_record_round_trips(record: NFTRecord) -> None:
    assert unpack_record(stored(pack_record(record))) == record


@settings(deadline=None)
@given(collections)
def test_collection_facts_round_trip(info: CollectionInfo) -> None:
    assert decode_collection(stored(encode_collection(info))) == info


@settings(deadline=None)
@given(dids)
def test_an_identitys_dids_round_trip(found: tuple[DID, ...]) -> None:
    assert decode_dids(stored(encode_dids(found))) == found


@settings(deadline=None)
@given(st.lists(text, max_size=5).map(tuple))
def test_a_names_addresses_round_trip(addresses: tuple[str, ...]) -> None:
    assert decode_addresses(stored(encode_addresses(addresses))) == addresses


@pytest.mark.parametrize("ranked", [True, False, None])
def test_collection_facts_round_trip_with_their_ranking(ranked: bool | None) -> None:
    info = CollectionInfo("plain-cats", "Plain Cats", 500, ranked=ranked)
    assert decode_collection(stored(encode_collection(info))) == info


@pytest.mark.parametrize(
    "old",
    [
        {"slug": "s", "name": None, "rarity_total": 5},  # stored before ``ranked`` existed
        {"slug": "s", "name": None, "rarity_total": 5, "ranked": "no"},
    ],
)
def test_collection_facts_of_another_shape_do_not_decode(old: dict[str, object]) -> None:
    # The cache reads these errors as a miss: the facts are fetched again, ranking included.
    with pytest.raises((KeyError, TypeError)):
        decode_collection(old)


def test_bytes_that_are_not_json_read_as_a_miss() -> None:
    assert JsonBytes().loads(b"\x80\x04\x95pickle?") is None
