"""The OpenSea emulator's bodies: NFTs, owners and collections as OpenSea v2 writes them.

Field names and shapes from UPSTREAMS.md §1 and ``specs/opensea-v2-2026-07.full.json``
(``NftDetailed``, ``CollectionResponse``); :mod:`providers.sandbox.opensea` serves them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from providers.models import TokenStandard
from providers.sandbox.tables import opensea_segment
from providers.sandbox.world import SandboxCollection, SandboxNFT

__all__ = ["collection_body", "creator", "nft_body", "owner_entries"]

INT32_MAX = 2**31 - 1
UPDATED_AT = "2025-03-02T10:11:12.345678"


def nft_body(nft: SandboxNFT, *, detailed: bool = False) -> dict[str, Any]:
    collection = nft.collection
    segment = opensea_segment(nft.chain)
    lists_traits = detailed or collection.opensea_lists_traits
    body: dict[str, Any] = {
        "identifier": nft.token_id,
        "collection": collection.slug,
        "contract": nft.contract,
        "token_standard": collection.standard.value.lower(),
        "name": nft.name,
        "description": nft.description,
        "image_url": nft.image,
        "display_image_url": nft.image,
        "display_animation_url": None,  # the sandbox has no CDN copy of animations
        "original_image_url": nft.original_image,
        "original_animation_url": nft.animation,
        "metadata_url": f"https://media.sandbox.invalid/{collection.slug}/{nft.token_id}.json",
        "opensea_url": f"https://opensea.io/assets/{segment}/{nft.contract}/{nft.token_id}",
        "updated_at": UPDATED_AT,
        # Not spam flags: is_disabled means disabled for trading, is_nsfw not safe for work
        # (opensea-v2-2026-07.full.json, CollectionSearchResponse descriptions). OpenSea has
        # no spam field at all.
        "is_disabled": collection.trading_disabled,
        "is_nsfw": collection.is_nsfw,
        "traits": [_trait_body(kind, value) for kind, value in nft.traits] if lists_traits else [],
    }
    if detailed:
        body.update(
            animation_url=nft.animation,
            is_suspicious=False,
            creator=creator(collection),
            rarity=_rarity_body(nft),
        )
    return body


def _trait_body(kind: str, value: str | int | float) -> dict[str, Any]:
    numeric = isinstance(value, int | float)
    return {
        "trait_type": kind,
        "display_type": "number" if numeric else "None",
        "max_value": None,
        "value": value,
    }


def _rarity_body(nft: SandboxNFT) -> dict[str, Any] | None:
    if nft.rank is None:
        return None
    return {"strategy_id": "openrarity", "strategy_version": "1.0", "rank": nft.rank}


def owner_entries(nft: SandboxNFT) -> list[dict[str, Any]]:
    return [
        {
            "address": address,
            "quantity": min(quantity, INT32_MAX),  # an int32 on the wire
            "quantity_string": str(quantity),
        }
        for address, quantity in sorted(nft.holders.items())
    ]


def creator(collection: SandboxCollection) -> str:
    return "0x" + hashlib.sha256(f"creator:{collection.slug}".encode()).hexdigest()[:40]


def collection_body(collection: SandboxCollection) -> dict[str, Any]:
    segment = opensea_segment(collection.chain)
    rarity = (
        {
            "calculated_at": "2025-01-01T00:00:00",
            "max_rank": collection.total_supply,
            "total_supply": collection.total_supply,
            "strategy_id": "openrarity",
            "strategy_version": "1.0",
        }
        if collection.ranked
        else None
    )
    return {
        "collection": collection.slug,
        "name": collection.name,
        "description": f"{collection.name}, a collection in the nft-gateway sandbox.",
        "image_url": None,
        "banner_image_url": None,
        "owner": creator(collection),
        "safelist_status": collection.safelist_status or "not_requested",
        "category": "pfps" if collection.standard is TokenStandard.ERC721 else "memberships",
        "is_disabled": collection.trading_disabled,
        "is_nsfw": collection.is_nsfw,
        "trait_offers_enabled": not collection.is_spam,
        "collection_offers_enabled": not collection.is_spam,
        "opensea_url": f"https://opensea.io/collection/{collection.slug}",
        "project_url": "",
        "wiki_url": "",
        "discord_url": "",
        "telegram_url": "",
        "twitter_username": "",
        "instagram_username": "",
        "contracts": [{"address": collection.contract, "chain": segment}],
        "editors": [creator(collection)],
        "fees": [],
        "required_zone": None,
        "rarity": rarity,
        "total_supply": collection.total_supply,
        "unique_item_count": collection.total_supply,
        "created_date": "2024-01-01",
        "pricing_currencies": {
            "listing_currency": {"symbol": "ETH", "chain": segment, "decimals": 18},
            "offer_currency": {"symbol": "WETH", "chain": segment, "decimals": 18},
        },
    }
