"""Moralis Web3 Data API v2.2 JSON -> the normalised model (pure functions, no I/O).

Wire contract: Moralis's EVM API OpenAPI document, version 2.2 (server
``https://deep-index.moralis.io/api/v2.2``), operation ``getWalletNFTs``
(``GET /{address}/nft``), response schema ``nftOwnerCollection`` of ``nftOwner`` items,
``normalizedMetadata`` and ``normalizedMetadataAttribute``; the docs pages "NFT Balances"
(docs.moralis.com/data-api/evm/wallet/nft-balances), "Metadata Normalization" and the
changelog entries "Verified Collections & Spam Filtering" and "NFT Collection
Enhancements". The document was read as published (a copy of the vendor's swagger,
``api-evangelist/moralis`` ``openapi/_original/moralis-evm-api-openapi.json``, commit
f1140df); nothing here is taken from the sandbox emulator.

What the contract says, and what the mapping makes of it:

* ``token_address`` is sent checksummed in examples: lower-cased here.
* ``token_id`` is decimal with ``format=decimal`` (the adapter always asks for it; the
  default is decimal too). ``amount`` is the wallet's balance as a decimal string.
* ``name`` and ``symbol`` are the *contract's* name and symbol (collection facts); the
  NFT's own name is ``normalized_metadata.name``. Moralis has no collection slug.
* ``normalized_metadata`` (asked for with ``normalizeMetadata=true``) carries name,
  description, image, animation_url and ``attributes`` whose ``value`` is typed
  ``object``: numbers and strings both occur. ``metadata`` is the token's raw JSON *as a
  string*; it is read only when no normalised metadata came back.
* ``possible_spam`` and ``verified_collection`` are typed boolean with the example
  ``"false"`` (a string): both spellings are read.
* ``floor_price`` / ``floor_price_usd`` are decimal strings, ``floor_price_currency`` a
  lower-case symbol (``eth``); present only where Moralis knows a floor.
* ``rarity_rank`` is Moralis's own ranking (no collection total with it) and is not read:
  a rank known from a list page would stand in for OpenSea's, whose ranks the gateway
  shows, and stop the detail call that fetches them.
* ``cursor`` is opaque; ``null`` or absent on the last page. v2.2 gives no total count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

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

__all__ = [
    "CHAINS",
    "PROVIDER",
    "chain_param",
    "is_verified_collection",
    "to_floor",
    "to_holdings_page",
    "to_nft_record",
]

PROVIDER = "moralis"

# Normalised chain -> the ``chain`` query value, as Moralis spells it (the ``chainList``
# enum of the v2.2 OpenAPI document: eth, polygon, base, arbitrum, optimism, ...).
_CHAIN_PARAMS: Mapping[Chain, str] = {
    Chain.ETHEREUM: "eth",
    Chain.POLYGON: "polygon",
    Chain.BASE: "base",
    Chain.ARBITRUM: "arbitrum",
    Chain.OPTIMISM: "optimism",
}
CHAINS: frozenset[Chain] = frozenset(_CHAIN_PARAMS)

_STANDARDS: Mapping[str, TokenStandard] = {
    "ERC721": TokenStandard.ERC721,
    "ERC1155": TokenStandard.ERC1155,
}
# The raw ``metadata`` string is token JSON written by strangers: past this size it is not
# parsed (normalised metadata is what the adapter asks for; this is only a fallback).
MAX_RAW_METADATA_CHARS = 64 * 1024


def chain_param(chain: Chain) -> str:
    """The ``chain`` query value Moralis uses for ``chain``."""
    return _CHAIN_PARAMS[chain]


def to_holdings_page(body: Any, chain: Chain, owner: str, fetched_at: float) -> HoldingsPage:
    """One ``getWalletNFTs`` body as a page; malformed items are skipped.

    ``fetched_at`` (Unix seconds) stamps the floors read from this page. Raises
    :class:`ProviderBadData` when the body is not an object with a ``result`` list.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("result"), list):
        raise ProviderBadData(PROVIDER, "getWalletNFTs body has no 'result' list")
    records = (to_nft_record(item, chain, owner, fetched_at) for item in body["result"])
    cursor = body.get("cursor")
    return HoldingsPage(
        records=tuple(record for record in records if record is not None),
        next_cursor=cursor if isinstance(cursor, str) and cursor.strip() else None,
    )


