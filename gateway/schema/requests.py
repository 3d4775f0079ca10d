"""Reading a GraphQL-over-HTTP request: the checks before Strawberry sees anything.

0. CSRF: where the profile requires it (:func:`check_preflight`), a request must be one a
   browser would preflight: a non-simple ``Content-Type`` or a non-empty
   ``X-Apollo-Operation-Name`` / ``Apollo-Require-Preflight`` header (as Apollo Server's
   CSRF prevention); so a plain ``GET`` link or form cannot run a query;
1. ``POST`` bodies: ``application/json`` only (415: no CSRF-style simple requests), at most
   ``max_body_bytes`` (413), valid and shallow JSON (400), one operation (batching is off),
   variables size-capped; ``GET`` parameters the same, from the query string; ``query``
   may be left out when ``extensions.persistedQuery`` names the document
   (:mod:`gateway.schema.persisted`);
2. the document: byte, token and nesting caps before parsing, then depth, aliases, field
   selections, root fields and directives counted through fragments before validation
   (:mod:`gateway.schema.limits`), and introspection when the profile turns it off;
   ``GET`` never runs a mutation;
3. the response's media type, from ``Accept`` (:func:`negotiate`).

Each check raises :class:`~gateway.schema.limits.QueryRejected` or a
:class:`~gateway.errors.GatewayError`; the view turns either into a request error.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from graphql import DocumentNode, OperationDefinitionNode, OperationType
from starlette.requests import Request
from strawberry.http import GraphQLRequestData

from gateway.errors import BadRequest
from gateway.http.security import decode_json_body, encode_json, media_type, read_body
from gateway.schema.limits import GraphQLLimits, QueryRejected, checked_document

__all__ = [
    "GRAPHQL_RESPONSE_TYPE",
    "JSON_TYPE",
    "check_preflight",
    "checked_document_of",
    "has_operation",
    "negotiate",
    "parse_post_body",
    "read_get",
    "read_post_body",
    "selected_operation",
]

GRAPHQL_RESPONSE_TYPE = "application/graphql-response+json"
JSON_TYPE = "application/json"
# What an HTML form can send without a CORS preflight (plus no Content-Type at all).
_SIMPLE_TYPES = frozenset(
    {"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
_PREFLIGHT_HEADERS = ("x-apollo-operation-name", "apollo-require-preflight")


def check_preflight(request: Request, limits: GraphQLLimits) -> None:
    """Refuse a request a browser would send cross-site without asking first, when the
    limits require a preflight (``CSRF_PREFLIGHT_REQUIRED``, 400)."""
    if not limits.preflight_required:
        return
    if media_type(request) not in _SIMPLE_TYPES:
        return
    if any(request.headers.get(name, "").strip() for name in _PREFLIGHT_HEADERS):
        return
    raise QueryRejected(
        "CSRF_PREFLIGHT_REQUIRED",
        "this request could be a cross-site request forgery: send it with a Content-Type "
        "other than text/plain, application/x-www-form-urlencoded or multipart/form-data, "
        "or with a non-empty X-Apollo-Operation-Name or Apollo-Require-Preflight header",
    )


def has_operation(request: Request) -> bool:
    """Whether a ``GET`` asks for an operation (a query, or a persisted query's hash)
    rather than the GraphiQL page."""
    params = request.query_params
    return "query" in params or "extensions" in params


async def read_post_body(request: Request, *, max_body_bytes: int) -> bytes:
    """A POST's raw body: ``application/json`` only (415), at most ``max_body_bytes`` (413)."""
    if media_type(request) != JSON_TYPE:
        raise QueryRejected(
            "UNSUPPORTED_MEDIA_TYPE",
            "send GraphQL POSTs as Content-Type: application/json",
            status=415,
        )
    return await read_body(request, max_bytes=max_body_bytes)


def parse_post_body(body: bytes, limits: GraphQLLimits) -> GraphQLRequestData:
    """A POST body's request: valid, shallow JSON (400), one operation (no batching)."""
    data = decode_json_body(body, max_depth=limits.max_json_depth)
    if isinstance(data, list):
        raise QueryRejected("BATCHING_NOT_SUPPORTED", "send one operation per request")
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return _request_data(data, limits)


def read_get(request: Request, limits: GraphQLLimits) -> GraphQLRequestData:
    params = request.query_params
    data: dict[str, Any] = {}
    if "query" in params:
        data["query"] = params["query"]
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
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest("`extensions` must be an object")
    # A missing or non-string query is a malformed request (400 whatever the media
    # type), unless a persisted query's hash stands for it; an empty or blank string is a
    # well-formed request whose document fails to parse, answered like any other parse
    # failure (200 under application/json).
    persisted = query is None and extensions is not None and "persistedQuery" in extensions
    if not isinstance(query, str) and not persisted:
        raise BadRequest("`query` must be a string")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be an object")
    if variables and len(encode_json(variables)) > limits.graphql_max_variables_bytes:
        raise _variables_too_large(limits)
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("`operationName` must be a string")
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


def selected_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation a request runs, chosen as the GraphQL spec's ``GetOperation`` does.

    ``operationName`` naming no operation, or missing while the document holds several, is a
    request error (``OPERATION_RESOLUTION_FAILURE``). It is raised here because Strawberry
    runs the *first* operation of an ambiguous document instead of refusing it, and answers
    an unknown name with a bare HTTP 400 even to ``application/json`` clients. ``None`` only
    for a document without operations, which validation reports.
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        return None
    if operation_name is None:
        if len(operations) > 1:
            raise QueryRejected(
                "OPERATION_RESOLUTION_FAILURE",
                "the document has several operations: name one with `operationName`",
            )
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    raise QueryRejected(
        "OPERATION_RESOLUTION_FAILURE", f'the document has no operation named "{operation_name}"'
    )


def is_query(operation: OperationDefinitionNode) -> bool:
    return operation.operation == OperationType.QUERY


def _variables_too_large(limits: GraphQLLimits) -> QueryRejected:
    return QueryRejected(
        "VARIABLES_TOO_LARGE",
        f"variables may be at most {limits.graphql_max_variables_bytes} bytes",
        limit="variables_bytes",
        maximum=limits.graphql_max_variables_bytes,
    )


# -- content negotiation ------------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a pure function of the header; clients send a few
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
