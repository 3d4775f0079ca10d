"""Reading a GraphQL-over-HTTP request: the checks before Strawberry sees anything.

1. ``POST`` bodies: ``application/json`` only (415: no CSRF-style simple requests), at most
   ``max_body_bytes`` (413), valid and shallow JSON (400), one operation (batching is off),
   variables size-capped; ``GET`` parameters the same, from the query string;
2. the document: byte, token and nesting caps before parsing, then depth, aliases, field
   selections, root fields and directives counted through fragments before validation
   (:mod:`gateway.schema.limits`), and introspection when the profile turns it off;
   ``GET`` never runs a mutation;
3. the response's media type, from ``Accept`` (:func:`negotiate`).

Each check raises :class:`~gateway.schema.limits.QueryRejected` or a
:class:`~gateway.errors.GatewayError`; the view turns either into a request error.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import DocumentNode
from starlette.requests import Request
from strawberry.http import GraphQLRequestData

from gateway.errors import BadRequest
from gateway.http.security import decode_json_body, encode_json, media_type, read_body
from gateway.schema.limits import (
    GraphQLLimits,
    QueryRejected,
    checked_document,
    is_query,
    selected_operation,
)

__all__ = [
    "GRAPHQL_RESPONSE_TYPE",
    "JSON_TYPE",
    "checked_document_of",
    "negotiate",
    "read_get",
    "read_post",
]

GRAPHQL_RESPONSE_TYPE = "application/graphql-response+json"
JSON_TYPE = "application/json"


async def read_post(
    request: Request, limits: GraphQLLimits, *, max_body_bytes: int
) -> GraphQLRequestData:
    if media_type(request) != JSON_TYPE:
        raise QueryRejected(
            "UNSUPPORTED_MEDIA_TYPE",
            "send GraphQL POSTs as Content-Type: application/json",
            status=415,
        )
    body = await read_body(request, max_bytes=max_body_bytes)
    data = decode_json_body(body, max_depth=limits.max_json_depth)
    if isinstance(data, list):
        raise QueryRejected("BATCHING_NOT_SUPPORTED", "send one operation per request")
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return _request_data(data, limits)


def read_get(request: Request, limits: GraphQLLimits) -> GraphQLRequestData:
    params = request.query_params
    data: dict[str, Any] = {"query": params.get("query")}
    if params.get("operationName"):
        data["operationName"] = params["operationName"]
    for name in ("variables", "extensions"):
        raw = params.get(name)
        if raw:
            if len(raw) > limits.graphql_max_variables_bytes:
                raise _variables_too_large(limits)
            data[name] = decode_json_body(raw, max_depth=limits.max_json_depth, what=f"`{name}`")
    return _request_data(data, limits)


def _request_data(data: dict[str, Any], limits: GraphQLLimits) -> GraphQLRequestData:
    query = data.get("query")
    # A missing or non-string query is a malformed request (400 whatever the media
    # type); an empty or blank string is a well-formed request whose document fails to
    # parse, answered like any other parse failure (200 under application/json).
    if not isinstance(query, str):
        raise BadRequest("`query` must be a string")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be an object")
    if variables and len(encode_json(variables)) > limits.graphql_max_variables_bytes:
        raise _variables_too_large(limits)
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("`operationName` must be a string")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest("`extensions` must be an object")
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=operation_name,
        extensions=extensions,
        protocol="http",
    )


def checked_document_of(
    query: str, operation_name: str | None, method: str, limits: GraphQLLimits
) -> DocumentNode:
    """The request's document, parsed and within the limits (else QueryRejected)."""
    document = checked_document(query, limits)
    operation = selected_operation(document, operation_name)
    if method == "GET" and operation is not None and not is_query(operation):
        raise QueryRejected(
            "METHOD_NOT_ALLOWED", "only queries may be sent with GET; use POST", status=405
        )
    return document


def _variables_too_large(limits: GraphQLLimits) -> QueryRejected:
    return QueryRejected(
        "VARIABLES_TOO_LARGE",
        f"variables may be at most {limits.graphql_max_variables_bytes} bytes",
        limit="variables_bytes",
        maximum=limits.graphql_max_variables_bytes,
    )


# -- content negotiation ------------------------------------------------------------------


def negotiate(accept: str | None) -> str:
    """The response media type for an ``Accept`` header, by quality values.

    The spec says to answer in the highest-priority supported type the client lists.
    ``application/graphql-response+json`` counts only when named explicitly; wildcards
    (``*/*``, ``application/*``) mean ``application/json``, as they did before that type
    existed (graphql-http audit 47DE). On a tie the newer type wins: it is the one the
    spec recommends and it is named. No header, or nothing acceptable, gets JSON (the spec
    allows that instead of a 406).
    """
    if accept is None:
        return JSON_TYPE
    ranges = _accept_ranges(accept)
    graphql_q = ranges.get(GRAPHQL_RESPONSE_TYPE, 0.0)
    json_q = next(
        (ranges[media] for media in (JSON_TYPE, "application/*", "*/*") if media in ranges), 0.0
    )
    if graphql_q > 0 and graphql_q >= json_q:
        return GRAPHQL_RESPONSE_TYPE
    return JSON_TYPE


def _accept_ranges(accept: str) -> dict[str, float]:
    """``Accept`` as {media range: quality}; ranges asking for a charset other than UTF-8
    (the only one we write) or with a malformed ``q`` are left out."""
    ranges: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (piece.strip().lower() for piece in part.split(";"))
        quality = 1.0
        acceptable = bool(media)
        for param in params:
            name, _, value = param.partition("=")
            name, value = name.strip(), value.strip().strip('"')
            if name == "q":
                quality = _quality(value)
                acceptable = acceptable and quality >= 0
            elif name == "charset" and value not in ("utf-8", "utf8"):
                acceptable = False
        if acceptable:
            ranges[media] = max(quality, ranges.get(media, 0.0))
    return ranges


def _quality(value: str) -> float:
    """An RFC 9110 ``qvalue`` (0 to 1, at most three decimals); -1 when malformed."""
    if not re.fullmatch(r"0(\.\d{0,3})?|1(\.0{0,3})?", value):
        return -1.0
    return float(value)
