"""A flood of one log message written as one line with a count.

When the process runs out of file descriptors, asyncio logs ``socket.accept() out of
system resource`` for every failed accept: 618,495 lines (348 MB) in 75 s (issue 16). A
slow Redis under a burst did the same with ``redis unavailable``. :class:`RepeatFilter`
sits on the log handler: the first record of a message (same logger, level and text) in a
window of ``window`` seconds is written, the others are only counted, and the next one
written after the window says how many were held back. Only WARNING and above: access and
debug lines are meant to be one per event.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RepeatFilter"]

# Distinct messages tracked at a time (least recently seen out): a bound on the table, not
# on what is logged.
MAX_TRACKED = 1024

_Key = tuple[str, int, str]


class RepeatFilter(logging.Filter):
    """Writes a repeated WARNING+ message once per ``window`` seconds, with a count."""

    def __init__(self, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self._clock = clock
        self._seen: OrderedDict[_Key, list[float]] = OrderedDict()  # key -> [since, held]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.window <= 0 or record.levelno < logging.WARNING:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it
            return True
        key = (record.name, record.levelno, message)
        now = self._clock()
        entry = self._seen.get(key)
        if entry is not None and now - entry[0] < self.window:
            entry[1] += 1
            self._seen.move_to_end(key)
            return False
        self._seen[key] = [now, 0]
        self._seen.move_to_end(key)
        while len(self._seen) > MAX_TRACKED:
            self._seen.popitem(last=False)
        if entry is not None and entry[1]:
            held, since = int(entry[1]), now - entry[0]
            record.msg = f"{message} (and {held} more like it in the last {since:.0f}s)"
            record.args = None
        return True
