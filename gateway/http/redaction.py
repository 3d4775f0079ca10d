"""Secrets out of every log record; one record per line.

The Alchemy key is a URL path segment, and httpx logs every request URL at INFO;
Strawberry logs resolver errors with tracebacks; exceptions may quote URLs. Filters on
loggers only see records logged on that very logger (not its children), and handler
filters miss handlers added later (uvicorn's, pytest's), so the redaction sits in the log
record factory: every record of every logger passes through it once, at creation, after
the level check. It

* replaces every registered secret, in every spelling an upstream echo may give it
  (:mod:`.spellings`), in the message and in the traceback text (when a
  traceback holds a secret, ``exc_text`` gets the redacted text and ``exc_info`` is
  cleared, so no formatter can render the original), and
* escapes CR, LF and other control characters in the message, so a client-supplied value
  (a path, a header) cannot forge a second log line.

A clean record (the common case) is left exactly as it was. A dirty one is cleaned part
by part: the format string and each argument, so ``record.args`` keeps its shape (uvicorn's
access formatter unpacks it as ``client_addr, method, path, http_version, status``). Strings
are cleaned; any other argument stays as it is unless its ``str`` or ``repr`` holds a
secret or a control character, and then it becomes its cleaned ``str``. Only a secret that
straddles two parts (``"%s%s" % (half, half)``) is left to the last resort: the whole
message, cleaned, with no arguments.

:func:`install_log_redaction` is called by the app factory with ``Settings.secrets()``;
it is idempotent and secrets only accumulate (several apps in one process, as in tests).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gateway.http.spellings import Spellings

__all__ = [
    "REDACTED",
    "RedactedBytes",
    "RedactingFilter",
    "clean_log_text",
    "install_log_redaction",
    "redact",
    "redact_bytes",
]

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4  # shorter "secrets" would redact ordinary words
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_spellings = Spellings.of(())
_generation = 0  # bumped whenever the set of secrets grows (see RedactedBytes)
_installed = False


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by :data:`REDACTED`, in every
    spelling (:mod:`.spellings`: any case, URL-encoded, base64, or any piece of at least
    8 characters of a key)."""
    return _spellings.redact(text, REDACTED)


def redact_bytes(body: bytes) -> bytes:
    """A response body with every registered secret replaced: the last line of defence
    (answers carry no upstream text, but an upstream may echo a key into data). Every
    answer passes here, so a cheap test comes first: a whole spelling of a key, or its
    first or last 8 characters, in any case; only then is the body searched in full."""
    if not _spellings.suspected_in(body):
        return body
    text = body.decode("utf-8", "surrogateescape")
    return redact(text).encode("utf-8", "surrogateescape")


class RedactedBytes:
    """A kept response body, redacted once per set of secrets rather than once per answer.

    Scanning an 85 KB warm answer for every key cost a tenth of a millisecond a request
    (about a tenth of a warm answer). The bytes are redacted when first read and again only
    after more secrets are registered (another app in the same process), so a key
    registered after the body was kept still never leaves."""

    __slots__ = ("_body", "_generation")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._generation = -1

    def __len__(self) -> int:
        return len(self._body)

    def get(self) -> bytes:
        if self._generation != _generation:
            self._body = redact_bytes(self._body)
            self._generation = _generation
        return self._body


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Register ``secrets`` and make sure the redacting record factory is installed."""
    global _secrets, _spellings, _generation, _installed
    with _lock:
        known = set(_secrets) | {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        if len(known) != len(_secrets):
            _generation += 1
        _secrets = tuple(sorted(known, key=len, reverse=True))
        _spellings = Spellings.of(_secrets)
        clean_log_text.cache_clear()  # what was clean may spell a new secret
        if not _installed:
            logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
            _installed = True


def _redacting_factory(
    make_record: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _clean(record)
        return record

    return factory


def _clean(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error path
        return
    if _is_dirty(message) or any(map(_is_dirty_value, _values(record.args))):
        _clean_message(record, message)
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        redacted = redact(text)
        if redacted != text:  # only then: formatters keep full fidelity otherwise
            record.exc_text = redacted
            record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


@functools.lru_cache(maxsize=4096)
def clean_log_text(text: str) -> str:
    """``text`` as a log line may show it: secrets redacted, control characters escaped;
    the very string when there is nothing to clean. For values a record carries outside
    its message and arguments (``extra=``), which the record factory does not see: the
    method and path of every access line. Remembered per text (a gateway's requests name
    a few paths over and over), and forgotten whenever more secrets are registered."""
    return _clean_text(text) if _is_dirty(text) else text


def _clean_text(text: str) -> str:
    return _CONTROL.sub(_escape, redact(text))


def _is_dirty(text: str) -> bool:
    """Whether :func:`_clean_text` would change ``text``: asked of every record's message
    and arguments (an access log line per request), so it searches and builds nothing."""
    return _CONTROL.search(text) is not None or _spellings.found_in(text)


def _clean_message(record: logging.LogRecord, message: str) -> None:
    """Clean the format string and each argument, keeping ``args``' shape."""
    record.msg = _clean_value(record.msg)
    record.args = _clean_args(record.args)
    try:
        rebuilt: str | None = record.getMessage()
    except Exception:  # a cleaned argument no longer fits its format (%d of a str)
        rebuilt = None
    if rebuilt is None or _is_dirty(rebuilt):  # a secret across two parts: last resort
        record.msg, record.args = _clean_text(message), None


def _values(args: Any) -> Iterable[object]:
    """Every argument, whether ``args`` is a tuple or a mapping (``%(path)s`` style):
    a record's ``args`` are shown too (``repr(record.__dict__)``), used or not."""
    if isinstance(args, Mapping):
        return args.values()
    return args if isinstance(args, tuple) else ()


def _clean_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(map(_clean_value, args))
    if isinstance(args, Mapping):
        return {key: _clean_value(value) for key, value in args.items()}
    return args


def _clean_value(value: object) -> object:
    """A dirty string cleaned; a dirty object (a URL holding a key) as its cleaned ``str``;
    anything clean untouched (numbers keep ``%d`` and ``%.1f`` working)."""
    if not _is_dirty_value(value):
        return value
    return _clean_text(value if isinstance(value, str) else str(value))


def _is_dirty_value(value: object) -> bool:
    if isinstance(value, str):
        return _is_dirty(value)
    if value is None or isinstance(value, int | float):
        return False
    try:
        return _is_dirty(str(value)) or _is_dirty(repr(value))
    except Exception:  # an object that cannot print itself: logging will say so
        return False


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


class RedactingFilter(logging.Filter):
    """The same cleaning as a handler filter, for handlers fed by another record factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        _clean(record)
        return True
