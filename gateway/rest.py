"""The REST shim: ``POST /users/<user_id>/nfts`` exactly as ``shared/API.md`` documents it.

Handlers are thin: validate, call the service, render. The shim never goes through GraphQL:
it serialises the service's domain objects directly with orjson, and keeps the bytes of a
page the service keeps (see :class:`gateway.nfts.page_cache.PageCache`) by its slice key
(:class:`RenderedPages`), so a cached page is serialised once, not once per request.
Input is parsed here, once (addresses lower-cased, names made canonical), and errors about
it name the request's field (:func:`gateway.errors.input_field`).
Absent optional NFT fields are rendered as ``null`` (never omitted); ``traits`` is ``[]``
when the NFT has none. Additions strict clients can ignore: ``providers`` (what each
provider contributed and why one failed), ``fetched_at`` (when the providers were read,
ISO 8601 UTC) and, on each asset, ``quantity_known`` and ``floor`` (the collection's floor
price with its source and age, or ``null``); the ``X-NFTGW-Providers`` header carries the
provider status too. The body may say ``max_age`` (seconds): a cached walk older than that
is read again (``0``: always).

``POST /users/<user_id>/dids`` answers in the same style (``total``, ``dids``, ``providers``).
Both routes take a name (``alice.bit``) as ``wallet_address``: the answer then covers every
address the name points to and adds ``name`` (the name and those addresses); NFT assets of
a name also say which ``wallets`` hold them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import (
    GatewayError,
    MissingField,
    ProviderOutcome,
    UpstreamUnavailable,
    input_field,
)
from gateway.http.redaction import RedactedBytes, redact_bytes
from gateway.http.responses import HeaderPairs, PreparedResponse, header_pairs
from gateway.http.security import (
    JSON_MEDIA_TYPE,
    check_json_media_type,
    decode_json_object,
    encode_json,
    read_body,
    read_json_object,
)
from gateway.identity.names import WalletInput, parse_wallet_input
from gateway.identity.service import DIDAnswer, IdentityService
from gateway.identity.union import LinkedHolding
from gateway.nfts.merging import Holding
from gateway.nfts.pages import HoldingsSlice, ListWindow, SliceKey
from gateway.nfts.service import NFTService
from gateway.resilience import CallMeter, metering
from gateway.settings import Settings
from gateway.validation import checksum, parse_max_age, parse_positive_int, parse_user_id
from providers.mapping import lower_address
from providers.models import DID, FloorPrice

__all__ = [
    "PROVIDERS_HEADER",
    "UPSTREAM_CALLS_HEADER",
    "RenderedPages",
    "error_response",
    "did_json",
    "dids_json",
    "encode_json",
    "holding_json",
    "json_response",
    "linked_holding_json",
    "list_user_dids",
    "list_user_nfts",
    "name_json",
    "nfts_json",
    "nfts_response",
    "read_json_object",
]

PROVIDERS_HEADER = "X-NFTGW-Providers"
# Upstream calls made for this answer, per provider (`opensea=2, alchemy=1`; `0` when warm).
UPSTREAM_CALLS_HEADER = "X-NFTGW-Upstream-Calls"
STALE_HEADER = "X-NFTGW-Stale"
MAX_PAGE = 1_000_000


async def list_user_nfts(request: Request) -> Response:
    """``POST /users/{user_id}/nfts`` with ``{"wallet_address", "page", "size"}``."""
    settings: Settings = request.app.state.settings
    parse_user_id(request.path_params["user_id"])
    check_json_media_type(request)
    query = nfts_query(
        await read_body(request, max_bytes=settings.rest_max_body_bytes),
        max_depth=settings.max_json_depth,
        max_page_size=settings.max_page_size,
    )
    if query.target.name is not None:
        return await _list_name_nfts(request, query.target.name, query.window)
    assert query.target.address is not None
    service: NFTService = request.app.state.nft_service
    result = await service.list_holdings(query.target.address, query.window)
    return nfts_response(result, request.app.state.rest_pages)


@dataclass(frozen=True, slots=True)
class NftsQuery:
    """A checked ``POST /users/{user_id}/nfts`` body: whose NFTs, and which page of them."""

    target: WalletInput
    window: ListWindow


# A body this long is checked each time; a page request is about 80 bytes.
MAX_KEPT_BODY_BYTES = 1024


def nfts_query(body: bytes, *, max_depth: int, max_page_size: int) -> NftsQuery:
    """``body`` checked (400 for malformed JSON, 422 naming the field at fault). The
    outcome is a function of the bytes and the two limits, so a body that passed is kept
    by its bytes (bounded, least recently used out): a frontend asks for its page with the
    same bytes each time, and they are parsed and checked once, as the GraphQL face's
    checked bodies are."""
    if len(body) > MAX_KEPT_BODY_BYTES:
        return _check_nfts_body(body, max_depth, max_page_size)
    return _checked_nfts_body(body, max_depth, max_page_size)


def _check_nfts_body(body: bytes, max_depth: int, max_page_size: int) -> NftsQuery:
    data = decode_json_object(body, max_depth=max_depth)
    target = _wallet_input(data)
    page = parse_positive_int(_required(data, "page"), field="page", maximum=MAX_PAGE)
    size = parse_positive_int(_required(data, "size"), field="size", maximum=max_page_size)
    max_age = parse_max_age(data.get("max_age"), field="max_age")
    return NftsQuery(target, ListWindow((page - 1) * size, size, max_age=max_age))


# Errors are raised, not kept: a body that failed is checked again (and fails again).
_checked_nfts_body = lru_cache(maxsize=256)(_check_nfts_body)


class RenderedPages:
    """This face's bytes and header pairs of the pages the service keeps, by slice key,
    least recently used out: a kept page is serialised (and redacted) once, and its
    headers encoded once, not once per request."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[SliceKey, tuple[RedactedBytes, HeaderPairs]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def render(self, result: HoldingsSlice) -> tuple[bytes, HeaderPairs]:
        key = result.key
        if key is None:  # a page the service does not keep: nobody asks for it again
            body = redact_bytes(encode_json(nfts_json(result)))
            return body, header_pairs(slice_headers(result), media_type=JSON_MEDIA_TYPE)
        rendered = self._entries.get(key)
        if rendered is not None:
            self._entries.move_to_end(key)
            return rendered[0].get(), rendered[1]
        # A right-sized copy: orjson's buffer keeps its slack, and this one is kept.
        kept = RedactedBytes(bytes(memoryview(encode_json(nfts_json(result)))))
        headers = header_pairs(slice_headers(result), media_type=JSON_MEDIA_TYPE)
        self._entries[key] = (kept, headers)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return kept.get(), headers


