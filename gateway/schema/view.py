"""The GraphQL HTTP endpoint: Strawberry's ASGI view behind our request guards.

Everything a hostile client can send is checked here, before Strawberry parses for itself
and long before any resolver runs (and before ``schema.execute``, so a faster execution
step behind a ``Schema`` subclass inherits every limit):

1. verbs: ``GET`` and ``POST`` only (405 with ``Allow``); ``GET`` never runs a mutation;
2. ``POST`` bodies: ``application/json`` only (415: no CSRF-style simple requests), at most
   ``NFTGW_GRAPHQL_MAX_BODY_BYTES`` (413), valid and shallow JSON (400), one operation
   (batching is off), variables size-capped;
3. the document: byte, token and nesting caps before parsing, then depth, aliases, field
   selections, root fields and directives counted through fragments before validation
   (:mod:`gateway.schema.limits`), and introspection when the profile turns it off.

Responses follow the GraphQL-over-HTTP spec: ``application/graphql-response+json`` when
the client accepts it, where a request error (nothing executed) is a 400; plain
``application/json`` otherwise, where a well-formed request always gets 200. Errors carry
``extensions.code``; anything unexpected is logged and masked as ``INTERNAL``, and
validation messages lose their "Did you mean ...?" hints (they leak the schema).
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult

from gateway.errors import BadRequest, GatewayError
from gateway.redaction import redact_bytes
from gateway.schema.context import Context
from gateway.schema.limits import (
    GraphQLLimits,
    QueryRejected,
    checked_document,
    is_query,
    selected_operation,
)
from gateway.security import decode_json_body, media_type, read_body
from gateway.web import graphiql_response

__all__ = ["GRAPHQL_RESPONSE_TYPE", "GraphQLView", "error_json"]

logger = logging.getLogger(__name__)

GRAPHQL_RESPONSE_TYPE = "application/graphql-response+json"
JSON_TYPE = "application/json"
ALLOWED_METHODS = "GET, POST"
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
_REQUEST_KEYS = frozenset({"query", "variables", "operationName", "extensions"})

# The request already read and checked by ``__call__``, handed to Strawberry's pipeline.
_checked_request: ContextVar[GraphQLRequestData | None] = ContextVar(
    "nftgw_graphql_request", default=None
)
_response_type: ContextVar[str] = ContextVar("nftgw_graphql_response_type", default=JSON_TYPE)


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        limits: GraphQLLimits | None = None,
        max_body_bytes: int = 64 * 1024,
        graphiql: bool = True,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
            subscription_protocols=(),
        )
        self.limits = limits or GraphQLLimits()
        self.max_body_bytes = max_body_bytes

    # -- the guard in front of Strawberry -------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no subscriptions: refuse WebSocket handshakes
            await WebSocket(scope, receive, send).close(code=1008)
            return
        request = Request(scope, receive)
        response_type = _negotiate(request.headers.get("accept"))
        type_token = _response_type.set(response_type)
        try:
            response = await self._respond(request)
        except QueryRejected as exc:
            response = _error_response(
                exc.message, exc.extensions(), status=exc.status, response_type=response_type
            )
        except GatewayError as exc:
            response = _error_response(
                exc.message, {"code": exc.code}, status=exc.status, response_type=response_type
            )
        except HTTPException as exc:  # raised inside Strawberry's own pipeline
            response = _error_response(
                exc.reason,
                {"code": _http_code(exc.status_code)},
                status=exc.status_code,
                response_type=response_type,
            )
        finally:
            _response_type.reset(type_token)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        method = request.method
        if method not in ("GET", "POST"):
            raise QueryRejected("METHOD_NOT_ALLOWED", "use GET or POST", status=405)
        if method == "GET" and "query" not in request.query_params:
            if self.graphql_ide and _wants_html(request):
                return await self.render_graphql_ide(request)
            raise BadRequest("no GraphQL query in the request")
        data = await (self._read_get(request) if method == "GET" else self._read_post(request))
        self._check(data, method)
        token = _checked_request.set(data)
        try:
            return await self.run(request)
        finally:
            _checked_request.reset(token)

    async def _read_post(self, request: Request) -> GraphQLRequestData:
        if media_type(request) != JSON_TYPE:
            raise QueryRejected(
                "UNSUPPORTED_MEDIA_TYPE",
                "send GraphQL POSTs as Content-Type: application/json",
                status=415,
            )
        body = await read_body(request, max_bytes=self.max_body_bytes)
        data = decode_json_body(body, max_depth=self.limits.max_json_depth)
        if isinstance(data, list):
            raise QueryRejected("BATCHING_NOT_SUPPORTED", "send one operation per request")
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return self._request_data(data)

    async def _read_get(self, request: Request) -> GraphQLRequestData:
        params = request.query_params
        data: dict[str, Any] = {"query": params.get("query")}
        if params.get("operationName"):
            data["operationName"] = params["operationName"]
        for name in ("variables", "extensions"):
            raw = params.get(name)
            if raw:
                if len(raw) > self.limits.max_variables_bytes:
                    raise _variables_too_large(self.limits)
                data[name] = decode_json_body(
                    raw, max_depth=self.limits.max_json_depth, what=f"`{name}`"
                )
        return self._request_data(data)

    def _request_data(self, data: dict[str, Any]) -> GraphQLRequestData:
        query = data.get("query")
        if not isinstance(query, str) or not query.strip():
            raise BadRequest("`query` must be a non-empty string")
        variables = data.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise BadRequest("`variables` must be an object")
        if variables and len(orjson.dumps(variables)) > self.limits.max_variables_bytes:
            raise _variables_too_large(self.limits)
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

    def _check(self, data: GraphQLRequestData, method: str) -> None:
        assert data.query is not None
        document = checked_document(data.query, self.limits)
        operation = selected_operation(document, data.operation_name)
        if method == "GET" and operation is not None and not is_query(operation):
            raise QueryRejected(
                "METHOD_NOT_ALLOWED", "only queries may be sent with GET; use POST", status=405
            )

    # -- Strawberry hooks -----------------------------------------------------------------

    async def parse_http_body(self, request: Any) -> GraphQLRequestData:
        checked = _checked_request.get()
        if checked is None:  # every request passes __call__ first
            raise HTTPException(400, "the request was not checked")
        return checked

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.app.state
        return Context(
            settings=state.settings,
            nft_service=state.nft_service,
            identity_service=state.identity_service,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        # GraphiQL from the gateway's own vendored assets: it loads with no internet.
        return graphiql_response(self.schema, request)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = {}
        errors = result.errors or []
        # A request error (parse or validation: no path, nothing executed) has no "data".
        if result.data is not None or not errors or any(e.path for e in errors):
            data["data"] = result.data
        if errors:
            data["errors"] = [error_json(error) for error in errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data

    def encode_json(self, data: object) -> bytes:
        return _dumps(data)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        response_type = _response_type.get()
        response.headers["content-type"] = f"{response_type}; charset=utf-8"
        if (
            response_type == GRAPHQL_RESPONSE_TYPE
            and isinstance(response_data, dict)
            and "data" not in response_data
        ):
            response.status_code = 400
        return response


def error_json(error: GraphQLError) -> dict[str, Any]:
    """A GraphQL error as the client sees it, always with ``extensions.code``."""
    original = error.original_error
    payload = error.formatted
    if isinstance(original, GatewayError):
        payload["message"] = original.message
        payload["extensions"] = {
            "code": original.code,
            **({"field": original.field} if original.field else {}),
        }
        return dict(payload)
    if original is None:
        payload["message"] = _SUGGESTION.sub("", error.message)
        payload["extensions"] = {"code": "GRAPHQL_VALIDATION_FAILED", **(error.extensions or {})}
        return dict(payload)
    logger.error("unexpected error in a resolver", exc_info=original)
    payload["message"] = "Internal server error"
    payload["extensions"] = {"code": "INTERNAL"}
    return dict(payload)


# -- helpers ------------------------------------------------------------------------------


def _negotiate(accept: str | None) -> str:
    """``application/graphql-response+json`` if the client names it, else JSON."""
    if accept is None:
        return JSON_TYPE
    for part in accept.split(","):
        media, _, params = part.partition(";")
        if media.strip().lower() == GRAPHQL_RESPONSE_TYPE and "q=0" not in params.replace(" ", ""):
            return GRAPHQL_RESPONSE_TYPE
    return JSON_TYPE


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "*/*" in accept


def _error_response(
    message: str, extensions: dict[str, Any], *, status: int, response_type: str
) -> Response:
    """A request error: no ``data``. Under plain JSON only HTTP-level failures are 4xx."""
    if response_type == JSON_TYPE and status == 400 and extensions["code"] not in _HTTP_400:
        status = 200
    headers = {"Allow": ALLOWED_METHODS} if status == 405 else None
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return Response(
        _dumps(body),
        status_code=status,
        headers=headers,
        media_type=f"{response_type}; charset=utf-8",
    )


# Codes for requests that are not well-formed GraphQL-over-HTTP requests: 400 whatever
# the response type (the spec lets application/json answer those with 4xx too).
_HTTP_400 = frozenset({"BAD_REQUEST", "BATCHING_NOT_SUPPORTED", "VARIABLES_TOO_LARGE"})


def _variables_too_large(limits: GraphQLLimits) -> QueryRejected:
    return QueryRejected(
        "VARIABLES_TOO_LARGE",
        f"variables may be at most {limits.max_variables_bytes} bytes",
        limit="variables_bytes",
        maximum=limits.max_variables_bytes,
    )


def _http_code(status: int) -> str:
    return {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        status, "HTTP_ERROR"
    )


def _dumps(data: object) -> bytes:
    """orjson, falling back for integers beyond 64 bits; secrets redacted (see
    :func:`gateway.redaction.redact_bytes`)."""
    try:
        body = orjson.dumps(data)
    except orjson.JSONEncodeError:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return redact_bytes(body)
