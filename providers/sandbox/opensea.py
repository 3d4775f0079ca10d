"""The OpenSea API v2 emulator: OpenSea's view of the sandbox world, on its wire format.

Wire contract: UPSTREAMS.md §1 (routes, envelopes, cursors, headers) and §1.12 (checklist).
Only NFTs with ``in_opensea=True`` exist here. What it reproduces on purpose:

* ``x-api-key`` is required (401 ``{"errors": [...]}``), optionally from a fixed set;
* every answer carries ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset``;
* list-by-account: ``limit`` 1..``limit_max`` (default 50), an opaque base64 ``next`` that
  needs URL-encoding (it starts with ``+/``) and is omitted on the last page, ``traits: []``
  unless the collection is one OpenSea fills them for;
* get-NFT: ``owners[]`` with an int32-clamped ``quantity`` and an exact ``quantity_string``,
  ``owners: null`` past ``owners_inline_max`` holders, numeric trait values kept numeric;
* ``matic`` accepted for Polygon; errors as ``{"errors": [...]}`` with 400/401/404.

Faults (429, 599, 5xx, bodies that are not JSON, latency) come from :class:`FaultInjector`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from providers.models import Chain, TokenStandard
from providers.sandbox.faults import (
    CursorHooks,
    Emulator,
    FaultInjector,
    FaultSwitches,
    ForcedResponse,
)
from providers.sandbox.opensea_stats import stats_and_refresh_routes
from providers.sandbox.tables import lower_evm_address, opensea_chain, opensea_segment
from providers.sandbox.world import SandboxCollection, SandboxNFT, World
from providers.sandbox.world import world as sandbox_world

__all__ = ["opensea_emulator"]

DEFAULT_LIST_LIMIT = 50
OWNERS_DEFAULT_LIMIT = 20
OWNERS_LIMIT_MAX = 100
INT32_MAX = 2**31 - 1
RATE_LIMIT = 60
UPDATED_AT = "2025-03-02T10:11:12.345678"
# Cursor bytes start with 0xFBFF so their base64 starts with "+/": a client that does not
# URL-encode ``next`` gets a 400 here, as it would upstream.
_CURSOR_MAGIC = b"\xfb\xff-pk="


class _BadRequest(Exception):
    """A request the real API answers with 400 and an ``errors`` list."""


def opensea_emulator(
    world: World | None = None,
    *,
    api_keys: set[str] | None = None,
    limit_max: int = 200,
    owners_inline_max: int = 50,
) -> Emulator:
    """An OpenSea emulator over ``world`` (the sandbox world by default).

    ``api_keys=None`` accepts any non-empty key; a set accepts only its members.
    ``limit_max=50`` mimics the 2024 API. Get-NFT sends ``owners: null`` for NFTs with more
    than ``owners_inline_max`` holders (OpenSea's cut-off is 50).
    """
    data = _OpenSeaData(world or sandbox_world(), limit_max, owners_inline_max)
    routes = [
        Route("/api/v2/chain/{chain}/account/{address}/nfts", data.list_by_account),
        Route("/api/v2/chain/{chain}/contract/{address}/nfts/{identifier}", data.get_nft),
        Route("/api/v2/chain/{chain}/contract/{address}/nfts/{identifier}/owners", data.owners),
        Route("/api/v2/chain/{chain}/contract/{address}", data.get_contract),
        Route("/api/v2/collections/{slug}", data.get_collection),
        *stats_and_refresh_routes(data.world),
    ]
    app = _ApiKeyGate(Starlette(routes=routes), api_keys)
    faults = FaultSwitches()
    return Emulator(
        name="opensea", app=FaultInjector(app, faults, cursors=CURSOR_HOOKS), faults=faults
    )


# For the cursor faults: OpenSea's cursor is ``next`` both ways; an unknown one is a 400.
CURSOR_HOOKS = CursorHooks(
    param="next",
    field="next",
    expired=ForcedResponse(400, b'{"errors": ["next: Invalid cursor"]}'),
)


class _ApiKeyGate:
    """Requires ``x-api-key`` and stamps the rate-limit headers on every answer."""

    def __init__(self, app: ASGIApp, api_keys: set[str] | None) -> None:
        self.app = app
        self.api_keys = api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _rate_limit_headers()
            await send(message)

        key = Headers(scope=scope).get("x-api-key", "")
        if not key or (self.api_keys is not None and key not in self.api_keys):
            response = _errors(401, "Invalid or missing API key. Pass it in the x-api-key header.")
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _rate_limit_headers() -> list[tuple[bytes, bytes]]:
    reset = int(time.time()) + 60
    return [
        (b"x-ratelimit-limit", str(RATE_LIMIT).encode()),
        (b"x-ratelimit-remaining", str(RATE_LIMIT - 1).encode()),
        (b"x-ratelimit-reset", str(reset).encode()),
    ]


def _errors(status: int, *messages: str) -> Response:
    return JSONResponse({"errors": list(messages)}, status_code=status)


class _OpenSeaData:
    """The route handlers: OpenSea's view of one :class:`World`."""

    def __init__(self, world: World, limit_max: int, owners_inline_max: int) -> None:
        self.world = world
        self.limit_max = limit_max
        self.owners_inline_max = owners_inline_max

    async def list_by_account(self, request: Request) -> Response:
        try:
            chain = _chain(request)
            owner = _address(request.path_params["address"], "address")
            limit = _limit(request, DEFAULT_LIST_LIMIT, self.limit_max)
            offset = _offset(request)
        except _BadRequest as exc:
            return _errors(400, str(exc))
        nfts = [n for n in self.world.holdings(owner, chain) if n.in_opensea]
        page = nfts[offset : offset + limit]
        body: dict[str, Any] = {"nfts": [_nft_body(n) for n in page]}
        if offset + limit < len(nfts):
            body["next"] = _encode_cursor(offset + limit)
        return JSONResponse(body)

    async def get_nft(self, request: Request) -> Response:
        try:
            nft = self._nft(request)
        except _BadRequest as exc:
            return _errors(400, str(exc))
        if nft is None:
            return _errors(404, "not found")
        body = _nft_body(nft, detailed=True)
        holders = _owner_entries(nft)
        body["owners"] = holders if len(holders) <= self.owners_inline_max else None
        return JSONResponse({"nft": body})

    async def owners(self, request: Request) -> Response:
        try:
            nft = self._nft(request)
            limit = _limit(request, OWNERS_DEFAULT_LIMIT, OWNERS_LIMIT_MAX)
            offset = _offset(request)
        except _BadRequest as exc:
            return _errors(400, str(exc))
        if nft is None:
            return _errors(404, "not found")
        holders = _owner_entries(nft)
        body: dict[str, Any] = {"owners": holders[offset : offset + limit]}
        if offset + limit < len(holders):
            body["next"] = _encode_cursor(offset + limit)
        return JSONResponse(body)

    async def get_contract(self, request: Request) -> Response:
        try:
            chain = _chain(request)
            contract = _address(request.path_params["address"], "address")
        except _BadRequest as exc:
            return _errors(400, str(exc))
        collection = self.world.collection(chain, contract)
        if collection is None:
            return _errors(404, "not found")
        return JSONResponse(
            {
                "address": collection.contract,
                "chain": opensea_segment(collection.chain),
                "collection": collection.slug,
                "contract_standard": collection.standard.value.lower(),
                "name": collection.name.replace(" ", ""),
            }
        )

    async def get_collection(self, request: Request) -> Response:
        collection = self.world.collection_by_slug(request.path_params["slug"])
        if collection is None:
            return _errors(404, "not found")
        return JSONResponse(_collection_body(collection))

    def _nft(self, request: Request) -> SandboxNFT | None:
        chain = _chain(request)
        contract = _address(request.path_params["address"], "address")
        identifier = request.path_params["identifier"]
        nft = self.world.nft(chain, contract, identifier)
        return nft if nft is not None and nft.in_opensea else None


# -- request parsing --------------------------------------------------------------------


def _chain(request: Request) -> Chain:
    chain = opensea_chain(request.path_params["chain"])
    if chain is None:
        raise _BadRequest(f"Unsupported chain {request.path_params['chain']!r}")
    return chain


def _address(value: str, field: str) -> str:
    address = lower_evm_address(value)
    if address is None:
        raise _BadRequest(f"{field}: Value must be a valid address")
    return address


def _limit(request: Request, default: int, maximum: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _BadRequest(f"limit: Ensure this value is between 1 and {maximum}")
    return int(raw)


def _offset(request: Request) -> int:
    cursor = request.query_params.get("next")
    return 0 if not cursor else _decode_cursor(cursor)


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(_CURSOR_MAGIC + str(offset).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.b64decode(cursor, validate=True)
    except (binascii.Error, ValueError):
        raise _BadRequest("next: Invalid cursor") from None
    digits = raw.removeprefix(_CURSOR_MAGIC)
    if digits == raw or not digits.isdigit():
        raise _BadRequest("next: Invalid cursor")
    return int(digits)


# -- bodies -----------------------------------------------------------------------------


def _nft_body(nft: SandboxNFT, *, detailed: bool = False) -> dict[str, Any]:
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
        # Spam collections are delisted on OpenSea too, so the signal exists on both sides.
        "is_disabled": collection.is_spam,
        "is_nsfw": False,
        "traits": [_trait_body(kind, value) for kind, value in nft.traits] if lists_traits else [],
    }
    if detailed:
        body.update(
            animation_url=nft.animation,
            is_suspicious=False,
            creator=_creator(collection),
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


def _owner_entries(nft: SandboxNFT) -> list[dict[str, Any]]:
    return [
        {
            "address": address,
            "quantity": min(quantity, INT32_MAX),  # an int32 on the wire
            "quantity_string": str(quantity),
        }
        for address, quantity in sorted(nft.holders.items())
    ]


def _creator(collection: SandboxCollection) -> str:
    return "0x" + hashlib.sha256(f"creator:{collection.slug}".encode()).hexdigest()[:40]


def _collection_body(collection: SandboxCollection) -> dict[str, Any]:
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
        "owner": _creator(collection),
        "safelist_status": "not_requested" if collection.is_spam else "verified",
        "category": "pfps" if collection.standard is TokenStandard.ERC721 else "memberships",
        "is_disabled": collection.is_spam,
        "is_nsfw": False,
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
        "editors": [_creator(collection)],
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