def nfts_response(result: HoldingsSlice, pages: RenderedPages) -> Response:
    """The answer for a wallet's page, serialised once per kept page (see module docstring);
    redacted, also against secrets registered after the page was kept."""
    body, headers = pages.render(result)
    return PreparedResponse(body, headers)


async def _list_name_nfts(request: Request, name: str, window: ListWindow) -> Response:
    """A name's NFTs: the union over every address it points to (GraphQL ``identity``)."""
    identity: IdentityService = request.app.state.identity_service
    with metering() as meter:
        with input_field("wallet_address"):
            addresses = await identity.resolve(name)
        result = await identity.list_holdings(addresses, window)
    content = {
        "total": result.total,
        "assets": [linked_holding_json(holding) for holding in result.holdings],
        "providers": [provider_json(report) for report in result.providers],
        "name": name_json(name, addresses),
        "fetched_at": iso_time(result.fetched_at),
    }
    return json_response(content, headers=_cost_headers(result.providers, meter))


async def list_user_dids(request: Request) -> Response:
    """``POST /users/{user_id}/dids`` with ``{"wallet_address"}`` (an address or a name)."""
    settings: Settings = request.app.state.settings
    identity: IdentityService = request.app.state.identity_service
    parse_user_id(request.path_params["user_id"])
    body = await read_json_object(
        request, max_bytes=settings.rest_max_body_bytes, max_depth=settings.max_json_depth
    )
    target = _wallet_input(body)
    content: dict[str, Any] = {}
    with metering() as meter:
        if target.name is not None:
            with input_field("wallet_address"):
                addresses = await identity.resolve(target.name)
            answer = await identity.dids_of(addresses)
            content["name"] = name_json(target.name, addresses)
        else:
            assert target.address is not None
            answer = await identity.dids(target.address)
    content = {**dids_json(answer), **content}
    return json_response(content, headers=_cost_headers(answer.providers, meter))


