"""The OpenAPI 3.1 document of the REST shim, served at ``GET /openapi.json``.

Written by hand from ``shared/API.md`` and the handlers in :mod:`gateway.rest`, because the
contract is what clients and the fuzzers (``tests/gateway/test_fuzz.py`` in process,
``tests/gateway/test_openapi_contract.py``: schemathesis over loopback) hold the code to:

* every status a route can answer is listed with its body schema, each error status with
  the codes it carries, and a response that is not listed, or breaks its schema, is a bug;
* a request body describes exactly what the handlers accept (``wallet_address`` an EVM
  address or a .bit name, each by its pattern; ``page`` and ``size`` in their bounds, as
  integers or as the digit strings form-minded clients send), so a request the document
  calls valid is answered (``200``, or ``404 NAME_NOT_FOUND`` for a well-formed name that
  no one holds), never refused as invalid.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1), so a plain JSON Schema validator checks
responses.

A new REST route adds one entry to :data:`ROUTES` (path → operation builder); the
``/users/{user_id}/dids`` entry shows the pattern. Over 400 lines on purpose: the document
is data, and one file keeps every schema next to the route that answers with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.rest import MAX_PAGE, json_response
from gateway.settings import Settings
from gateway.validation import MAX_AGE_LIMIT, MAX_DIGITS
from providers.dotbit.mapping import MAX_NAME_LENGTH

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
                "field": {"type": "string", "description": "The request field at fault"},
            },
        }
    },
}

# The codes each error status carries (gateway/errors.py, gateway/http/, the app's 404/405).
ERROR_CODES: dict[str, tuple[str, ...]] = {
    "400": ("BAD_REQUEST",),
    "401": ("UNAUTHORIZED",),
    "404": ("NAME_NOT_FOUND", "NOT_FOUND"),
    "405": ("METHOD_NOT_ALLOWED",),
    "413": ("BODY_TOO_LARGE",),
    "415": ("UNSUPPORTED_MEDIA_TYPE",),
    "422": (
        "INVALID_ADDRESS",
        "INVALID_MAX_AGE",
        "INVALID_NAME",
        "INVALID_PAGINATION",
        "INVALID_USER_ID",
        "MISSING_FIELD",
    ),
    "429": ("RATE_LIMITED",),
    "503": ("UPSTREAM_UNAVAILABLE",),
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
        "is_nsfw": {
            "type": "boolean",
            "description": "Not safe for work (OpenSea is_nsfw). A fact, not spam: listed.",
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
        "floor": {
            "type": ["object", "null"],
            "description": "The collection's floor price, its source and when it was read",
            "required": ["value", "currency", "source", "fetched_at"],
            "properties": {
                "value": {"type": "number", "minimum": 0},
                "currency": {"type": "string"},
                "source": {"type": "string"},
                "fetched_at": {"type": "string", "format": "date-time"},
            },
        },
    },
}

NAME: Schema = {
    "type": "object",
    "description": "Present when wallet_address was a name: the name and its addresses",
    "required": ["name", "addresses"],
    "properties": {
        "name": {"type": "string"},
        "addresses": {"type": "array", "items": {"type": "string"}},
    },
}

NFTS_RESPONSE: Schema = {
    "type": "object",
    "required": ["total", "assets", "providers"],
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "assets": {"type": "array", "items": ASSET},
        "providers": {"type": "array", "items": PROVIDER},
        "stale": {"type": "boolean", "description": "Every provider failed: an older snapshot"},
        "stale_age_seconds": {"type": ["integer", "null"]},
        "fetched_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "When the providers were read for this list (max_age asks for newer)",
        },
        "name": NAME,
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
        "name": NAME,
    },
}

# All lower-case or all upper-case hex; a mixed-case address is accepted too when it is a
# valid EIP-55 checksum, which no pattern can say (the description does).
EVM_ADDRESS_PATTERN = "^0x([0-9a-f]{40}|[0-9A-F]{40})$"
# Labels of letters, digits and inner hyphens, ending in .bit. The gateway also takes other
# .bit character sets in a label (see the description); ASCII is what the pattern says.
_LABEL = "([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
BIT_NAME_PATTERN = f"^{_LABEL}(\\.{_LABEL})*\\.[Bb][Ii][Tt]$"

WALLET_ADDRESS: Schema = {
    "description": "An EVM address (0x and 40 hex digits: all lower case, all upper case, or "
    "mixed case with a valid EIP-55 checksum), or a .bit name such as alice.bit (at most "
    f"{MAX_NAME_LENGTH} characters; labels of letters, digits and inner hyphens; emoji and "
    "the letters of the .bit character sets too, one script per label, lookalikes refused; "
    "sub-accounts allowed). A name stands for every "
    "address it points to. Anything else is a 422 (INVALID_ADDRESS or INVALID_NAME).",
    "anyOf": [
        {"type": "string", "pattern": EVM_ADDRESS_PATTERN},
        {"type": "string", "pattern": BIT_NAME_PATTERN, "maxLength": MAX_NAME_LENGTH},
    ],
}


def decimal_up_to(maximum: int) -> str:
    """A pattern for the decimal strings of ``1..maximum`` (leading zeros allowed)."""
    digits = str(maximum)
    alternatives = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for position, digit in enumerate(digits):
        lowest = 1 if position == 0 else 0
        if int(digit) - 1 >= lowest:
            rest = len(digits) - position - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            alternatives.append(f"{digits[:position]}[{lowest}-{int(digit) - 1}]{tail}")
    alternatives.append(digits)
    return f"^0*({'|'.join(alternatives)})$"


def _bounded_int(maximum: int, description: str) -> Schema:
    """An integer in ``1..maximum``, or the same number as a string of at most 9 digits."""
    return {
        "description": description,
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": maximum},
            {"type": "string", "pattern": decimal_up_to(maximum), "maxLength": MAX_DIGITS},
        ],
    }


def _error(
    status: str,
    description: str,
    *,
    retry_after: bool = False,
    allow: bool = False,
    providers: bool = False,
) -> Schema:
    codes = ERROR_CODES[status]
    specific: Schema = {"properties": {"error": {"properties": {"code": {"enum": list(codes)}}}}}
    if providers:  # what each provider did, as on a partial answer
        specific["properties"]["providers"] = {"type": "array", "items": PROVIDER}
    schema: Schema = {"allOf": [{"$ref": "#/components/schemas/Error"}, specific]}
    response: Schema = {
        "description": f"{description} ({', '.join(codes)})",
        "content": {"application/json": {"schema": schema}},
    }
    headers: Schema = {}
    if retry_after:
        headers["Retry-After"] = {"schema": {"type": "string"}, "description": "seconds"}
    if allow:
        headers["Allow"] = {"schema": {"type": "string"}}
    if providers:
        headers["X-NFTGW-Providers"] = {
            "schema": {"type": "string"},
            "description": "opensea=failed:timeout, alchemy=failed:unavailable",
        }
    if headers:
        response["headers"] = headers
    return response


def _common_errors() -> dict[str, Schema]:
    return {
        "400": _error("400", "Malformed JSON, a body that is not an object, or nested too deeply"),
        "401": _error("401", "A valid X-API-Key is required (when client keys are configured)"),
        "404": _error("404", "The name is unknown or expired, or the path is not a route"),
        "405": _error("405", "Wrong verb", allow=True),
        "413": _error("413", "The body is larger than NFTGW_REST_MAX_BODY_BYTES"),
        "415": _error("415", "The body is not application/json"),
        "422": _error("422", "A field breaks the rules its schema states; field names it"),
        "429": _error("429", "Rate limited", retry_after=True),
        "503": _error(
            "503",
            "Every provider failed and nothing is cached; providers says how each failed",
            retry_after=True,
            providers=True,
        ),
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
            "page": _bounded_int(MAX_PAGE, "1-based page number"),
            "size": _bounded_int(settings.max_page_size, "page size"),
            "max_age": {
                "description": "Seconds: a cached walk older than this is read again "
                "(0: always); null or absent: the cached walk serves",
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": MAX_AGE_LIMIT},
                    {
                        "type": "string",
                        "pattern": f"^0+$|{decimal_up_to(MAX_AGE_LIMIT)}",
                        "maxLength": MAX_DIGITS,
                    },
                    {"type": "null"},
                ],
            },
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
