"""What every HTTP request gets, in one pass: a request id, security headers, a metrics
sample and an access log line.

:class:`EdgeMiddleware` is the outermost layer of the app (pure ASGI). For each request it

* takes the caller's ``X-Request-ID`` when it is a sane token, else makes one, keeps it in
  :data:`gateway.http.logs.request_id_var` so every log record of the request carries it,
  and returns it in the response header;
* adds the security headers (:func:`gateway.http.security.secure_headers`) to every
  response, errors included;
* records the request in the metrics under its *route template* (``/users/{user_id}/nfts``,
  the route Starlette's router matched), never the raw path, so label cardinality stays
  bounded; and
* writes one access line (logger ``gateway.access``, INFO).

These were three middlewares, each wrapping ``send`` and copying the response's header
list; a warm answer spent a third of its time in them (issue 14). One wrapper does it all
now. Under ``serve``'s own logging setup the access line is rendered straight into the
JSON batch; under any other it is a record (:class:`AccessRecord`) built directly rather
than through ``Logger.info``, which looks up its caller, thread and process and passes the
record factory's secret scan for a line made of values cleaned here.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.logs import direct_json_lines, request_id_var
from gateway.http.observability import Metrics
from gateway.http.redaction import clean_log_text
from gateway.http.security import request_header, secure_headers

__all__ = [
    "ACCESS_LOGGER",
    "REQUEST_ID_HEADER",
    "AccessRecord",
    "EdgeMiddleware",
    "new_request_id",
    "parse_request_id",
]

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "gateway.access"
UNMATCHED_ROUTE = "unmatched"
# What we accept from a caller: UUIDs, hex ids, trace-style ids. Anything else (too long,
# spaces, control characters that could forge log lines) is replaced by our own id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode()

access_logger = logging.getLogger(ACCESS_LOGGER)

# Our ids: 64 random bits per process, then a counter. Unique across replicas and
# workers (a collision needs two processes drawing the same 64 bits), and without a
# random draw (a getrandom call) per request; a request id is a label, not a secret.
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(1)


def parse_request_id(value: str | None) -> str | None:
    """``value`` when it is an acceptable request id, else ``None``."""
    if value is None or not _REQUEST_ID.fullmatch(value):
        return None
    return value


def new_request_id() -> str:
    """32 hex digits, as a UUID's, never the same twice in a process."""
    return f"{_ID_PREFIX}{next(_id_counter) & 0xFFFFFFFFFFFFFFFF:016x}"


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class EdgeMiddleware:
    """Request id in and out, security headers, a metrics sample and an access line.

    ``error_handler`` renders unexpected exceptions here, inside the request's context,
    so a 500 still carries the request id and the security headers, and its log record
    carries the id.
    """

    def __init__(self, app: ASGIApp, *, error_handler: ErrorHandler | None = None) -> None:
        self.app = app
        self.error_handler = error_handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = request_header(scope, _REQUEST_ID_NAME)
        request_id = parse_request_id(sent.decode("latin-1") if sent else None) or new_request_id()
        token = request_id_var.set(request_id)
        id_header = (_REQUEST_ID_NAME, request_id.encode())
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_at_edge(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = secure_headers(message.get("headers", ()))
                headers.append(id_header)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_at_edge)
        except Exception as exc:
            if self.error_handler is None or response_started:
                raise
            response = await self.error_handler(Request(scope, receive), exc)
            await response(scope, receive, send_at_edge)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        method = scope["method"]
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
        if metrics is not None:
            metrics.request(route, method, status, seconds)
        if not access_logger.isEnabledFor(logging.INFO):
            return
        # The request's method and path are cleaned here, once (secrets redacted, control
        # characters escaped), for the message and for the ``http`` values.
        shown_method, shown_path = clean_log_text(method), clean_log_text(scope["path"])
        message = f"{shown_method} {shown_path} {status}"
        http = {
            "method": shown_method,
            "path": shown_path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        direct = direct_json_lines()
        if direct is None or access_logger.handlers or access_logger.filters:
            access_logger.handle(AccessRecord(message, request_id, http))
            return
        # serve's own setup: the line JSONLogFormatter would write for the record,
        # rendered into the batch at once. Through Logger.handle, the handler's filters
        # and lock and the formatter's walk over a record's attributes, an access line
        # cost ~30 us of a warm gallery answer's ~90 in process (issue 14); here, half.
        batch, formatter = direct
        line = formatter.head(time.time(), "INFO", ACCESS_LOGGER, message, request_id)
        line["http"] = http
        batch.add(orjson.dumps(line).decode())


class AccessRecord(logging.LogRecord):
    """The access line of one request, as a record any handler can write.

    Built from what the middleware knows rather than through ``Logger.info``: the
    message and ``http`` values are clean already, so the record factory's scan has
    nothing to add; and where a line comes from is always this module, so the caller's
    file, line, thread and process are not looked up per request.
    """

    def __init__(self, message: str, request_id: str, http: dict[str, Any]) -> None:
        # Formatters read records through ``__dict__`` (``"%(filename)s" % vars``), so
        # every attribute is the instance's own; the ones no access line varies in are
        # copied from one template.
        self.__dict__.update(_ACCESS_TEMPLATE)
        self.msg = message
        self.created = created = time.time()
        self.msecs = (created - int(created)) * 1000
        self.relativeCreated = (created - _START) * 1000
        self.request_id = request_id
        self.http = http


_START = time.time()
# What every access record holds the same; where it comes from is always this module.
_ACCESS_TEMPLATE: dict[str, Any] = {
    **vars(logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 0, "", None, None)),
    "funcName": "_record",
    "thread": None,
    "threadName": None,
    "process": None,
    "processName": None,
}
