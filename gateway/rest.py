"""The REST shim: ``POST /users/<user_id>/nfts`` exactly as ``shared/API.md`` documents it.

Handlers are thin: validate, call the service, render. The shim never goes through GraphQL.
Absent optional NFT fields are rendered as ``null`` (never omitted); ``traits`` is ``[]``
when the NFT has none. Two additions strict clients can ignore: ``providers`` (what each
provider contributed and why one failed) and ``quantity_known`` on each asset; the
``X-NFTGW-Providers`` header carries the provider status too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import BadRequest, GatewayError, InvalidInput
from gateway.merging import Holding
from gateway.service import HoldingsSlice, NFTService, ProviderReport
from gateway.settings import Settings
from gateway.validation import checksum, parse_address, parse_positive_int, parse_user_id

__all__ = [
    "JSONBodyTooLarge",
    "PROVIDERS_HEADER",
    "UnsupportedMediaType",
    "error_response",
    "holding_json",
    "json_response",
    "list_user_nfts",
    "read_json_object",
]

PROVIDERS_HEADER = "X-NFTGW-Providers"
MAX_PAGE = 1_000_000


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class JSONBodyTooLarge(GatewayError):
    status = 413
    code = "BODY_TOO_LARGE"


class MissingField(InvalidInput):
    code = "MISSING_FIELD"


async def list_user_nfts(request: Request) -> Response:
    """``POST /users/{user_id}/nfts`` with ``{"wallet_address", "page", "size"}``."""
    settings: Settings = request.app.state.settings
    service: NFTService = request.app.state.nft_service
    parse_user_id(request.path_params["user_id"])
    body = await read_json_object(request, max_bytes=16 * 1024)
    address = parse_address(_required(body, "wallet_address"))
    page = parse_positive_int(_required(body, "page"), field="page", maximum=MAX_PAGE)
    size = parse_positive_int(_required(body, "size"), field="size", maximum=settings.max_page_size)
    result = await service.list_holdings(address, offset=(page - 1) * size, limit=size)
    return json_response(
        nfts_json(result), headers={PROVIDERS_HEADER: providers_header(result.providers)}
    )


def nfts_json(result: HoldingsSlice) -> dict[str, Any]:
    return {
        "total": result.total,
        "assets": [holding_json(holding) for holding in result.holdings],
        "providers": [provider_json(report) for report in result.providers],
    }


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
            "contract_address": _checksum(nft.contract_address),
            "token_id": nft.token_id,
            "name": nft.name,
            "description": nft.description,
            "image": nft.image,
            "animation_url": nft.animation_url,
            "owner_addresses": None
            if nft.owner_addresses is None
            else [_checksum(owner) for owner in nft.owner_addresses],
            "traits": [{"type": t.type, "value": t.value} for t in nft.traits or ()],
            "rarity": None
            if rarity is None
            else {"score": rarity.score, "rank": rarity.rank, "total": rarity.total},
        },
        "quantity": quantity,
        "quantity_known": known,
    }


def provider_json(report: ProviderReport) -> dict[str, Any]:
    error = None
    if report.error_kind:
        error = {"kind": report.error_kind, "message": report.error_message}
    return {
        "provider": report.provider,
        "status": report.status,
        "error": error,
        "failed_chains": list(report.failed_chains),
    }


def providers_header(reports: Sequence[ProviderReport]) -> str:
    """``opensea=ok, alchemy=failed:timeout``."""
    parts = []
    for report in reports:
        status = report.status + (f":{report.error_kind}" if report.error_kind else "")
        parts.append(f"{report.provider}={status}")
    return ", ".join(parts)


async def read_json_object(request: Request, *, max_bytes: int) -> Mapping[str, Any]:
    """The request body as a JSON object, with 415, 413 and 400 errors for everything else."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("send the body as Content-Type: application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise JSONBodyTooLarge(f"the body may be at most {max_bytes} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise JSONBodyTooLarge(f"the body may be at most {max_bytes} bytes")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def json_response(
    content: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON via orjson; integers beyond 64 bits (ERC-1155 balances) stay exact."""
    try:
        body = orjson.dumps(content)
    except orjson.JSONEncodeError:
        body = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(error: GatewayError) -> Response:
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return json_response(error.to_json(), status=error.status, headers=headers)


def _required(body: Mapping[str, Any], field: str) -> Any:
    if body.get(field) is None:
        raise MissingField(f"{field} is required", field=field)
    return body[field]


@lru_cache(maxsize=65_536)
def _checksum(address: str) -> str:
    return checksum(address)
