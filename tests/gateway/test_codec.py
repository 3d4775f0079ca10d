"""The cache codec: model values survive JSON exactly, and an old stored shape is a miss."""

from __future__ import annotations

import orjson
import pytest

from gateway.cache.codec import decode_collection, encode_collection
from providers.models import CollectionInfo


@pytest.mark.parametrize("ranked", [True, False, None])
def test_collection_facts_round_trip_with_their_ranking(ranked: bool | None) -> None:
    info = CollectionInfo("plain-cats", "Plain Cats", 500, ranked=ranked)
    stored = orjson.loads(orjson.dumps(encode_collection(info)))
    assert decode_collection(stored) == info


@pytest.mark.parametrize(
    "stored",
    [
        {"slug": "s", "name": None, "rarity_total": 5},  # stored before ``ranked`` existed
        {"slug": "s", "name": None, "rarity_total": 5, "ranked": "no"},
    ],
)
def test_collection_facts_of_another_shape_do_not_decode(stored: dict[str, object]) -> None:
    # The cache reads these errors as a miss: the facts are fetched again, ranking included.
    with pytest.raises((KeyError, TypeError)):
        decode_collection(stored)
