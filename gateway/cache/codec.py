"""JSON-ready encodings of model values, for the shared cache (no pickle anywhere).

Each ``encode_*`` returns plain lists/dicts/str/int/float; each ``decode_*`` rebuilds the
frozen dataclass. Integers stay exact (orjson writes big ints as JSON numbers only up to
64 bits, so quantities travel as decimal strings).
"""

from __future__ import annotations

from typing import Any

from providers.models import Chain, CollectionInfo, NFTRecord, Rarity, TokenStandard, Trait

__all__ = ["decode_collection", "decode_record", "encode_collection", "encode_record"]


def encode_record(record: NFTRecord) -> dict[str, Any]:
    return {
        "source": record.source,
        "chain": record.chain.value,
        "contract_address": record.contract_address,
        "token_id": record.token_id,
        "token_standard": record.token_standard.value if record.token_standard else None,
        "name": record.name,
        "description": record.description,
        "image": record.image,
        "animation_url": record.animation_url,
        "collection_name": record.collection_name,
        "collection_slug": record.collection_slug,
        "collection_opensea_slug": record.collection_opensea_slug,
        "traits": None if record.traits is None else [[t.type, t.value] for t in record.traits],
        "rarity": None
        if record.rarity is None
        else [record.rarity.rank, record.rarity.score, record.rarity.total],
        "owner_addresses": None if record.owner_addresses is None else list(record.owner_addresses),
        "quantity": None if record.quantity is None else str(record.quantity),
        "is_spam": record.is_spam,
    }


def decode_record(data: dict[str, Any]) -> NFTRecord:
    traits = data["traits"]
    rarity = data["rarity"]
    owners = data["owner_addresses"]
    quantity = data["quantity"]
    return NFTRecord(
        source=data["source"],
        chain=Chain(data["chain"]),
        contract_address=data["contract_address"],
        token_id=data["token_id"],
        token_standard=TokenStandard(data["token_standard"]) if data["token_standard"] else None,
        name=data["name"],
        description=data["description"],
        image=data["image"],
        animation_url=data["animation_url"],
        collection_name=data["collection_name"],
        collection_slug=data["collection_slug"],
        collection_opensea_slug=data["collection_opensea_slug"],
        traits=None if traits is None else tuple(Trait(t, v) for t, v in traits),
        rarity=None if rarity is None else Rarity(*rarity),
        owner_addresses=None if owners is None else tuple(owners),
        quantity=None if quantity is None else int(quantity),
        is_spam=data["is_spam"],
    )


def encode_collection(info: CollectionInfo) -> dict[str, Any]:
    return {
        "slug": info.slug,
        "name": info.name,
        "rarity_total": info.rarity_total,
        "ranked": info.ranked,
    }


def decode_collection(data: dict[str, Any]) -> CollectionInfo:
    ranked = data["ranked"]  # a pre-``ranked`` entry is a miss (KeyError), not "unknown"
    if ranked is not None and not isinstance(ranked, bool):
        raise TypeError("ranked is not a boolean")
    return CollectionInfo(
        slug=data["slug"], name=data["name"], rarity_total=data["rarity_total"], ranked=ranked
    )
