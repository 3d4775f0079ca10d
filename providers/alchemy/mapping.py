"""Alchemy NFT API v3 JSON -> the normalised model (pure: no I/O).

One ``ownedNfts`` item becomes one :class:`NFTRecord`. Alchemy's payloads are tolerant of
everything the token's own metadata JSON held, so the mapping is too:

* ``contract.openSeaMetadata`` is spelled ``openseaMetadata`` in the vendor's OpenAPI
  schema (and by Go clients); both spellings are read.
* ``tokenId`` is decimal in v3 but hex (``0x..``) in v2-era payloads; hex is converted.
* ``balance`` is a string that may exceed 2^64; it is parsed exactly.
* ``raw.metadata.attributes`` is free-form: trait values may be numbers, entries may be
  malformed (skipped). Traits are ``None`` ("unknown") when Alchemy has no usable metadata
  (``raw.metadata`` absent or ``{}``, or ``raw.error`` set and no ``attributes`` list) and
  ``()`` ("known to have no traits") when the metadata was read but carries no list.
* A failed metadata fetch still answers 200, with ``name == "Failed to load NFT metadata"``
  and ``raw.error``: the record is kept, that placeholder is never used as the name.
* URLs are kept as sent (``ipfs://`` rewriting is the gateway's job).
* ``contract.openSeaMetadata.floorPrice`` is OpenSea's floor as Alchemy last ingested it
  (``lastIngestedAt``), a JSON number in the chain's native currency (ETH on Ethereum and
  its L2s; the NFT API documents no currency field, so POL is assumed on Polygon); it
  becomes a floor only when the caller says when it was read (``fetched_at``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from providers.errors import ProviderBadData
from providers.mapping import first_text, lower_address, mapping, parse_int, trait_value
from providers.models import (
    Chain,
    FloorPrice,
    HoldingsPage,
    NFTRecord,
    SpamSignal,
    TokenStandard,
    Trait,
)

__all__ = ["NETWORKS", "PROVIDER", "network_chain", "to_holdings_page", "to_nft_record"]

PROVIDER = "alchemy"

# Normalised chain -> Alchemy network (the host prefix, UPSTREAMS.md §2.2 / §7).
NETWORKS: dict[Chain, str] = {
    Chain.ETHEREUM: "eth-mainnet",
    Chain.POLYGON: "polygon-mainnet",
    Chain.BASE: "base-mainnet",
    Chain.ARBITRUM: "arb-mainnet",
    Chain.OPTIMISM: "opt-mainnet",
}
_CHAINS = {network: chain for chain, network in NETWORKS.items()}

# Alchemy's placeholder name when it could not fetch the token's metadata.
_FAILED_NAME = "Failed to load NFT metadata"
_HEX_ID = re.compile(r"^0x[0-9a-fA-F]+$")
_STANDARDS = {"ERC721": TokenStandard.ERC721, "ERC1155": TokenStandard.ERC1155}


def network_chain(network: str) -> Chain | None:
    """The normalised chain of an Alchemy network name (``eth-mainnet`` -> ethereum)."""
    return _CHAINS.get(network)


def to_holdings_page(
    body: Any, chain: Chain, owner: str, fetched_at: float | None = None
) -> HoldingsPage:
    """One ``getNFTsForOwner`` response body as a page; malformed items are skipped.

    Raises :class:`ProviderBadData` when the body is not an object with an ``ownedNfts`` list.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("ownedNfts"), list):
        raise ProviderBadData(PROVIDER, "getNFTsForOwner body has no ownedNfts list")
    records = (to_nft_record(item, chain, owner, fetched_at) for item in body["ownedNfts"])
    page_key = body.get("pageKey")
    total = body.get("totalCount")
    return HoldingsPage(
        records=tuple(record for record in records if record is not None),
        next_cursor=page_key if isinstance(page_key, str) and page_key else None,
        total_count=total if isinstance(total, int) and not isinstance(total, bool) else None,
    )


def to_nft_record(
    raw: Any, chain: Chain, owner: str, fetched_at: float | None = None
) -> NFTRecord | None:
    """One owned NFT (full or ``withMetadata=false`` shape), or ``None`` if unusable.

    Its floor is read only with ``fetched_at`` (Unix seconds): a floor has an age."""
    if not isinstance(raw, Mapping):
        return None
    contract = mapping(raw.get("contract"))
    address = lower_address(contract.get("address")) or lower_address(raw.get("contractAddress"))
    token_id = _decimal_token_id(raw.get("tokenId"))
    if address is None or token_id is None:
        return None
    opensea = _opensea_metadata(contract)
    collection = mapping(raw.get("collection"))
    metadata = _metadata(raw)
    return NFTRecord(
        source=PROVIDER,
        chain=chain,
        contract_address=address,
        token_id=token_id,
        token_standard=_token_standard(raw.get("tokenType"), contract.get("tokenType")),
        name=_name(raw, metadata),
        description=first_text(raw.get("description"), metadata.get("description")),
        image=_image(raw, metadata),
        animation_url=_animation(raw, metadata),
        collection_name=first_text(
            opensea.get("collectionName"), collection.get("name"), contract.get("name")
        ),
        collection_slug=first_text(collection.get("slug"), opensea.get("collectionSlug")),
        collection_opensea_slug=first_text(opensea.get("collectionSlug")),
        traits=_traits(raw, metadata),
        rarity=None,
        owner_addresses=(lower_address(owner) or owner.lower(),),
        owners_complete=_sole_owner(raw, contract),
        quantity=parse_int(raw.get("balance")),
        spam_signals=_spam_signals(contract),
        collection_verified=_verified(opensea.get("safelistRequestStatus")),
        floor=_floor(opensea, chain, fetched_at),
    )


