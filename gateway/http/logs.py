"""How the gateway writes its logs: one JSON object per line, each with its request id.

* :func:`configure_logging` routes every logger (uvicorn's included) through one handler
  on the root logger (to stderr, in batches: :class:`BatchedStderrHandler`); ``serve``
  calls it, never an import.
* :class:`JSONLogFormatter` writes ``ts``, ``level``, ``logger``, ``message``,
  ``request_id``, any ``extra=`` values and the exception, so a log shipper needs no
  parsing rules.
* The request id lives in a ``ContextVar`` set by the edge middleware
  (:mod:`gateway.http.edge`) for the duration of a request; :class:`RequestIdFilter`
  stamps it on every record the handler writes.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import traceback
from contextvars import ContextVar
from typing import IO, Any, Literal

import orjson

from gateway.http.logrepeats import RepeatFilter

__all__ = [
    "BatchedStderrHandler",
    "JSONLogFormatter",
    "RequestIdFilter",
    "configure_logging",
    "current_request_id",
    "direct_json_lines",
    "request_id_var",
]

# The id of the request being served in this context (set by the edge middleware).
request_id_var: ContextVar[str | None] = ContextVar("nftgw_request_id", default=None)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged
# (but uvicorn's ``color_message``: the same text with terminal colour codes).
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}
)
# What configure_logging installed for serve; see direct_json_lines.
_direct: tuple[BatchedStderrHandler, JSONLogFormatter] | None = None
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_OURS = "_nftgw_handler"


def direct_json_lines() -> tuple[BatchedStderrHandler, JSONLogFormatter] | None:
    """The batch and formatter that :func:`configure_logging` set up for ``serve`` (JSON
    lines in batches on stderr), while they are the only handler on the root logger: a
    line can then be rendered straight into the batch, as the access lines are
    (:mod:`gateway.http.edge`). ``None`` under any other setup (a stream, text, a test
    runner's or an operator's own handler beside ours): records then go the usual way."""
    handlers = logging.root.handlers
    if _direct is None or len(handlers) != 1 or handlers[0] is not _direct[0]:
        return None
    return _direct


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` from the current request's context (or ``None``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JSONLogFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, extras, exc."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        entry = self.head(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            getattr(record, "request_id", None),
        )
        fields = vars(record)
        extras = fields.keys() - _RECORD_ATTRIBUTES - entry.keys()  # set operations, in C
        for key in sorted(extras) if len(extras) > 1 else extras:
            entry[key] = fields[key]
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        try:  # orjson: a JSON access log line per request, at a fraction of json's cost
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:  # what orjson refuses (non-str keys, 65-bit ints)
            return json.dumps(entry, default=str, ensure_ascii=False)

    def head(
        self, created: float, level: str, logger: str, message: str, request_id: str | None
    ) -> dict[str, Any]:
        """The keys every line starts with, in their order; extras follow."""
        return {
            "ts": self._timestamp(created),
            "level": level,
            "logger": logger,
            "message": message,
            "request_id": request_id,
        }

    def _timestamp(self, created: float) -> str:
        """ISO 8601 in UTC to the millisecond; the date and time of day are written once
        a second (a busy gateway writes thousands of lines in each)."""
        second = int(created)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((created - second) * 1000):03d}+00:00"


class BatchedStderrHandler(logging.Handler):
    """Lines to whatever ``sys.stderr`` is when they are written (a test runner's capture
    included), a batch at a time: at most ``interval`` seconds after the first line of a
    batch, at once when the batch reaches ``max_bytes``, and at once for WARNING and above.

    An access line per request written on its own cost a system call and the file system's
    bookkeeping per request: about a quarter of a warm answer's time when stderr is a file
    (issue 14, measured with the access logger toggled in one process). In batches the
    lines are the same, a fraction of a second later; ``logging.shutdown`` (at exit)
    writes what is left.
    """

    def __init__(
        self,
        *,
        interval: float = 0.2,
        max_bytes: int = 64 * 1024,
        flush_level: int = logging.WARNING,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.max_bytes = max_bytes
        self.flush_level = flush_level
        self._lines: list[str] = []
        self._size = 0
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:  # called holding self.lock
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add(line, at_once=record.levelno >= self.flush_level)

    def add(self, line: str, *, at_once: bool = False) -> None:
        """Queue one formatted line (without its newline); ``at_once`` writes the batch now."""
        line += "\n"
        self.acquire()  # the handler's own lock, re-entrant: emit holds it already
        try:
            self._lines.append(line)
            self._size += len(line)
            if at_once or self._size >= self.max_bytes:
                self.flush()
            elif self._flusher is None:
                self._flusher = threading.Thread(target=self._tick, name="log-flush", daemon=True)
                self._flusher.start()
        finally:
            self.release()

    def flush(self) -> None:
        self.acquire()  # the handler's own lock, re-entrant: emit holds it already
        try:
            if not self._lines:
                return
            text = "".join(self._lines)
            self._lines.clear()
            self._size = 0
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed or gone: nowhere left to write
            pass
        finally:
            self.release()

    def _tick(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()


def configure_logging(
    level: str,
    *,
    fmt: Literal["json", "text"] = "json",
    stream: IO[str] | None = None,
    repeat_window: float = 0.0,
) -> logging.Handler:
    """Route every logger (uvicorn's included) through one handler on the root logger.

    Calling it again replaces the handler it installed before (and only that one: a
    test runner's capture handlers stay). Returns the handler so a caller can remove it.
    ``repeat_window`` > 0 writes a repeated warning or error once per that many seconds,
    with a count (:class:`~gateway.http.logrepeats.RepeatFilter`).
    """
    global _direct
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else BatchedStderrHandler()
    )
    handler.addFilter(RepeatFilter(repeat_window))
    handler.addFilter(RequestIdFilter())
    formatter = JSONLogFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT)
    handler.setFormatter(formatter)
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _OURS, False):
            root.removeHandler(existing)
    root.addHandler(handler)
    _direct = None
    if isinstance(handler, BatchedStderrHandler) and isinstance(formatter, JSONLogFormatter):
        _direct = (handler, formatter)
    root.setLevel(level)
    # Neither format shows a record's thread or process, which the stdlib would look up
    # for every record (a getpid call each): the logging HOWTO's "Optimization" switches.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # Our access log replaces uvicorn's; httpx logs every upstream URL at INFO, and the
    # Alchemy key is part of its path, so it only speaks up for warnings.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
