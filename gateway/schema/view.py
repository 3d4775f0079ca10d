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

A request that passed those checks and was answered before may be answered again without
executing, when replaying the service calls it made gives the very same pages
(:mod:`gateway.schema.fastpath.replay`); every other request runs through Strawberry, with the
document this view parsed (:func:`gateway.schema.fastpath.compiled.prepared_document`).

Responses follow the GraphQL-over-HTTP spec (graphql-http's audit suite checks it:
``tests/gateway/test_graphql_over_http.py``): ``application/graphql-response+json`` when
``Accept`` ranks it highest, where a request error (nothing executed) is a 400; plain
``application/json`` otherwise, where a well-formed request always gets 200. Errors carry
``extensions.code``; anything unexpected is masked as ``INTERNAL`` (and logged by the
schema: :mod:`gateway.schema.errors`), and validation messages lose their "Did you
mean ...?" hints (they leak the schema).
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from typing import Any, cast

import orjson
from cross_web import HTTPException
from graphql import DocumentNode, GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult

from gateway.errors import BadRequest, GatewayError
from gateway.http.redaction import redact_bytes
from gateway.http.security import decode_json_body, media_type, read_body
from gateway.schema.context import Context
from gateway.schema.errors import is_input_error
from gateway.schema.fastpath.compiled import prepared_document
from gateway.schema.fastpath.recording import (
    IDENTITIES,
    NFTS,
    AnswerLog,
    recording_identities,
    recording_nfts,
)
from gateway.schema.fastpath.replay import AnswerCache, RequestKey, request_key
from gateway.schema.limits import (
    GraphQLLimits,
    QueryRejected,
    checked_document,
    is_query,
    selected_operation,
)
from gateway.web import graphiql_response

__all__ = ["GRAPHQL_RESPONSE_TYPE", "GraphQLView", "error_json"]

GRAPHQL_RESPONSE_TYPE = "application/graphql-response+json"
JSON_TYPE = "application/json"
ALLOWED_METHODS = "GET, POST"
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")

