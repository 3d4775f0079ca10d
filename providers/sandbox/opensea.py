"""The OpenSea API v2 emulator: OpenSea's view of the sandbox world, on its wire format.

Wire contract: UPSTREAMS.md §1 (routes, envelopes, cursors, headers) and §1.12 (checklist).
Only NFTs with ``in_opensea=True`` exist here. What it reproduces on purpose:

* ``x-api-key`` is required (401 ``{"errors": [...]}``), optionally from a fixed set;
* a read quota per key (the ``quota_tier`` switch: ``instant`` is the 600 reads an hour
  of an instant key [OS4]; ``unmetered``, the default, a million a minute): every answer
  carries ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (Unix seconds), and a spent
  quota answers 429 ``{"detail": "Request was throttled."}`` [OS6] with ``Retry-After``;
* the batch routes of the 2026 spec (``specs/opensea-v2-2026-07.full.json``):
  ``POST /api/v2/nfts/batch`` (``identifiers[{chain, contract_address, token_id}]`` ->
  ``nfts[NftDetailed]``, unknown ones omitted) and ``POST /api/v2/collections/batch``
  (``slugs[]`` -> ``collections[]`` in input order, unknown ones omitted). Their maximum
  size is not documented: this one refuses more than ``batch_limit`` items (default
  32) with a 400 naming the list; ``batch_routes=False`` makes them 404 as on an older
  server;
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
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from providers.models import Chain
from providers.sandbox.faults import (
    CursorHooks,
    Emulator,
    FaultInjector,
    FaultSwitches,
    ForcedResponse,
)
from providers.sandbox.opensea_bodies import collection_body, nft_body, owner_entries
from providers.sandbox.opensea_stats import stats_and_refresh_routes
from providers.sandbox.quotas import Admission, FixedWindow, Tier, tier_for
from providers.sandbox.responses import JSONResponse
from providers.sandbox.tables import lower_evm_address, opensea_chain, opensea_segment
from providers.sandbox.world import SandboxNFT, World
from providers.sandbox.world import world as sandbox_world

__all__ = ["opensea_emulator"]

DEFAULT_LIST_LIMIT = 50
OWNERS_DEFAULT_LIMIT = 20
OWNERS_LIMIT_MAX = 100
DEFAULT_BATCH_LIMIT = 32
# Read quotas by key tier ([OS4]: an instant key reads 600 times an hour).
TIERS: dict[str, Tier] = {
    "unmetered": Tier(1_000_000, 60.0),
    "instant": Tier(600, 3600.0),
}
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
    faults = FaultSwitches()
    data = _OpenSeaData(world or sandbox_world(), limit_max, owners_inline_max, faults)
    routes = [
        Route("/api/v2/nfts/batch", data.nfts_batch, methods=["POST"]),
        Route("/api/v2/collections/batch", data.collections_batch, methods=["POST"]),
        Route("/api/v2/chain/{chain}/account/{address}/nfts", data.list_by_account),
        Route("/api/v2/chain/{chain}/contract/{address}/nfts/{identifier}", data.get_nft),
        Route("/api/v2/chain/{chain}/contract/{address}/nfts/{identifier}/owners", data.owners),
        Route("/api/v2/chain/{chain}/contract/{address}", data.get_contract),
        Route("/api/v2/collections/{slug}", data.get_collection),
        *stats_and_refresh_routes(data.world),
    ]
    app = _ApiKeyGate(Starlette(routes=routes), api_keys, faults)
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
    """Requires ``x-api-key``, meters its reads and stamps the rate-limit headers."""

    def __init__(self, app: ASGIApp, api_keys: set[str] | None, switches: FaultSwitches) -> None:
        self.app = app
        self.api_keys = api_keys
        self.switches = switches
        self.reads = FixedWindow()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get("x-api-key", "")
        if not key or (self.api_keys is not None and key not in self.api_keys):
            response = _errors(401, "Invalid or missing API key. Pass it in the x-api-key header.")
            await response(scope, receive, send)
            return
        admission = self.reads.admit(key, tier_for(self.switches, TIERS, "unmetered"))
        headers = _rate_limit_headers(admission)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + headers
            await send(message)

        if not admission.allowed:
            self.switches.throttled += 1
            throttled = JSONResponse({"detail": "Request was throttled."}, status_code=429)
            throttled.headers["retry-after"] = str(admission.retry_after)
            await throttled(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _rate_limit_headers(admission: Admission) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(admission.limit).encode()),
        (b"x-ratelimit-remaining", str(admission.remaining).encode()),
        (b"x-ratelimit-reset", str(int(admission.reset_at)).encode()),
    ]


def _errors(status: int, *messages: str) -> Response:
    return JSONResponse({"errors": list(messages)}, status_code=status)


class _OpenSeaData:
    """The route handlers: OpenSea's view of one :class:`World`."""

    def __init__(
        self, world: World, limit_max: int, owners_inline_max: int, switches: FaultSwitches
    ) -> None:
        self.world = world
        self.limit_max = limit_max
        self.owners_inline_max = owners_inline_max
        self.switches = switches

    async def nfts_batch(self, request: Request) -> Response:
        if not self.switches.batch_routes:
            return _errors(404, "not found")
        try:
            items = await self._batch_items(request, "identifiers")
            found = [self._batch_nft(item) for item in items]
        except _BadRequest as exc:
            return _errors(400, str(exc))
        return JSONResponse({"nfts": [self._detailed(nft) for nft in found if nft is not None]})

    async def collections_batch(self, request: Request) -> Response:
        if not self.switches.batch_routes:
            return _errors(404, "not found")
        try:
            slugs = await self._batch_items(request, "slugs")
        except _BadRequest as exc:
            return _errors(400, str(exc))
        if not all(isinstance(slug, str) for slug in slugs):
            return _errors(400, "slugs: Each item must be a string")
        found = [self.world.collection_by_slug(slug) for slug in slugs]
        return JSONResponse({"collections": [collection_body(c) for c in found if c is not None]})

    async def _batch_items(self, request: Request, field: str) -> list[Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _BadRequest("JSON parse error") from None
        items = body.get(field) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise _BadRequest(f"{field}: This field is required.")
        limit = self.switches.batch_limit or DEFAULT_BATCH_LIMIT
        if len(items) > limit:
            raise _BadRequest(f"{field}: Ensure this field has no more than {limit} elements.")
        return items

    def _batch_nft(self, item: Any) -> SandboxNFT | None:
        if not isinstance(item, dict):
            raise _BadRequest("identifiers: Each item must be an object")
        chain = opensea_chain(str(item.get("chain", "")))
        if chain is None:
            raise _BadRequest(f"identifiers: Unsupported chain {item.get('chain')!r}")
        contract = _address(str(item.get("contract_address", "")), "contract_address")
        nft = self.world.nft(chain, contract, str(item.get("token_id", "")))
        return nft if nft is not None and nft.in_opensea else None

    def _detailed(self, nft: SandboxNFT) -> dict[str, Any]:
        """An ``NftDetailed`` object, as get-NFT and the batch route send it."""
        body = nft_body(nft, detailed=True)
        holders = owner_entries(nft)
        body["owners"] = holders if len(holders) <= self.owners_inline_max else None
        return body

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
        body: dict[str, Any] = {"nfts": [nft_body(n) for n in page]}
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
        return JSONResponse({"nft": self._detailed(nft)})

    async def owners(self, request: Request) -> Response:
        try:
            nft = self._nft(request)
            limit = _limit(request, OWNERS_DEFAULT_LIMIT, OWNERS_LIMIT_MAX)
            offset = _offset(request)
        except _BadRequest as exc:
            return _errors(400, str(exc))
        if nft is None:
            return _errors(404, "not found")
        holders = owner_entries(nft)
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
        return JSONResponse(collection_body(collection))

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
