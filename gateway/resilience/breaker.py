"""The circuit breaker each provider guard keeps (thresholds: :class:`ResilienceSettings`)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from gateway.settings import ResilienceSettings

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Closed -> open on too many failures -> half-open probes -> closed (or open, longer).

    ``record(True)`` is a success, ``record(False)`` a failure and ``record(None)`` a call
    that says nothing about the upstream's health (a 429, a cancelled call).
    """

    def __init__(
        self,
        policy: ResilienceSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str], None] = lambda state: None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._on_change = on_change
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=policy.breaker_window)
        self.state = "closed"
        self._opened_at = 0.0
        self._open_for = policy.breaker_open_seconds
        self._probes_started = 0
        self._probes_passed = 0

    def retry_in(self) -> float:
        """Seconds until the open breaker lets a probe through (0 unless open)."""
        if self.state != "open":
            return 0.0
        return max(0.0, self._opened_at + self._open_for - self._clock())

    def allow(self) -> bool:
        """Whether a call may go out now; a half-open breaker lets a few probes through."""
        if self.state == "open":
            if self.retry_in() > 0:
                return False
            self._enter("half_open")
        if self.state == "half_open":
            if self._probes_started >= self._policy.breaker_half_open_probes:
                return False
            self._probes_started += 1
        return True

    def record(self, success: bool | None) -> None:
        if self.state == "half_open":
            self._record_probe(success)
        elif self.state == "closed" and success is not None:
            self._record_closed(success)

    def _record_probe(self, success: bool | None) -> None:
        if success is None:
            self._probes_started = max(0, self._probes_started - 1)  # give the slot back
        elif not success:
            self._open_for = min(self._open_for * 2, self._policy.breaker_max_open_seconds)
            self._enter("open")
        else:
            self._probes_passed += 1
            if self._probes_passed >= self._policy.breaker_half_open_probes:
                self._open_for = self._policy.breaker_open_seconds
                self._enter("closed")

    def _record_closed(self, success: bool) -> None:
        now = self._clock()
        self._outcomes.append((now, success))
        horizon = now - self._policy.breaker_window_seconds
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()
        calls = len(self._outcomes)
        failures = sum(1 for _, ok in self._outcomes if not ok)
        policy = self._policy
        if calls >= policy.breaker_min_calls and failures >= policy.breaker_failure_ratio * calls:
            self._enter("open")

    def _enter(self, state: str) -> None:
        self.state = state
        self._probes_started = self._probes_passed = 0
        if state == "open":
            self._opened_at = self._clock()
        if state == "closed":
            self._outcomes.clear()
        self._on_change(state)