def _cost_headers(reports: Sequence[ProviderOutcome], meter: CallMeter) -> dict[str, str]:
    """``X-NFTGW-Providers`` and what the answer cost upstream (``X-NFTGW-Upstream-Calls``)."""
    return {
        PROVIDERS_HEADER: providers_header(reports),
        UPSTREAM_CALLS_HEADER: upstream_calls_header(
            meter.counts, [report.provider for report in reports]
        ),
    }


def dids_json(answer: DIDAnswer) -> dict[str, Any]:
    return {
        "total": len(answer.dids),
        "dids": [did_json(did) for did in answer.dids],
        "providers": [provider_json(report) for report in answer.providers],
    }


def did_json(did: DID) -> dict[str, Any]:
    """A DID as documented in the README ("DIDs"); EVM addresses checksummed."""
    return {
        "type": did.type.value,
        "identity": did.identity,
        "display_name": did.display_name,
        "is_primary": did.is_primary,
        "valid": did.valid,
        "expires_at": did.expires_at,
        "links": [
            {
                "platform": link.platform,
                "identity": _display_identity(link.platform, link.identity),
                "valid": link.valid,
                "checked_at": link.checked_at,
            }
            for link in did.links
        ],
        "source": did.source,
    }


def linked_holding_json(linked: LinkedHolding) -> dict[str, Any]:
    """An asset of a name's union: the usual asset, the summed quantity, and its wallets."""
    quantity, known = linked.counted_quantity()
    return {
        **holding_json(linked.holding),
        "quantity": quantity,
        "quantity_known": known,
        "wallets": [checksum(address) for address in linked.wallets],
    }


def name_json(name: str, addresses: Sequence[str]) -> dict[str, Any]:
    return {"name": name, "addresses": [checksum(address) for address in addresses]}


def nfts_json(result: HoldingsSlice) -> dict[str, Any]:
    return {
        "total": result.total,
        "assets": [holding_json(holding) for holding in result.holdings],
        "providers": [provider_json(report) for report in result.providers],
        # Every provider failed and this is an older snapshot (stale-if-error).
        "stale": result.stale,
        "stale_age_seconds": result.stale_age_seconds,
        "fetched_at": iso_time(result.fetched_at),
    }


