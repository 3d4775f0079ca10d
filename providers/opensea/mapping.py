"""OpenSea API v2 payloads -> the normalised model (pure functions, no I/O).

Wire contract: UPSTREAMS.md §1. Every function accepts anything (upstream JSON is written
by strangers) and returns a model value or ``None``; none of them raises. The adapter in
:mod:`providers.opensea.source` decides what a ``None`` means for the call it made.

What OpenSea does and does not tell (and therefore what stays ``None`` here):

* list-by-account rows carry no quantity, no rarity and usually ``traits: []`` even when
  the NFT has traits, so an empty list there means "unknown", not "no traits";
* get-NFT carries traits, rank and ``owners[]`` with exact ``quantity_string`` balances,
  but ``traits``/``owners`` are ``null`` past 50 entries;
* collection names live only on the collection endpoint.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from providers.mapping import (
    first_text,
    lower_address,
    mapping,
    parse_int,
    text_or_none,
    trait_value,
)
from providers.models import (
    Chain,
    CollectionInfo,
    FloorPrice,
    NFTRecord,
    OwnersPage,
    Rarity,
    TokenStandard,
    Trait,
)

__all__ = [
    "CHAINS",
    "SOURCE",
    "chain_from_segment",
    "chain_segment",
    "next_cursor",
    "owners_quantity",
    "to_collection_info",
    "to_floor",
    "to_nft_detail",
    "to_nft_record",
    "to_owners_page",
]

SOURCE = "opensea"

_CHAIN_SEGMENTS: Mapping[Chain, str] = {
    Chain.ETHEREUM: "ethereum",
    Chain.POLYGON: "polygon",
    Chain.BASE: "base",
    Chain.ARBITRUM: "arbitrum",
    Chain.OPTIMISM: "optimism",
}
CHAINS: frozenset[Chain] = frozenset(_CHAIN_SEGMENTS)
# OpenSea renamed Polygon from "matic" in 2025; older payloads and clients still say matic.
_SEGMENT_ALIASES: Mapping[str, Chain] = {"matic": Chain.POLYGON}

_STANDARDS: Mapping[str, TokenStandard] = {
    "erc721": TokenStandard.ERC721,
    "erc1155": TokenStandard.ERC1155,
}

# Token ids are uint256: at most 78 decimal digits. ASCII only (str.isdigit accepts "²").
_TOKEN_ID = re.compile(r"^[0-9]{1,78}$")


# -- chains -----------------------------------------------------------------------------


def chain_segment(chain: Chain) -> str:
    """The ``{chain}`` path segment OpenSea uses for ``chain`` (current naming)."""
    return _CHAIN_SEGMENTS[chain]


def chain_from_segment(segment: Any) -> Chain | None:
    """The chain a ``{chain}`` segment names (``matic`` is Polygon), else ``None``."""
    if not isinstance(segment, str):
        return None
    segment = segment.strip().lower()
    alias = _SEGMENT_ALIASES.get(segment)
    if alias is not None:
        return alias
    return next((chain for chain, name in _CHAIN_SEGMENTS.items() if name == segment), None)


# -- NFTs -------------------------------------------------------------------------------


def to_nft_record(raw: Any, chain: Chain, owner: str) -> NFTRecord | None:
    """One list-by-account row as held by ``owner``; ``None`` if it has no usable identity."""
    base = _base_record(raw, chain)
    if base is None:
        return None
    return replace(
        base,
        animation_url=first_text(
            raw.get("display_animation_url"),
            raw.get("animation_url"),
            raw.get("original_animation_url"),
        ),
        # List payloads send [] for NFTs that do have traits: only a non-empty list is news.
        traits=_traits(raw.get("traits")) or None,
        owner_addresses=(owner.lower(),),
        # The wallet is every holder of an ERC-721, only one of an ERC-1155's.
        owners_complete=base.token_standard is TokenStandard.ERC721,
        # An ERC-1155 balance is unknown until the detail call; never guess 1 for it.
        quantity=1 if base.token_standard is TokenStandard.ERC721 else None,
    )


def to_nft_detail(raw_nft: Any, chain: Chain, owner: str) -> NFTRecord | None:
    """Get-NFT's ``nft`` object as held by ``owner``; ``None`` if it has no usable identity.

    ``owner_addresses`` and ``quantity`` come from ``owners[]`` (``None`` when OpenSea sent
    ``owners: null``, which it does past 50 owners: the holders are then unknown here and
    the adapter pages ``/owners``). An ERC-721 whose ``owners`` is null keeps quantity 1,
    as its list row did: a single-owner token cannot have 50 owners. ``is_suspicious``
    (reported for suspicious activity, e.g. stolen) is not a spam flag and is not read.
    """
    base = _base_record(raw_nft, chain)
    if base is None:
        return None
    owners = raw_nft.get("owners")
    return replace(
        base,
        animation_url=first_text(
            raw_nft.get("display_animation_url"),
            raw_nft.get("animation_url"),
            raw_nft.get("original_animation_url"),
        ),
        traits=_traits(raw_nft.get("traits")),
        rarity=_rarity(raw_nft.get("rarity")),
        owner_addresses=_owner_addresses(owners),
        owners_complete=True if isinstance(owners, list) else None,
        quantity=_detail_quantity(owners, owner, base.token_standard),
    )


def _base_record(raw: Any, chain: Chain) -> NFTRecord | None:
    """The fields list rows and detail objects share, or ``None`` without an identity."""
    if not isinstance(raw, Mapping):
        return None
    contract = lower_address(raw.get("contract"))
    token_id = _token_id(raw.get("identifier"))
    if contract is None or token_id is None:
        return None
    slug = text_or_none(raw.get("collection"))
    return NFTRecord(
        source=SOURCE,
        chain=chain,
        contract_address=contract,
        token_id=token_id,
        token_standard=_token_standard(raw.get("token_standard")),
        name=text_or_none(raw.get("name")),
        description=text_or_none(raw.get("description")),
        # Raw URLs are kept (ipfs:// included): the gateway rewrites them in one place.
        image=first_text(
            raw.get("display_image_url"), raw.get("image_url"), raw.get("original_image_url")
        ),
        collection_slug=slug,
        collection_opensea_slug=slug,
        # OpenSea has no spam field (spam_signals stays None): is_nsfw means "not safe for
        # work" and is_disabled "disabled for trading" (UPSTREAMS.md §1.6); both are facts.
        is_nsfw=_flag(raw.get("is_nsfw")),
        trading_disabled=_flag(raw.get("is_disabled")),
    )


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _token_id(value: Any) -> str | None:
    if isinstance(value, str) and _TOKEN_ID.match(value.strip()):
        return str(int(value.strip()))  # "007" and "7" are the same token
    return None


def _token_standard(value: Any) -> TokenStandard | None:
    return _STANDARDS.get(value.strip().lower()) if isinstance(value, str) else None


def _traits(value: Any) -> tuple[Trait, ...] | None:
    """``traits[]`` as :class:`Trait` values, skipping malformed entries; ``None`` if not a list."""
    if not isinstance(value, list):
        return None
    traits = []
    for entry in value:
        entry = mapping(entry)
        trait_type = text_or_none(entry.get("trait_type"))
        text = trait_value(entry.get("value"))
        if trait_type is not None and text is not None:
            traits.append(Trait(type=trait_type, value=text))
    return tuple(traits)


def _rarity(value: Any) -> Rarity | None:
    """Rank (the one dependable field), plus the deprecated score/total when still sent."""
    raw = mapping(value)
    rank = parse_int(raw.get("rank"))
    if not rank:  # absent, malformed or 0: OpenSea ranks start at 1
        return None
    total = next(
        (
            parsed
            for key in ("max_rank", "tokens_scored", "total_supply")
            if (parsed := parse_int(raw.get(key)))
        ),
        None,
    )
    return Rarity(rank=rank, score=_score(raw.get("score")), total=total)


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _owner_entries(owners: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """``(lower address, entry)`` for each well-formed ``owners[]`` entry."""
    if not isinstance(owners, list):
        return []
    entries = []
    for entry in owners:
        entry = mapping(entry)
        address = lower_address(entry.get("address"))
        if address is not None:
            entries.append((address, entry))
    return entries


def _owner_addresses(owners: Any) -> tuple[str, ...] | None:
    if not isinstance(owners, list):
        return None
    return tuple(dict.fromkeys(address for address, _ in _owner_entries(owners)))


def _entry_quantity(entry: Mapping[str, Any]) -> int | None:
    # quantity is an int32 on the wire; quantity_string is exact (balances exceed 2^31).
    exact = parse_int(entry.get("quantity_string"))
    return exact if exact is not None else parse_int(entry.get("quantity"))


def _detail_quantity(owners: Any, owner: str, standard: TokenStandard | None) -> int | None:
    is_erc721 = standard is TokenStandard.ERC721
    if owners is None:
        return 1 if is_erc721 else None
    wanted = owner.lower()
    for address, entry in _owner_entries(owners):
        if address == wanted:
            return 1 if is_erc721 else _entry_quantity(entry)
    return None  # not (or no longer) an owner: the balance is unknown, not zero


def owners_quantity(raw_owners_page: Any, owner: str) -> tuple[int | None, str | None]:
    """``(owner's quantity if on this /owners page, next cursor or None)``."""
    holders, cursor = to_owners_page(raw_owners_page)
    return dict(holders).get(owner.lower()), cursor


def to_owners_page(raw_owners_page: Any) -> OwnersPage:
    """One ``/owners`` page: ``(lower address, exact quantity)`` of each well-formed
    ``owners[]`` entry, and the next cursor or ``None``."""
    page = mapping(raw_owners_page)
    holders = tuple(
        (address, _entry_quantity(entry)) for address, entry in _owner_entries(page.get("owners"))
    )
    return holders, next_cursor(page)


def next_cursor(raw_page: Any) -> str | None:
    """The opaque ``next`` cursor; missing, ``null`` and ``""`` all mean "last page"."""
    return text_or_none(mapping(raw_page).get("next"))


# -- collections ------------------------------------------------------------------------


def to_collection_info(raw: Any) -> CollectionInfo | None:
    """Get-collection's (unwrapped) body; ``None`` without a slug.

    ``ranked`` is True when the body carries a ``rarity`` object, False when it sends
    ``rarity: null`` (OpenSea does not rank the collection), ``None`` otherwise (no
    ``rarity`` key, or something that is not an object: no verdict either way).
    """
    body = mapping(raw)
    slug = text_or_none(body.get("collection"))
    if slug is None:
        return None
    rarity = mapping(body.get("rarity"))
    total = (
        parse_int(rarity.get("max_rank"))
        or parse_int(rarity.get("total_supply"))
        or parse_int(body.get("total_supply"))
    )
    return CollectionInfo(
        slug=slug,
        name=text_or_none(body.get("name")),
        rarity_total=total,
        ranked=_ranked(body),
    )


def _ranked(body: Mapping[str, Any]) -> bool | None:
    if "rarity" not in body:
        return None
    value = body["rarity"]
    if value is None:
        return False
    return True if isinstance(value, Mapping) else None


def to_floor(raw_stats: Any, fetched_at: float) -> FloorPrice | None:
    """Collection stats' ``total.floor_price`` in ``total.floor_price_symbol`` (the 2026
    spec's ``CollectionStatsResponse``); ``None`` when either is missing, or the floor is
    0 with no listing behind it (OpenSea's way of saying "no floor")."""
    total = mapping(mapping(raw_stats).get("total"))
    value = total.get("floor_price")
    symbol = text_or_none(total.get("floor_price_symbol"))
    if isinstance(value, bool) or not isinstance(value, int | float) or symbol is None:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return FloorPrice(
        value=float(value), currency=symbol.strip().upper(), source=SOURCE, fetched_at=fetched_at
    )
