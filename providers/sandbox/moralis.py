"""The Moralis Web3 Data API v2.2 emulator: Moralis's view of the sandbox world.

Written from Moralis's own documents, not from the adapter: the EVM API OpenAPI document
version 2.2 (server ``https://deep-index.moralis.io/api/v2.2``; operations
``getWalletNFTs`` and ``reSyncMetadata``, schemas ``nftOwnerCollection``, ``nftOwner``,
``normalizedMetadata``, ``metadataResync``, ``chainList``, security scheme ``ApiKeyAuth``),
the docs pages "NFT Balances", "Response Codes" and "Metadata Normalization", and the
changelog entries on verified collections and collection metadata. Routes::

    GET /api/v2.2/{address}/nft                               a wallet's NFTs, cursor paged
    GET /api/v2.2/nft/{address}/{token_id}/metadata/resync    ask for a metadata refresh

Only NFTs the world marks ``in_moralis`` exist here. Wire habits reproduced on purpose:

* ``X-API-Key`` header required: 401 ``{"message": ...}`` without it (or, when ``api_keys``
  is a set, with any other key); every error body is ``{"message": ...}`` with the status
  codes of the "Response Codes" table (400, 401, 404, 429, 500);
* ``chain`` by name or hex id (``eth`` / ``0x1``), default ``eth``; ``format`` decimal or
  hex token ids; ``limit`` up to 100; ``normalizeMetadata`` default true; ``exclude_spam``;
* addresses checksummed, ``amount`` a decimal string, ``metadata`` the token JSON *as a
  string*, ``possible_spam`` / ``verified_collection`` booleans, ``floor_price`` strings
  with a lower-case ``floor_price_currency``, ``rarity_rank`` where the world ranks;
* an opaque ``cursor`` (``null`` on the last page), ``page`` and ``page_size``, and no
  total count (v2.2 dropped it);
* resync answers 202 ``{"status": ...}`` (async, the default mode) or 200 in sync mode,
  and 404 in sync mode for a token it does not know.
"""

from __future__ import annotations

import base64
import binascii
import json
from hashlib import md5
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.models import Chain
from providers.sandbox.faults import (
    CursorHooks,
    Emulator,
    FaultInjector,
    FaultSwitches,
    ForcedResponse,
)
from providers.sandbox.responses import JSONResponse
from providers.sandbox.tables import checksum_address, lower_evm_address, moralis_chain
from providers.sandbox.world import SandboxNFT, World
from providers.sandbox.world import world as sandbox_world

__all__ = ["INVALID_KEY_TEXT", "moralis_emulator"]

