"""WARNING lines for upstream failures: at most one per provider and kind per interval.

The resilience layer reports every upstream attempt to one observer
(:class:`gateway.http.observability.Metrics`); counting them is the metrics' part, saying
so in the log is this module's. An operator sees a provider going wrong in the log without
a metrics query, and a provider failing a thousand times a second still writes one line per
``interval`` for each kind of failure, saying how many it stands for.

Lines go to the ``gateway.upstream`` logger with ``provider``, ``operation``, ``kind`` and
``suppressed`` as fields (JSON logs carry them as keys). Keys never appear: messages hold
only provider names and error kinds, and the redaction filter covers every record anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["DEFAULT_INTERVAL", "UpstreamFailureLog"]

DEFAULT_INTERVAL = 10.0  # seconds between two lines for the same provider and kind
logger = logging.getLogger("gateway.upstream")


class UpstreamFailureLog:
    """Logs upstream failures at WARNING, rate-limited per ``(provider, kind)``."""

    def __init__(
        self, *, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._last_logged: dict[tuple[str, str], float] = {}
        self._suppressed: dict[tuple[str, str], int] = {}
        # Observers are called from the event loop, but the CLI's progress thread and tests
        # may share one: a lock keeps the counts exact at a negligible cost.
        self._lock = threading.Lock()

    def failure(self, provider: str, operation: str, kind: str) -> None:
        """One failed (or refused) upstream call of ``provider`` with error ``kind``."""
        key = (provider, kind)
        now = self._clock()
        with self._lock:
            last = self._last_logged.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last_logged[key] = now
            suppressed = self._suppressed.pop(key, 0)
        since = f"; {suppressed} more like it since the last line" if suppressed else ""
        logger.warning(
            "upstream %s failed: %s (%s)%s",
            provider,
            kind,
            operation,
            since,
            extra={
                "provider": provider,
                "operation": operation,
                "kind": kind,
                "suppressed": suppressed,
            },
        )
