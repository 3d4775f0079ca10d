"""The circuit breaker each provider guard keeps (thresholds: :class:`ResilienceSettings`)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from gateway.settings import ResilienceSettings

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Closed -> open on too many failures -> half-open probes -> closed (or open again).

    ``admit()`` says whether a call may go out and returns its *ticket*;
    ``record(success, ticket)`` reports how it went: ``True`` a success, ``False`` a failure
    and ``None`` a call that says nothing about the upstream's health (a 429, a cancelled
    call).

    Two rules keep recovery quick after a chain of faults (issue 16: 51 s open after the
    upstream had recovered):

    * A ticket belongs to the state the breaker was in when the call went out. An outcome
      recorded after the breaker changed state is ignored: a slow call that started before
      the breaker opened carries the very fault that opened it, and must not re-open a
      half-open breaker nor count against a closed one.
    * Every opening lasts ``breaker_open_seconds``, a failed probe's too. A doubling open
      time (the first version) only delays recovery: while open, the upstream sees at most
      ``breaker_half_open_probes`` calls per opening anyway.
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
        self._generation = 0  # bumped by every change of state: a ticket's validity
        self._opened_at = 0.0
        self._probes_started = 0
        self._probes_passed = 0

    def retry_in(self) -> float:
        """Seconds until the open breaker lets a probe through (0 unless open)."""
        if self.state != "open":
            return 0.0
        return max(0.0, self._opened_at + self._policy.breaker_open_seconds - self._clock())

    def admit(self) -> int | None:
        """A ticket for a call that may go out now, or ``None`` (refused); a half-open
        breaker lets a few probes through."""
        if self.state == "open":
            if self.retry_in() > 0:
                return None
            self._enter("half_open")
        if self.state == "half_open":
            if self._probes_started >= self._policy.breaker_half_open_probes:
                return None
            self._probes_started += 1
        return self._generation

    def allow(self) -> bool:
        """Whether a call may go out now (:meth:`admit` without keeping the ticket)."""
        return self.admit() is not None

    def record(self, success: bool | None, ticket: int | None = None) -> None:
        """How a call went. ``ticket`` (from :meth:`admit`) ties it to the state it went
        out in; an outcome from an earlier state is ignored. Without a ticket the outcome
        counts for the current state."""
        if ticket is not None and ticket != self._generation:
            return
        if self.state == "half_open":
            self._record_probe(success)
        elif self.state == "closed" and success is not None:
            self._record_closed(success)

    def _record_probe(self, success: bool | None) -> None:
        if success is None:
            self._probes_started = max(0, self._probes_started - 1)  # give the slot back
        elif not success:
            self._enter("open")
        else:
            self._probes_passed += 1
            if self._probes_passed >= self._policy.breaker_half_open_probes:
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
        self._generation += 1
        self._probes_started = self._probes_passed = 0
        if state == "open":
            self._opened_at = self._clock()
        if state == "closed":
            self._outcomes.clear()
        self._on_change(state)