PREFIX = "/api/v2.2"
MAX_LIMIT = 100
INVALID_KEY_TEXT = "Missing or invalid API key."
SYNCED_AT = "2025-02-03T04:05:06.789Z"
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class _Refused(Exception):
    """A request Moralis answers with a status and ``{"message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def moralis_emulator(world: World | None = None, *, api_keys: set[str] | None = None) -> Emulator:
    """The Moralis emulator over ``world`` (the sandbox world by default).

    ``api_keys=None`` accepts any non-empty ``X-API-Key``; a set accepts only its members.
    """
    data = _MoralisData(world or sandbox_world(), api_keys)
    routes = [
        Route(PREFIX + "/{address}/nft", data.wallet_nfts),
        Route(PREFIX + "/nft/{address}/{token_id}/metadata/resync", data.resync),
    ]
    switches = FaultSwitches()
    app = FaultInjector(Starlette(routes=routes), switches, cursors=CURSOR_HOOKS)
    return Emulator("moralis", app, switches)


# For the cursor faults: Moralis's cursor is ``cursor`` both ways; one it cannot read is a 400.
CURSOR_HOOKS = CursorHooks(
    param="cursor",
    field="cursor",
    expired=ForcedResponse(400, b'{"message":"Invalid cursor"}'),
)


class _MoralisData:
    def __init__(self, world: World, api_keys: set[str] | None) -> None:
        self.world = world
        self.api_keys = api_keys

    async def wallet_nfts(self, request: Request) -> Response:
        try:
            self._authenticate(request)
            return JSONResponse(self._wallet_page(request))
        except _Refused as exc:
            return _message(exc.status, exc.message)

    async def resync(self, request: Request) -> Response:
        try:
            self._authenticate(request)
            query = request.query_params
            chain = _chain(query.get("chain"))
            contract = _address(request.path_params["address"])
            token_id = _token_id(request.path_params["token_id"])
            if query.get("flag", "uri") not in ("uri", "metadata"):
                raise _Refused(400, "flag must be one of: uri, metadata")
            mode = query.get("mode", "async")
            if mode not in ("async", "sync"):
                raise _Refused(400, "mode must be one of: async, sync")
        except _Refused as exc:
            return _message(exc.status, exc.message)
        nft = self.world.nft(chain, contract, token_id)
        known = nft is not None and nft.in_moralis
        if mode == "async":
            return JSONResponse({"status": "Request to resync submitted."}, status_code=202)
        if not known:
            return JSONResponse({"status": "Metadata could not be updated."}, status_code=404)
        return JSONResponse({"status": "Metadata resynced."})

    def _authenticate(self, request: Request) -> None:
        key = request.headers.get("x-api-key", "")
        if not key or (self.api_keys is not None and key not in self.api_keys):
            raise _Refused(401, INVALID_KEY_TEXT)

    def _wallet_page(self, request: Request) -> dict[str, Any]:
        query = request.query_params
        owner = _address(request.path_params["address"])
        chain = _chain(query.get("chain"))
        hex_ids = _choice(query.get("format"), "format", ("decimal", "hex")) == "hex"
        limit = _limit(query.get("limit"))
        normalize = _boolean(query.get("normalizeMetadata"), "normalizeMetadata", True)
        exclude_spam = _boolean(query.get("exclude_spam"), "exclude_spam", False)
        nfts = [n for n in self.world.holdings(owner, chain) if n.in_moralis]
        if exclude_spam:
            nfts = [n for n in nfts if not n.collection.moralis_possible_spam]
        offset = _decode_cursor(query.get("cursor"), owner, str(chain), exclude_spam)
        page = nfts[offset : offset + limit]
        more = offset + limit < len(nfts)
        return {
            "status": "SYNCED",
            "page": offset // limit + 1,
            "page_size": limit,
            "cursor": _encode_cursor(owner, str(chain), exclude_spam, offset + limit)
            if more
            else None,
            "result": [_item(nft, owner, hex_ids=hex_ids, normalize=normalize) for nft in page],
        }


def _item(nft: SandboxNFT, owner: str, *, hex_ids: bool, normalize: bool) -> dict[str, Any]:
    collection = nft.collection
    metadata = _token_metadata(nft)
    item: dict[str, Any] = {
        "token_address": checksum_address(nft.contract),
        "token_id": hex(int(nft.token_id)) if hex_ids else nft.token_id,
        "owner_of": checksum_address(owner),
        "block_number": "19876543",
        "block_number_minted": "17654321",
        "token_hash": _token_hash(nft),
        "amount": str(nft.holders[owner]),
        "possible_spam": collection.moralis_possible_spam,
        "contract_type": collection.standard.value,
        "name": collection.name,
        "symbol": "".join(word[0] for word in collection.name.split()).upper(),
        "token_uri": nft.original_image.rsplit(".", 1)[0] + ".json",
        "metadata": json.dumps(metadata),
        "last_token_uri_sync": SYNCED_AT,
        "last_metadata_sync": SYNCED_AT,
        "minter_address": None,
        "verified_collection": collection.moralis_verified,
        "collection_logo": None,
        "collection_banner_image": None,
    }
    if normalize:
        item["normalized_metadata"] = _normalized(metadata)
    floor = collection.floor_price
    if floor is not None:
        item["floor_price"] = f"{floor:.4f}"
        item["floor_price_usd"] = f"{floor * 3000:.2f}"
        item["floor_price_currency"] = collection.floor_currency.lower()
    if nft.rank is not None:
        item["rarity_rank"] = nft.rank
        item["rarity_percentage"] = round(100 * nft.rank / collection.total_supply, 2)
        item["rarity_label"] = f"Top {item['rarity_percentage']}%"
    return item


def _token_metadata(nft: SandboxNFT) -> dict[str, Any]:
    """The token's own JSON. Its image is the world's ``data:`` URI: on-chain SVG tokens
    do that, and it keeps the gallery rendering offline."""
    metadata: dict[str, Any] = {"image": nft.image}
    if nft.name is not None:
        metadata["name"] = nft.name
    if nft.description is not None:
        metadata["description"] = nft.description
    if nft.animation is not None:
        metadata["animation_url"] = nft.animation
    metadata["attributes"] = [{"trait_type": kind, "value": value} for kind, value in nft.traits]
    return metadata


def _normalized(metadata: dict[str, Any]) -> dict[str, Any]:
    # Every normalised key is present; absent values are null (docs' example shape).
    return {
        "name": metadata.get("name"),
        "description": metadata.get("description"),
        "image": metadata.get("image"),
        "external_link": None,
        "external_url": None,
        "animation_url": metadata.get("animation_url"),
        "attributes": [
            {
                "trait_type": attribute["trait_type"],
                "value": attribute["value"],
                "display_type": "number" if isinstance(attribute["value"], int) else "string",
                "max_value": None,
                "trait_count": 0,
                "order": None,
            }
            for attribute in metadata["attributes"]
        ],
    }


def _token_hash(nft: SandboxNFT) -> str:
    # A 32-hex-digit hash, as in the schema's example; not a security use.
    return md5(f"{nft.chain}:{nft.contract}:{nft.token_id}".encode()).hexdigest()


# -- request parsing -------------------------------------------------------------------


def _message(status: int, message: str) -> Response:
    return JSONResponse({"message": message}, status_code=status)


def _address(value: str) -> str:
    address = lower_evm_address(value.strip())
    if address is None:
        raise _Refused(400, f"Invalid address provided: {value[:64]}")
    return address


def _chain(value: str | None) -> Chain:
    chain = moralis_chain(value or "eth")
    if chain is None:
        raise _Refused(400, f"Invalid chain provided: {(value or '')[:32]}")
    return chain


def _token_id(value: str) -> str:
    text = value.strip()
    try:
        number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise _Refused(400, f"Invalid token_id provided: {text[:80]}") from None
    if number < 0:
        raise _Refused(400, f"Invalid token_id provided: {text[:80]}")
    return str(number)


def _choice(value: str | None, name: str, options: tuple[str, ...]) -> str:
    if value is None:
        return options[0]
    if value not in options:
        raise _Refused(400, f"{name} must be one of: {', '.join(options)}")
    return value


def _boolean(value: str | None, name: str, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _Refused(400, f"{name} must be a boolean")


def _limit(value: str | None) -> int:
    if value is None or value == "0":
        return MAX_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise _Refused(400, f"limit must be between 1 and {MAX_LIMIT}")
    return int(value)


def _encode_cursor(owner: str, chain: str, exclude_spam: bool, offset: int) -> str:
    payload = json.dumps({"o": owner, "c": chain, "s": exclude_spam, "n": offset})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, owner: str, chain: str, exclude_spam: bool) -> int:
    """The offset a cursor stands for; one issued for another walk, or garbage, is a 400."""
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = state["n"]
        valid = (state["o"], state["c"], state["s"]) == (owner, chain, exclude_spam)
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise _Refused(400, "Invalid cursor") from None
    if not valid or not isinstance(offset, int) or offset < 0:
        raise _Refused(400, "Invalid cursor")
    return offset
