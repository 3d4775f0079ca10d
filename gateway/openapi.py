"""The OpenAPI 3.1 document of the REST shim, served at ``GET /openapi.json``.

Written by hand from ``shared/API.md`` and the handlers in :mod:`gateway.rest`, because the
contract is what clients and the fuzzer (``tests/gateway/test_fuzz.py``) hold the code to:
every status a route can answer is listed with its body schema, and a response that is not
listed, or breaks its schema, is a bug. Schemas are JSON Schema 2020-12 (OpenAPI 3.1), so
a plain JSON Schema validator checks responses.

A new REST route adds one entry to :data:`ROUTES` (path → operation builder); the
``/users/{user_id}/dids`` entry shows the pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.rest import json_response
from gateway.settings import Settings

__all__ = ["ROUTES", "openapi_document", "openapi_endpoint"]

Schema = dict[str, Any]

_NULLABLE_STRING: Schema = {"type": ["string", "null"]}

ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z_]+$"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}

PROVIDER: Schema = {
    "type": "object",
    "required": ["provider", "status", "error", "failed_chains"],
    "properties": {
        "provider": {"type": "string"},
        "status": {"enum": ["ok", "partial", "failed", "stale"]},
        "error": {
            "type": ["object", "null"],
            "required": ["kind", "message"],
            "properties": {"kind": {"type": "string"}, "message": _NULLABLE_STRING},
        },
        "failed_chains": {"type": "array", "items": {"type": "string"}},
    },
}

NFT: Schema = {
    "type": "object",
    "required": [
        "blockchain",
        "collection_name",
        "collection_slug",
        "collection_opensea_slug",
        "contract_address",
        "token_id",
        "name",
        "description",
        "image",
        "animation_url",
        "owner_addresses",
        "traits",
        "rarity",
    ],
    "properties": {
        "blockchain": {"enum": ["ETH", "POLYGON", "BASE", "ARBITRUM", "OPTIMISM"]},
        "collection_name": {"type": ["string", "null"], "maxLength": 256},
        "collection_slug": _NULLABLE_STRING,
        "collection_opensea_slug": _NULLABLE_STRING,
        "contract_address": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
        "token_id": {"type": "string", "pattern": "^[0-9]+$"},
        "name": {"type": ["string", "null"], "maxLength": 256},
        "description": {"type": ["string", "null"], "maxLength": 10_000},
        "image": {"type": ["string", "null"]},
        "animation_url": {"type": ["string", "null"]},
        "owner_addresses": {
            "type": ["array", "null"],
            "items": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
        },
        "traits": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["type", "value"],
                "properties": {"type": {"type": "string"}, "value": {"type": "string"}},
            },
        },
        "rarity": {
            "type": ["object", "null"],
            "required": ["score", "rank", "total"],
            "properties": {
                "score": {"type": ["number", "null"]},
                "rank": {"type": ["integer", "null"]},
                "total": {"type": ["integer", "null"]},
            },
        },
    },
}

ASSET: Schema = {
    "type": "object",
    "required": ["nft", "quantity", "quantity_known"],
    "properties": {
        "nft": NFT,
        "quantity": {"type": "integer", "minimum": 0},
        "quantity_known": {"type": "boolean"},
        "wallets": {"type": "array", "items": {"type": "string"}},
    },
}

NFTS_RESPONSE: Schema = {
    "type": "object",
    "required": ["total", "assets", "providers"],
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "assets": {"type": "array", "items": ASSET},
        "providers": {"type": "array", "items": PROVIDER},
    },
}

DIDS_RESPONSE: Schema = {
    "type": "object",
    "required": ["total", "dids", "providers"],
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "dids": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "identity", "links", "source"],
                "properties": {
                    "type": {"type": "string"},
                    "identity": {"type": "string"},
                    "display_name": _NULLABLE_STRING,
                    "links": {"type": "array", "items": {"type": "object"}},
                    "source": {"type": "string"},
                },
            },
        },
        "providers": {"type": "array", "items": PROVIDER},
    },
}

WALLET_ADDRESS: Schema = {
    "type": "string",
    "description": "A 0x EVM address (EIP-55 checked when mixed case), or a name such as "
    "alice.bit.",
    "maxLength": 256,
}


def _error(description: str, *, retry_after: bool = False, allow: bool = False) -> Schema:
    response: Schema = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    headers: Schema = {}
    if retry_after:
        headers["Retry-After"] = {"schema": {"type": "string"}, "description": "seconds"}
    if allow:
        headers["Allow"] = {"schema": {"type": "string"}}
    if headers:
        response["headers"] = headers
    return response


def _common_errors() -> dict[str, Schema]:
    return {
        "400": _error("Malformed JSON, a body that is not an object, or nested too deeply"),
        "401": _error("A valid X-API-Key is required (when client keys are configured)"),
        "404": _error("The name does not resolve (NAME_NOT_FOUND)"),
        "405": _error("Wrong verb", allow=True),
        "413": _error("The body is larger than NFTGW_REST_MAX_BODY_BYTES"),
        "415": _error("The body is not application/json"),
        "422": _error("Invalid input: INVALID_ADDRESS, INVALID_PAGINATION, MISSING_FIELD, ..."),
        "429": _error("Rate limited", retry_after=True),
        "503": _error("Every provider failed", retry_after=True),
    }


def _user_id_parameter() -> Schema:
    return {
        "name": "user_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:@-]{1,128}$"},
    }


def _post(summary: str, body: Schema, ok: Schema, operation_id: str) -> Schema:
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": [_user_id_parameter()],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body}},
            },
            "responses": {
                "200": {
                    "description": "The answer; X-NFTGW-Providers says what each provider gave",
                    "headers": {"X-NFTGW-Providers": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": ok}},
                },
                **_common_errors(),
            },
        }
    }


def _nfts_route(settings: Settings) -> Schema:
    body = {
        "type": "object",
        "required": ["wallet_address", "page", "size"],
        "properties": {
            "wallet_address": WALLET_ADDRESS,
            "page": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
            "size": {"type": "integer", "minimum": 1, "maximum": settings.max_page_size},
        },
    }
    return _post(
        "A wallet's NFTs (or a name's), merged across providers, one stable order",
        body,
        {"$ref": "#/components/schemas/NFTsResponse"},
        "listUserNfts",
    )


def _dids_route(settings: Settings) -> Schema:
    body = {
        "type": "object",
        "required": ["wallet_address"],
        "properties": {"wallet_address": WALLET_ADDRESS},
    }
    return _post(
        "The DIDs of a wallet (or of the addresses a name points to)",
        body,
        {"$ref": "#/components/schemas/DIDsResponse"},
        "listUserDids",
    )


# Path → operation builder. Add a REST route here and it is documented and fuzzed.
ROUTES: dict[str, Callable[[Settings], Schema]] = {
    "/users/{user_id}/nfts": _nfts_route,
    "/users/{user_id}/dids": _dids_route,
}


def openapi_document(settings: Settings) -> Schema:
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "nft-gateway REST shim",
            "version": "1",
            "description": "GraphQL lives at /graphql; this documents the REST routes.",
        },
        "paths": {path: build(settings) for path, build in ROUTES.items()},
        "components": {
            "schemas": {
                "Error": ERROR,
                "NFTsResponse": NFTS_RESPONSE,
                "DIDsResponse": DIDS_RESPONSE,
            },
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }


async def openapi_endpoint(request: Request) -> Response:
    document = openapi_document(request.app.state.settings)
    return json_response(document, headers={"Cache-Control": "public, max-age=300"})
