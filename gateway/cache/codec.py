"""Every cached JSON shape in one place: model values as JSON-ready data and back.

Each ``encode_*``/``pack_*`` returns plain lists/dicts/str/int/float; each
``decode_*``/``unpack_*`` rebuilds the frozen dataclass, or raises ``KeyError``,
``TypeError`` or ``ValueError`` for another shape (the cache reads that as a miss).
Integers stay exact (orjson writes big ints as JSON numbers only up to 64 bits, so
quantities travel as decimal strings). No pickle anywhere.

Shapes: a record by field name (``detail`` entries), a record by position (the wallet
snapshots of :mod:`gateway.nfts.walk`, where names repeated per record would cost more than
the values), collection facts, an identity's DIDs, and a name's addresses. A change to a shape bumps
:data:`gateway.cache.keys.CACHE_VERSION` (or the snapshot's own version).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from providers.models import (
    DID,
    Chain,
    CollectionInfo,
    DIDType,
    FloorPrice,
    LinkedAccount,
    NFTRecord,
    Rarity,
    SpamSignal,
    TokenStandard,
    Trait,
)

__all__ = [
    "decode_addresses",
    "decode_collection",
    "decode_dids",
    "decode_floor",
    "decode_record",
    "encode_addresses",
    "encode_collection",
    "encode_dids",
    "encode_floor",
    "encode_record",
    "pack_record",
    "unpack_record",
]


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
        "owners_complete": record.owners_complete,
        "spam_signals": _signals_json(record.spam_signals),
        "collection_verified": record.collection_verified,
        "is_nsfw": record.is_nsfw,
        "trading_disabled": record.trading_disabled,
        "floor": encode_floor(record.floor),
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
        owners_complete=data["owners_complete"],
        spam_signals=_signals(data["spam_signals"]),
        collection_verified=data["collection_verified"],
        is_nsfw=data["is_nsfw"],
        trading_disabled=data["trading_disabled"],
        floor=decode_floor(data["floor"]),  # a pre-floor entry is a miss (KeyError)
    )


def _signals_json(signals: tuple[SpamSignal, ...] | None) -> list[list[str]] | None:
    return None if signals is None else [[s.source, s.flag] for s in signals]


def _signals(data: list[list[str]] | None) -> tuple[SpamSignal, ...] | None:
    return None if data is None else tuple(SpamSignal(str(s), str(f)) for s, f in data)


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


def pack_record(record: NFTRecord) -> list[Any]:
    """A record as a positional list (see :func:`unpack_record`), for wallet snapshots."""
    rarity = record.rarity
    return [
        record.source,
        record.chain.value,
        record.contract_address,
        record.token_id,
        record.token_standard.value if record.token_standard else None,
        record.name,
        record.description,
        record.image,
        record.animation_url,
        record.collection_name,
        record.collection_slug,
        record.collection_opensea_slug,
        None if record.traits is None else [[t.type, t.value] for t in record.traits],
        None if rarity is None else [rarity.rank, rarity.score, rarity.total],
        None if record.owner_addresses is None else list(record.owner_addresses),
        None if record.quantity is None else str(record.quantity),
        record.owners_complete,
        _signals_json(record.spam_signals),
        record.collection_verified,
        record.is_nsfw,
        record.trading_disabled,
        encode_floor(record.floor),
    ]


def unpack_record(data: Sequence[Any]) -> NFTRecord:
    (source, chain, contract, token_id, standard, name, description, image, animation,
     collection_name, collection_slug, opensea_slug, traits, rarity, owners, quantity,
     owners_complete, signals, verified, is_nsfw, trading_disabled, floor) = data  # fmt: skip
    return NFTRecord(
        source=str(source),
        chain=Chain(chain),
        contract_address=contract,
        token_id=token_id,
        token_standard=TokenStandard(standard) if standard else None,
        name=name,
        description=description,
        image=image,
        animation_url=animation,
        collection_name=collection_name,
        collection_slug=collection_slug,
        collection_opensea_slug=opensea_slug,
        traits=None if traits is None else tuple(Trait(t, v) for t, v in traits),
        rarity=None if rarity is None else Rarity(*rarity),
        owner_addresses=None if owners is None else tuple(owners),
        quantity=None if quantity is None else int(quantity),
        owners_complete=owners_complete,
        spam_signals=_signals(signals),
        collection_verified=verified,
        is_nsfw=is_nsfw,
        trading_disabled=trading_disabled,
        floor=decode_floor(floor),
    )


def encode_floor(floor: FloorPrice | None) -> list[Any] | None:
    """A floor as ``[value, currency, source, fetched_at]`` (``None`` stays ``None``)."""
    if floor is None:
        return None
    return [floor.value, floor.currency, floor.source, floor.fetched_at]


def decode_floor(data: Sequence[Any] | None) -> FloorPrice | None:
    if data is None:
        return None
    value, currency, source, fetched_at = data
    return FloorPrice(float(value), str(currency), str(source), float(fetched_at))


def encode_dids(dids: tuple[DID, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": did.type.value,
            "identity": did.identity,
            "source": did.source,
            "display_name": did.display_name,
            "is_primary": did.is_primary,
            "valid": did.valid,
            "expires_at": did.expires_at,
            "links": [[a.platform, a.identity, a.valid, a.checked_at] for a in did.links],
        }
        for did in dids
    ]


def decode_dids(data: list[dict[str, Any]]) -> tuple[DID, ...]:
    return tuple(
        DID(
            type=DIDType(item["type"]),
            identity=item["identity"],
            source=item["source"],
            display_name=item["display_name"],
            is_primary=item["is_primary"],
            valid=item["valid"],
            expires_at=item["expires_at"],
            links=tuple(LinkedAccount(*link) for link in item["links"]),
        )
        for item in data
    )


def encode_addresses(addresses: tuple[str, ...]) -> list[str]:
    return list(addresses)


def decode_addresses(data: list[str]) -> tuple[str, ...]:
    return tuple(data)