def _floor(opensea: Mapping[str, Any], chain: Chain, fetched_at: float | None) -> FloorPrice | None:
    value = opensea.get("floorPrice")
    if fetched_at is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    currency = "POL" if chain is Chain.POLYGON else "ETH"
    return FloorPrice(value=float(value), currency=currency, source=PROVIDER, fetched_at=fetched_at)


def _decimal_token_id(value: Any) -> str | None:
    """A canonical decimal token id from a decimal or ``0x`` hex string (or a JSON int)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit() and text.isascii():
        return str(int(text))
    if _HEX_ID.match(text):
        return str(int(text, 16))
    return None


def _opensea_metadata(contract: Mapping[str, Any]) -> Mapping[str, Any]:
    # The wire says openSeaMetadata; the vendor's own schema says openseaMetadata.
    found = contract.get("openSeaMetadata")
    if not isinstance(found, Mapping):
        found = contract.get("openseaMetadata")
    return mapping(found)


def _metadata(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(mapping(raw.get("raw")).get("metadata"))


def _token_standard(*values: Any) -> TokenStandard | None:
    for value in values:
        if isinstance(value, str) and value.upper() in _STANDARDS:
            return _STANDARDS[value.upper()]
    return None


def _name(raw: Mapping[str, Any], metadata: Mapping[str, Any]) -> str | None:
    candidates = (raw.get("name"), metadata.get("name"))
    return first_text(*(c for c in candidates if not _is_failure_name(c)))


def _is_failure_name(value: Any) -> bool:
    return isinstance(value, str) and value.strip() == _FAILED_NAME


def _image(raw: Mapping[str, Any], metadata: Mapping[str, Any]) -> str | None:
    image = mapping(raw.get("image"))
    return first_text(
        image.get("cachedUrl"), image.get("pngUrl"), image.get("originalUrl"), metadata.get("image")
    )


def _animation(raw: Mapping[str, Any], metadata: Mapping[str, Any]) -> str | None:
    animation = mapping(raw.get("animation"))
    return first_text(
        animation.get("cachedUrl"), animation.get("originalUrl"), metadata.get("animation_url")
    )


def _traits(raw: Mapping[str, Any], metadata: Mapping[str, Any]) -> tuple[Trait, ...] | None:
    """Traits from ``raw.metadata.attributes``; ``None`` when Alchemy had no usable metadata."""
    if not metadata:
        return None
    attributes = metadata.get("attributes")
    if not isinstance(attributes, list):
        # With raw.error set the metadata is partial: no list does not mean "no traits".
        failed = first_text(mapping(raw.get("raw")).get("error")) is not None
        return None if failed else ()
    traits = (_trait(attribute) for attribute in attributes)
    return tuple(trait for trait in traits if trait is not None)


def _trait(attribute: Any) -> Trait | None:
    if not isinstance(attribute, Mapping):
        return None
    kind = first_text(attribute.get("trait_type"), attribute.get("traitType"))
    value = trait_value(attribute.get("value"))
    if kind is None or value is None:
        return None
    return Trait(type=kind, value=value)


def _sole_owner(raw: Mapping[str, Any], contract: Mapping[str, Any]) -> bool | None:
    # An owned ERC-721 has one holder, the queried wallet; an ERC-1155 may have many.
    standard = _token_standard(raw.get("tokenType"), contract.get("tokenType"))
    return None if standard is None else standard is TokenStandard.ERC721


def _spam_signals(contract: Mapping[str, Any]) -> tuple[SpamSignal, ...] | None:
    """Alchemy's own spam flags, or ``None`` when it classified nothing.

    ``isSpam`` / ``spamClassifications`` exist only on paid tiers and only on Ethereum and
    Polygon mainnet (UPSTREAMS.md §2.9): on a free key the keys are absent, and ``isSpam:
    null`` means "not classified". ``()`` is Alchemy saying "not spam".
    """
    flag = contract.get("isSpam")
    classifications = contract.get("spamClassifications")
    named = tuple(
        SpamSignal(PROVIDER, text.strip())
        for text in (classifications if isinstance(classifications, list) else ())
        if isinstance(text, str) and text.strip()
    )
    # The schema types isSpam as the string "true"/"false"; the wire sends booleans.
    if flag is True or flag == "true":
        return (SpamSignal(PROVIDER, "isSpam"), *named)
    if named:
        return named
    if flag is False or flag == "false":
        return ()
    return None


# OpenSea's safelist statuses (UPSTREAMS.md §1.6) that mean "a collection OpenSea vouches for".
_VERIFIED_STATUSES = frozenset({"verified", "approved"})
_UNVERIFIED_STATUSES = frozenset({"not_requested", "requested", "disabled_top_trending"})


def _verified(status: Any) -> bool | None:
    """``openSeaMetadata.safelistRequestStatus`` (every tier) as a verified fact."""
    if not isinstance(status, str):
        return None
    status = status.strip().lower()
    if status in _VERIFIED_STATUSES:
        return True
    return False if status in _UNVERIFIED_STATUSES else None