def to_nft_record(raw: Any, chain: Chain, owner: str, fetched_at: float) -> NFTRecord | None:
    """One ``nftOwner`` item as held by ``owner``, or ``None`` without a usable identity."""
    if not isinstance(raw, Mapping):
        return None
    contract = lower_address(raw.get("token_address"))
    token_id = _token_id(raw.get("token_id"))
    if contract is None or token_id is None:
        return None
    metadata = _metadata(raw)
    return NFTRecord(
        source=PROVIDER,
        chain=chain,
        contract_address=contract,
        token_id=token_id,
        token_standard=_token_standard(raw.get("contract_type")),
        name=first_text(metadata.get("name")),
        description=first_text(metadata.get("description")),
        # Raw URLs are kept (ipfs:// included): the gateway rewrites them in one place.
        image=first_text(metadata.get("image"), metadata.get("image_url")),
        animation_url=first_text(metadata.get("animation_url")),
        collection_name=first_text(raw.get("name")),
        traits=_traits(metadata),
        owner_addresses=(lower_address(raw.get("owner_of")) or owner.lower(),),
        quantity=parse_int(raw.get("amount")),
        spam_signals=_spam_signals(raw.get("possible_spam")),
        collection_verified=is_verified_collection(raw),
        floor=to_floor(raw, fetched_at),
    )


def _spam_signals(value: Any) -> tuple[SpamSignal, ...] | None:
    """``possible_spam`` as Moralis's flag: ``()`` when it says "not spam", ``None`` unsent."""
    flag = _flag(value)
    if flag is None:
        return None
    return (SpamSignal(PROVIDER, "possible_spam"),) if flag else ()


def is_verified_collection(raw: Any) -> bool | None:
    """Moralis's ``verified_collection`` (verified on OpenSea, per its changelog), if sent."""
    return _flag(mapping(raw).get("verified_collection"))


def to_floor(raw: Any, fetched_at: float) -> FloorPrice | None:
    """``floor_price`` in ``floor_price_currency``; ``None`` unless both are usable."""
    item = mapping(raw)
    value = _positive_number(item.get("floor_price"))
    currency = first_text(item.get("floor_price_currency"))
    if value is None or currency is None:
        return None
    return FloorPrice(
        value=value, currency=currency.strip().upper(), source=PROVIDER, fetched_at=fetched_at
    )


def _token_id(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return str(int(value.strip()))
    return None


def _token_standard(value: Any) -> TokenStandard | None:
    if not isinstance(value, str):
        return None
    return _STANDARDS.get(value.strip().upper().replace("-", ""))


def _metadata(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """``normalized_metadata``, else the raw ``metadata`` string parsed (bounded), else ``{}``."""
    normalized = raw.get("normalized_metadata")
    if isinstance(normalized, Mapping) and any(v is not None for v in normalized.values()):
        return normalized
    text = raw.get("metadata")
    if not isinstance(text, str) or len(text) > MAX_RAW_METADATA_CHARS:
        return {}
    try:
        return mapping(orjson.loads(text))
    except orjson.JSONDecodeError:
        return {}


def _traits(metadata: Mapping[str, Any]) -> tuple[Trait, ...] | None:
    """``attributes`` as traits; ``None`` ("unknown") when there is no metadata at all."""
    if not metadata:
        return None
    attributes = metadata.get("attributes")
    if not isinstance(attributes, list):
        return ()
    traits = []
    for entry in attributes:
        item = mapping(entry)
        kind = first_text(item.get("trait_type"))
        value = trait_value(item.get("value"))
        if kind is not None and value is not None:
            traits.append(Trait(type=kind, value=value))
    return tuple(traits)


def _flag(value: Any) -> bool | None:
    # The schema types these boolean; its examples write them as the strings "true"/"false".
    if value is True or value == "true":
        return True
    if value is False or value == "false":
        return False
    return None


def _positive_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
