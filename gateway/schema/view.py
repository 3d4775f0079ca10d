"""The GraphQL HTTP endpoint: Strawberry's ASGI view behind our request guards.

Everything a hostile client can send is checked first (:mod:`gateway.schema.requests`:
verbs, CSRF preflight, media types, body and variable sizes, the document's limits, ``GET``
never running a mutation), and the document to run is settled (sent, persisted by hash or
trusted: :mod:`gateway.schema.persisted`), before Strawberry executes anything (and
before ``schema.execute``, so a faster execution step behind a ``Schema`` subclass inherits
every limit). Only ``GET`` and
``POST`` are served (405 with ``Allow``).

The view drives Strawberry itself rather than through ``run()`` and its hooks, so each step
gets its inputs as arguments: the checked request goes to ``execute_single``, the request's
:class:`~gateway.schema.context.Context` (its recording of the service calls and the
document already parsed) goes to the schema as the context value, and the response is
written from the result, the request's :class:`~gateway.schema.fastpath.recording.AnswerLog`
and the negotiated media type. Nothing travels on the side.

A request that passed the checks and was answered before may be answered again without
executing, when replaying the service calls it made gives the very same pages
(:mod:`gateway.schema.fastpath.replay`).

Responses follow the GraphQL-over-HTTP spec (graphql-http's audit suite checks it:
``tests/gateway/test_graphql_over_http.py``): ``application/graphql-response+json`` when
``Accept`` ranks it highest, where a request error (nothing executed) is a 400; plain
``application/json`` otherwise, where a well-formed request always gets 200. Errors carry
``extensions.code``; anything unexpected is masked as ``INTERNAL`` (and logged by the
schema: :mod:`gateway.schema.errors`), and validation messages lose their "Did you
mean ...?" hints (they leak the schema). One response carries at most
``NFTGW_GRAPHQL_MAX_ERRORS`` errors, then one saying how many more there were.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, cast

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSchema
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult

from gateway.errors import BadRequest, GatewayError
from gateway.http.ratelimit import client_bucket
from gateway.http.redaction import redact_bytes
from gateway.http.responses import PreparedResponse, header_pairs
from gateway.http.security import encode_json, request_header
from gateway.resilience import metering
from gateway.schema.calls import Services
from gateway.schema.context import Context
from gateway.schema.errors import is_input_error
from gateway.schema.fastpath.checked import CheckedBodies, CheckedRequest
from gateway.schema.fastpath.documents import ParsedDocument
from gateway.schema.fastpath.kept import DEFAULT_MAX_PAGES, KeptPages
from gateway.schema.fastpath.recording import AnswerLog, RecordingServices
from gateway.schema.fastpath.replay import AnswerCache, RequestKey, request_key
from gateway.schema.limits import GraphQLLimits, QueryRejected
from gateway.schema.persisted import PersistedDocuments
from gateway.schema.requests import (
    GRAPHQL_RESPONSE_TYPE,
    JSON_TYPE,
    check_preflight,
    checked_document_of,
    has_operation,
    negotiate,
    parse_post_body,
    read_get,
    read_post_body,
)
from gateway.web import graphiql_response

__all__ = ["GRAPHQL_RESPONSE_TYPE", "GraphQLView", "error_json"]

ALLOWED_METHODS = "GET, POST"
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class GraphQLView(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        *,
        limits: GraphQLLimits | None = None,
        max_body_bytes: int = 64 * 1024,
        graphiql: bool = True,
        answers_per_page: int = 4,
        kept_pages: int = DEFAULT_MAX_PAGES,
        documents: PersistedDocuments | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
            subscription_protocols=(),
        )
        # Directives the schema declares repeatable may repeat; any other is refused.
        core = getattr(schema, "_schema", None)  # graphql-core's schema behind Strawberry's
        directives = core.directives if isinstance(core, GraphQLSchema) else ()
        repeatable = frozenset(d.name for d in directives if d.is_repeatable)
        limits = limits or GraphQLLimits()
        self.limits = limits.model_copy(update={"repeatable_directives": repeatable})
        self.documents = documents or PersistedDocuments()
        self.max_body_bytes = max_body_bytes
        self.pages = KeptPages(kept_pages)  # what this face built from the service's kept pages
        self.answers = AnswerCache(per_slice=answers_per_page, pages=self.pages)
        self.bodies = CheckedBodies()  # POST bodies that passed the checks, by their bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no subscriptions: refuse WebSocket handshakes
            await WebSocket(scope, receive, send).close(code=1008)
            return
        request = Request(scope, receive)
        accept = request_header(scope, b"accept")
        response_type = negotiate(accept.decode("latin-1") if accept is not None else None)
        try:
            response = await self._respond(request, response_type)
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
        await response(scope, receive, send)

    async def _respond(self, request: Request, response_type: str) -> Response:
        method = request.method
        if method not in ("GET", "POST"):
            raise QueryRejected("METHOD_NOT_ALLOWED", "use GET or POST", status=405)
        if method == "GET" and not has_operation(request):
            if self.graphql_ide and _wants_html(request):
                return await self.render_graphql_ide(request)
            raise BadRequest("no GraphQL query in the request")
        check_preflight(request, self.limits)
        if method == "GET":
            checked = await self._checked(read_get(request, self.limits), method, request)
        else:
            body = await read_post_body(request, max_body_bytes=self.max_body_bytes)
            seen = self.bodies.get(body)  # these very bytes passed every check before
            if seen is None:
                sent = parse_post_body(body, self.limits)
                seen = await self._checked(sent, method, request)
                self.bodies.keep(body, sent, seen)
            checked = seen
        data, key = checked.data, checked.key
        state = request.app.state
        services = Services(
            state.nft_service,
            state.identity_service,
            getattr(state, "refresh_limiter", None),
        )
        log = AnswerLog()
        # Calls made without a meter of their own (DIDs, names, unions) count on the log's.
        with metering(log.meter):
            if key is not None:  # a warm answer, when replaying its service calls says so
                kept = await self.answers.replay(key, services, log)
                if kept is not None:
                    return _kept_response(kept, response_type)
            context = Context(
                settings=state.settings,
                services=RecordingServices(services, log),
                parsed=ParsedDocument(checked.query, checked.document),  # parsed once: the check's
                pages=self.pages,
                client=client_bucket(request.scope),
            )
            result = await self._execute(request, data, context)
        return self._response(self._answer(result, log, key), response_type)

    async def _checked(
        self, data: GraphQLRequestData, method: str, request: Request
    ) -> CheckedRequest:
        """The request to run: its document (a persisted query's too), checked against the
        limits, and the key its answer is kept by (None: never kept)."""
        cache = request.app.state.cache
        resolved = await self.documents.resolve(data.query, data.extensions, cache)
        if data.extensions or resolved.query is not data.query:
            # The hash has done its work: without it the request is the one its text makes
            # (and may be answered by the fast path like any other).
            extensions = {k: v for k, v in (data.extensions or {}).items() if k != "persistedQuery"}
            data = dataclasses.replace(data, query=resolved.query, extensions=extensions or None)
        document = checked_document_of(resolved.query, data.operation_name, method, self.limits)
        if resolved.register is not None:  # an APQ registration, within the limits
            await self.documents.register(resolved.register, resolved.query, cache)
        key = request_key(data, method) if self.answers.enabled else None
        return CheckedRequest(data, resolved.query, document, key)

    async def _execute(
        self, request: Request, data: GraphQLRequestData, context: Context
    ) -> ExecutionResult:
        """Strawberry's own execution step (it maps its operation errors to 400s)."""
        return await self.execute_single(
            request=request,
            request_adapter=self.request_adapter_class(request),
            sub_response=Response(),
            context=context,
            root_value=None,
            request_data=data,
        )

    def _answer(
        self, result: ExecutionResult, log: AnswerLog, key: RequestKey | None
    ) -> GraphQLHTTPResponse:
        """The response body of an executed request; a complete answer is kept."""
        body: GraphQLHTTPResponse = {}
        errors = result.errors or []
        # A request error (parse or validation: no path, nothing executed) has no "data".
        if result.data is not None or not errors or any(e.path for e in errors):
            body["data"] = result.data
        if errors:
            body["errors"] = _capped(
                [error_json(e) for e in errors], self.limits.graphql_max_errors
            )
        extensions = {**(result.extensions or {}), **log.extensions()}
        if extensions:  # how each provider did, when the answer lists NFTs or DIDs
            body["extensions"] = extensions
        if key is not None:
            kept = self.answers.keep(key, log, result)
            if kept is not None:  # the same JSON, already written
                body["data"] = cast(dict[str, object], kept)
        return body

    def _response(self, body: GraphQLHTTPResponse, response_type: str) -> Response:
        # Under application/graphql-response+json a request error (no "data") is a 400.
        status = 400 if response_type == GRAPHQL_RESPONSE_TYPE and "data" not in body else 200
        media = f"{response_type}; charset=utf-8"
        return Response(self.encode_json(body), status_code=status, media_type=media)

    async def render_graphql_ide(self, request: Request) -> Response:
        # GraphiQL from the gateway's own vendored assets: it loads with no internet.
        return graphiql_response(self.schema, request)

    def encode_json(self, data: object) -> bytes:
        return _dumps(data)


def _kept_response(body: bytes, response_type: str) -> Response:
    """A warm answer (see :meth:`AnswerCache.replay`): already written and redacted."""
    return PreparedResponse(body, _KEPT_HEADERS[response_type])


# By the response types negotiate answers (it answers no other).
_KEPT_HEADERS = {
    media: header_pairs({}, media_type=f"{media}; charset=utf-8")
    for media in (JSON_TYPE, GRAPHQL_RESPONSE_TYPE)
}


def _capped(errors: list[Any], maximum: int) -> list[Any]:
    """At most ``maximum`` errors, then one saying how many were left out."""
    if len(errors) <= maximum:
        return errors
    more = len(errors) - maximum
    notice = {"message": f"{more} more errors not shown", "extensions": {"code": "TOO_MANY_ERRORS"}}
    return [*errors[:maximum], notice]


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
_HTTP_400 = frozenset(
    {"BAD_REQUEST", "BATCHING_NOT_SUPPORTED", "VARIABLES_TOO_LARGE", "CSRF_PREFLIGHT_REQUIRED"}
)


def _http_code(status: int) -> str:
    return {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        status, "HTTP_ERROR"
    )


def _dumps(data: object) -> bytes:
    """The one JSON encoder, secrets redacted (see :func:`gateway.http.redaction.redact_bytes`)."""
    return redact_bytes(encode_json(data))