def iso_time(unix_seconds: float | None) -> str | None:
    """ISO 8601 in UTC to the millisecond (``2026-12-06T07:00:00.123Z``), or ``None``."""
    if unix_seconds is None:
        return None
    moment = datetime.fromtimestamp(round(unix_seconds, 3), UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def floor_json(floor: FloorPrice | None) -> dict[str, Any] | None:
    """A floor price with its source and when it was read, or ``None``."""
    if floor is None:
        return None
    return {
        "value": floor.value,
        "currency": floor.currency,
        "source": floor.source,
        "fetched_at": iso_time(floor.fetched_at),
    }


def slice_headers(result: HoldingsSlice) -> dict[str, str]:
    """``X-NFTGW-Providers``, plus ``X-NFTGW-Stale`` and ``Age`` on a stale answer."""
    headers = {
        PROVIDERS_HEADER: providers_header(result.providers),
        UPSTREAM_CALLS_HEADER: upstream_calls_header(
            result.upstream_calls, [report.provider for report in result.providers]
        ),
    }
    if result.stale:
        age = str(result.stale_age_seconds or 0)
        headers.update({STALE_HEADER: f"age={age}", "Age": age})
    return headers


def upstream_calls_header(counts: Mapping[str, int], providers: Sequence[str]) -> str:
    """``opensea=2, alchemy=1`` (``providers`` first, in order, then any other); ``0``
    when the answer made no upstream call."""
    order = list(dict.fromkeys([*providers, *sorted(counts)]))
    parts = [f"{name}={counts[name]}" for name in order if counts.get(name)]
    return ", ".join(parts) if parts else "0"


def holding_json(holding: Holding) -> dict[str, Any]:
    nft = holding.nft
    quantity, known = holding.counted_quantity()
    rarity = nft.rarity
    return {
        "nft": {
            "blockchain": nft.chain.short_name,
            "collection_name": nft.collection_name,
            "collection_slug": nft.collection_slug,
            "collection_opensea_slug": nft.collection_opensea_slug,
            "contract_address": checksum(nft.contract_address),
            "token_id": nft.token_id,
            "name": nft.name,
            "description": nft.description,
            "image": nft.image,
            "animation_url": nft.animation_url,
            "owner_addresses": None
            if nft.owner_addresses is None
            else [checksum(owner) for owner in nft.owner_addresses],
            "traits": [{"type": t.type, "value": t.value} for t in nft.traits or ()],
            "rarity": None
            if rarity is None
            else {"score": rarity.score, "rank": rarity.rank, "total": rarity.total},
            # Additive: NSFW is a fact shown to clients, never a reason to hide as spam.
            "is_nsfw": holding.is_nsfw,
        },
        "quantity": quantity,
        "quantity_known": known,
        "floor": floor_json(nft.floor),
    }


def provider_json(report: ProviderOutcome) -> dict[str, Any]:
    error = None
    if report.error_kind:
        error = {"kind": report.error_kind, "message": report.error_message}
    return {
        "provider": report.provider,
        "status": report.status,
        "error": error,
        "failed_chains": list(report.failed_chains),
    }


def providers_header(reports: Sequence[ProviderOutcome]) -> str:
    """``opensea=ok, alchemy=failed:timeout``."""
    parts = []
    for report in reports:
        status = report.status + (f":{report.error_kind}" if report.error_kind else "")
        parts.append(f"{report.provider}={status}")
    return ", ".join(parts)


def json_response(
    content: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON via orjson; integers beyond 64 bits (ERC-1155 balances) stay exact."""
    return Response(
        redact_bytes(encode_json(content)),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def error_response(error: GatewayError) -> Response:
    """The error's JSON; a 503 also says what each provider did, in the body's ``providers``
    and the ``X-NFTGW-Providers`` header, exactly as a partial answer does."""
    headers = {}
    content: dict[str, Any] = error.to_json()
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if isinstance(error, UpstreamUnavailable) and error.providers:
        content["providers"] = [provider_json(report) for report in error.providers]
        headers[PROVIDERS_HEADER] = providers_header(error.providers)
    return json_response(content, status=error.status, headers=headers)


def _wallet_input(body: Mapping[str, Any]) -> WalletInput:
    """``wallet_address``, parsed once: a lower-case address or a canonical name."""
    with input_field("wallet_address"):
        return parse_wallet_input(_required(body, "wallet_address"))


def _required(body: Mapping[str, Any], field: str) -> Any:
    if body.get(field) is None:
        raise MissingField(f"{field} is required", field=field)
    return body[field]


def _display_identity(platform: str, identity: str) -> str:
    address = lower_address(identity) if platform == "ethereum" else None
    return checksum(address) if address else identity