# The request already read and checked by ``__call__``, handed to Strawberry's pipeline.
_checked_request: ContextVar[GraphQLRequestData | None] = ContextVar(
    "nftgw_graphql_request", default=None
)
_response_type: ContextVar[str] = ContextVar("nftgw_graphql_response_type", default=JSON_TYPE)
# The request's provider reports, for ``extensions`` (see gateway/schema/answers.py).
_answers: ContextVar[AnswerLog | None] = ContextVar("nftgw_graphql_answers", default=None)
# What identifies the request's answer for the warm answers (gateway/schema/replay.py).
_request_key: ContextVar[RequestKey | None] = ContextVar("nftgw_graphql_key", default=None)


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        limits: GraphQLLimits | None = None,
        max_body_bytes: int = 64 * 1024,
        graphiql: bool = True,
        answers_per_page: int = 4,
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
        self.answers = AnswerCache(per_slice=answers_per_page)

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
        document = self._check(data, method)
        log = AnswerLog()
        key = request_key(data, method) if self.answers.enabled else None
        if key is not None:  # a warm answer, when replaying its service calls says so
            kept = await self.answers.replay(key, _services(request), log)
            if kept is not None:
                return self._kept_response(kept, log)
        token = _checked_request.set(data)
        answers_token = _answers.set(log)
        key_token = _request_key.set(key)
        try:
            assert data.query is not None
            with prepared_document(data.query, document):  # parsed once, by _check
                return await self.run(request)
        finally:
            _request_key.reset(key_token)
            _answers.reset(answers_token)
            _checked_request.reset(token)

    def _kept_response(self, data: Any, log: AnswerLog) -> Response:
        """What ``run`` answers an executed request (``process_result``, then
        ``create_response``: 200, no errors), for a kept ``data``."""
        body: dict[str, Any] = {"data": data}
        extensions = log.extensions()
        if extensions:
            body["extensions"] = extensions
        media = f"{_response_type.get()}; charset=utf-8"
        return Response(self.encode_json(body), status_code=200, media_type=media)

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
                if len(raw) > self.limits.graphql_max_variables_bytes:
                    raise _variables_too_large(self.limits)
                data[name] = decode_json_body(
                    raw, max_depth=self.limits.max_json_depth, what=f"`{name}`"
                )
        return self._request_data(data)

    def _request_data(self, data: dict[str, Any]) -> GraphQLRequestData:
        query = data.get("query")
        # A missing or non-string query is a malformed request (400 whatever the media
        # type); an empty or blank string is a well-formed request whose document fails to
        # parse, answered like any other parse failure (200 under application/json).
        if not isinstance(query, str):
            raise BadRequest("`query` must be a string")
        variables = data.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise BadRequest("`variables` must be an object")
        if variables and len(orjson.dumps(variables)) > self.limits.graphql_max_variables_bytes:
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

    def _check(self, data: GraphQLRequestData, method: str) -> DocumentNode:
        """The request's document, parsed and within the limits (else QueryRejected)."""
        assert data.query is not None
        document = checked_document(data.query, self.limits)
        operation = selected_operation(document, data.operation_name)
        if method == "GET" and operation is not None and not is_query(operation):
            raise QueryRejected(
                "METHOD_NOT_ALLOWED", "only queries may be sent with GET; use POST", status=405
            )
        return document

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
        nfts, identities = state.nft_service, state.identity_service
        answers = _answers.get()
        if answers is not None:  # the services as this request's resolvers see them
            nfts = recording_nfts(nfts, answers)
            identities = recording_identities(identities, answers)
        return Context(settings=state.settings, nft_service=nfts, identity_service=identities)

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
        answers = _answers.get()
        extensions = {**(result.extensions or {}), **(answers.extensions() if answers else {})}
        if extensions:  # how each provider did, when the answer lists NFTs or DIDs
            data["extensions"] = extensions
        key = _request_key.get()
        if key is not None and answers is not None:
            kept = self.answers.keep(key, answers, result)
            if kept is not None:  # the same JSON, already written
                data["data"] = cast(dict[str, object], kept)
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
    """A GraphQL error as the client sees it, always with ``extensions.code``.

    Client errors keep their message (without "Did you mean" hints): the gateway's own
    (``GatewayError``: its code), graphql-core's validation and parse errors (no original
    error) and its verdicts on input values (``BAD_USER_INPUT``, see
    :func:`gateway.schema.errors.is_input_error`). Anything else is a server fault, masked
    as ``INTERNAL`` (the schema's ``process_errors`` has logged it with its traceback).
    """
    original = error.original_error
    extensions: dict[str, Any]
    if isinstance(original, GatewayError):
        message = original.message
        extensions = {"code": original.code}
        if original.field:
            extensions["field"] = original.field
    elif original is None:
        message = _SUGGESTION.sub("", error.message)
        extensions = {"code": "GRAPHQL_VALIDATION_FAILED", **(error.extensions or {})}
    elif is_input_error(error, original):
        message = _SUGGESTION.sub("", error.message)
        extensions = {"code": "BAD_USER_INPUT"}
    else:
        message, extensions = "Internal server error", {"code": "INTERNAL"}
    return {**error.formatted, "message": message, "extensions": extensions}


# -- helpers ------------------------------------------------------------------------------


def _negotiate(accept: str | None) -> str:
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


def _services(request: Request) -> dict[str, Any]:
    """The services by the names a :class:`~gateway.schema.fastpath.recording.ServiceCall` uses."""
    state = request.app.state
    return {NFTS: state.nft_service, IDENTITIES: state.identity_service}


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
        f"variables may be at most {limits.graphql_max_variables_bytes} bytes",
        limit="variables_bytes",
        maximum=limits.graphql_max_variables_bytes,
    )


def _http_code(status: int) -> str:
    return {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        status, "HTTP_ERROR"
    )


def _dumps(data: object) -> bytes:
    """orjson, falling back for integers beyond 64 bits; secrets redacted (see
    :func:`gateway.http.redaction.redact_bytes`)."""
    try:
        body = orjson.dumps(data)
    except orjson.JSONEncodeError:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return redact_bytes(body)
