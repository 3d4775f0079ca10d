"""A guard per upstream provider: deadline, retries, rate-limit cool-down, breaker, bulkhead.

Third-party APIs time out, throttle and fail; every call the gateway makes to one goes
through that provider's :class:`ProviderGuard`::

    guard = guards.for_provider("opensea")
    page = await guard.call("holdings", lambda: source.fetch_holdings_page(owner, chain, None))

``call`` applies, in this order (budgets from ``shared/RELIABILITY.md``, all settings):

1. **Cool-down.** After a 429 whose ``Retry-After`` (or ``X-RateLimit-Reset``) does not fit
   in the deadline, the provider is left alone until then, by every replica: the cool-down
   lives in the shared cache (Redis when configured). Calls fail fast with
   :class:`CoolingDown` meanwhile.
2. **Circuit breaker.** Open at >= 50 % failures among the last 20 calls (at least 10,
   within 30 s); open 30 s, doubling up to 5 min while probes keep failing; 3 half-open
   probes close it again. Calls fail fast with :class:`CircuitOpen` while it is open.
3. **Bulkhead.** At most 16 calls in flight per provider; a call waits at most 100 ms for
   a slot, then fails fast with :class:`Overloaded` (the caller serves stale or partial).
4. **Total deadline** (``asyncio.timeout``) covering every attempt and back-off: httpx's
   own timeouts are per read, so a slow drip would never trip them.
5. **Retries**, at most 2, only where a retry can help: connect errors, resets, 502/503/504
   (:class:`~providers.errors.TransientError`) and 429s. Full-jitter exponential back-off
   (base 100 ms, cap 2 s); 429s wait what the upstream asked when that fits in the
   deadline. A retry budget (retries <= 20 % of the provider's active calls, floor 3) stops
   a struggling upstream from being hit by a retry storm.

Everything else (404, 400, bad data, auth) fails at once: retrying cannot change it.

Observers (metrics) plug in through :class:`GuardObserver`; the default does nothing. A
hand-written loop (~150 lines) instead of tenacity or stamina: the retry loop is the easy
part, and neither library has the budget, the shared cool-down, the breaker or the bulkhead.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from gateway.cache.shared import SharedCache, cache_key
from gateway.settings import ResilienceSettings
from providers.errors import (
    ProviderBadData,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    TransientError,
)

__all__ = [
    "CacheCooldowns",
    "CircuitBreaker",
    "CircuitOpen",
    "CooldownStore",
    "CoolingDown",
    "GuardObserver",
    "GuardPolicy",
    "NullObserver",
    "Overloaded",
    "ProviderGuard",
    "ProviderGuards",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How often a guard re-reads the shared cool-down (one cache GET per provider per interval).
COOLDOWN_POLL_INTERVAL = 0.25


class CircuitOpen(ProviderUnavailable):
    """The provider's breaker is open: no call was made."""

    kind = "circuit_open"


class Overloaded(ProviderUnavailable):
    """The provider's bulkhead was full for longer than the queue wait: no call was made."""

    kind = "overloaded"


class CoolingDown(ProviderRateLimited):
    """The provider asked us (or another replica) to back off and that time is not over."""


class GuardObserver(Protocol):
    """What a metrics module implements to see every upstream attempt and breaker change.

    ``outcome`` is ``ok``, an error ``kind`` (``timeout``, ``unavailable``,
    ``rate_limited``, ...) or, for calls that never reached the upstream,
    ``circuit_open``, ``overloaded`` or ``cooling_down`` (``seconds`` is then 0).
    ``state`` is ``closed``, ``open`` or ``half_open``.
    """

    def upstream_call(
        self, provider: str, operation: str, outcome: str, seconds: float
    ) -> None: ...

    def breaker_state(self, provider: str, state: str) -> None: ...


class NullObserver:
    """The default observer: sees everything, records nothing."""

    def upstream_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        return None

    def breaker_state(self, provider: str, state: str) -> None:
        return None


class CooldownStore(Protocol):
    """Where cool-downs live, so every replica honours one upstream's 429."""

    async def cooldown_until(self, provider: str) -> float | None:
        """The Unix time the provider's cool-down ends, if one is set."""
        ...

    async def set_cooldown(self, provider: str, until: float) -> None: ...


class CacheCooldowns:
    """Cool-downs in the :class:`~gateway.cache.shared.SharedCache` (Redis when configured)."""

    def __init__(self, cache: SharedCache) -> None:
        self._cache = cache

    async def cooldown_until(self, provider: str) -> float | None:
        value = await self._cache.get(cache_key("cooldown", provider))
        if isinstance(value, dict) and isinstance(value.get("until"), int | float):
            return float(value["until"])
        return None

    async def set_cooldown(self, provider: str, until: float) -> None:
        ttl = until - time.time()
        if ttl > 0:
            await self._cache.set(cache_key("cooldown", provider), {"until": until}, ttl=ttl)


# Every budget of a guard, defaults and bounds included: the settings' resilience slice,
# built with ``GuardPolicy.from_settings(settings)`` (README "Configuration").
GuardPolicy = ResilienceSettings


class CircuitBreaker:
    """Closed -> open on too many failures -> half-open probes -> closed (or open, longer).

    ``record(True)`` is a success, ``record(False)`` a failure and ``record(None)`` a call
    that says nothing about the upstream's health (a 429, a cancelled call).
    """

    def __init__(
        self,
        policy: GuardPolicy,
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


class ProviderGuard:
    """Everything between the gateway and one provider; see the module docstring."""

    def __init__(
        self,
        provider: str,
        policy: GuardPolicy,
        *,
        cooldowns: CooldownStore | None,
        observer: Callable[[], GuardObserver],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self._policy = policy
        self._cooldowns = cooldowns
        self._observer = observer
        self.breaker = CircuitBreaker(
            policy, clock=clock, on_change=lambda state: observer().breaker_state(provider, state)
        )
        self._slots = asyncio.Semaphore(policy.bulkhead_max_in_flight)
        self._active = 0
        self._retrying = 0
        self._cooldown_until = 0.0  # Unix time, as shared with other replicas
        self._cooldown_checked = 0.0

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` under the guard's budgets.

        Raises what ``fn`` raised (a :class:`~providers.errors.ProviderError`) once retries
        are spent, :class:`~providers.errors.ProviderTimeout` past the deadline, or without
        calling at all :class:`CoolingDown`, :class:`CircuitOpen` or :class:`Overloaded`.
        """
        await self._check_cooldown(operation)
        await self._acquire_slot(operation)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.provider_deadline
        self._active += 1
        try:
            async with asyncio.timeout_at(deadline):
                return await self._attempts(operation, fn, deadline)
        except TimeoutError:
            raise ProviderTimeout(
                self.provider, f"no answer within {self._policy.provider_deadline:g}s"
            ) from None
        finally:
            self._active -= 1
            self._slots.release()

    # -- before the first attempt ----------------------------------------------------------

    async def _check_cooldown(self, operation: str) -> None:
        now = time.time()
        if self._cooldowns is not None and now - self._cooldown_checked >= COOLDOWN_POLL_INTERVAL:
            self._cooldown_checked = now
            shared = await self._cooldowns.cooldown_until(self.provider)
            if shared is not None:
                self._cooldown_until = max(self._cooldown_until, shared)
        remaining = self._cooldown_until - now
        if remaining > 0:
            self._observer().upstream_call(self.provider, operation, "cooling_down", 0.0)
            raise CoolingDown(
                self.provider, f"rate limited: cooling down for {remaining:.0f}s", remaining
            )

    async def _acquire_slot(self, operation: str) -> None:
        try:
            async with asyncio.timeout(self._policy.bulkhead_queue_wait):
                await self._slots.acquire()
        except TimeoutError:
            self._observer().upstream_call(self.provider, operation, "overloaded", 0.0)
            raise Overloaded(
                self.provider, f"more than {self._policy.bulkhead_max_in_flight} calls in flight"
            ) from None

    # -- attempts --------------------------------------------------------------------------

    async def _attempts(self, operation: str, fn: Callable[[], Awaitable[T]], deadline: float) -> T:
        attempt = 0
        while True:
            self._admit(operation)
            try:
                return await self._attempt(operation, fn, deadline)
            except ProviderError as exc:
                delay = await self._retry_delay(exc, attempt, deadline)
                if delay is None:
                    raise
            attempt += 1
            self._retrying += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self._retrying -= 1

    def _admit(self, operation: str) -> None:
        if not self.breaker.allow():
            self._observer().upstream_call(self.provider, operation, "circuit_open", 0.0)
            raise CircuitOpen(
                self.provider, f"circuit open: retrying in {self.breaker.retry_in():.0f}s"
            )

    async def _attempt(self, operation: str, fn: Callable[[], Awaitable[T]], deadline: float) -> T:
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcome: str = "ok"
        verdict: bool | None = True
        try:
            return await fn()
        except ProviderError as exc:
            outcome, verdict = exc.kind, _health_verdict(exc)
            raise
        except asyncio.CancelledError:
            timed_out = loop.time() >= deadline
            outcome, verdict = ("timeout", False) if timed_out else ("cancelled", None)
            raise
        except Exception:
            outcome, verdict = "internal", None  # an adapter bug, not the upstream's health
            raise
        finally:
            self.breaker.record(verdict)
            self._observer().upstream_call(self.provider, operation, outcome, loop.time() - started)

    async def _retry_delay(self, exc: ProviderError, attempt: int, deadline: float) -> float | None:
        """Seconds to wait before retrying ``exc``, or ``None`` to give up now."""
        remaining = deadline - asyncio.get_running_loop().time()
        if isinstance(exc, ProviderRateLimited) and exc.retry_after is not None:
            wait = min(exc.retry_after, self._policy.max_retry_after)
            if wait >= remaining or attempt >= self._policy.retry_max:
                await self._cool_down(wait)
                return None
        elif isinstance(exc, TransientError | ProviderRateLimited):
            wait = random.uniform(
                0, min(self._policy.retry_backoff_cap, self._policy.retry_backoff_base * 2**attempt)
            )
            if wait >= remaining:
                return None
        else:
            return None
        if attempt >= self._policy.retry_max or not self._budget_allows_retry():
            return None
        return wait

    def _budget_allows_retry(self) -> bool:
        budget = max(
            self._policy.retry_budget_floor, self._policy.retry_budget_ratio * self._active
        )
        return self._retrying < budget

    async def _cool_down(self, seconds: float) -> None:
        until = time.time() + seconds
        if until <= self._cooldown_until:
            return
        self._cooldown_until = until
        logger.warning("%s asked to back off: cooling down for %.0fs", self.provider, seconds)
        if self._cooldowns is not None:
            await self._cooldowns.set_cooldown(self.provider, until)


def _health_verdict(exc: ProviderError) -> bool | None:
    """What an error says about the upstream's health, for the breaker."""
    if isinstance(exc, ProviderRateLimited):
        return None  # alive, just busy: the cool-down handles it
    # A 404 or a 400 is a healthy upstream answering.
    return not isinstance(exc, ProviderTimeout | ProviderUnavailable | ProviderBadData)


class ProviderGuards:
    """One :class:`ProviderGuard` per provider name, sharing policy, cool-downs, observer.

    Built once in the app factory; services (NFT, DID) ask it for their providers' guards.
    ``observer`` may be replaced at any time (a metrics module plugs in after startup).
    """

    def __init__(
        self,
        policy: GuardPolicy,
        *,
        cooldowns: CooldownStore | None = None,
        observer: GuardObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.observer: GuardObserver = observer or NullObserver()
        self._cooldowns = cooldowns
        self._clock = clock
        self._guards: dict[str, ProviderGuard] = {}

    def for_provider(self, provider: str) -> ProviderGuard:
        guard = self._guards.get(provider)
        if guard is None:
            guard = self._guards[provider] = ProviderGuard(
                provider,
                self.policy,
                cooldowns=self._cooldowns,
                observer=lambda: self.observer,
                clock=self._clock,
            )
        return guard

    async def call(self, provider: str, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Shorthand for ``for_provider(provider).call(operation, fn)``."""
        return await self.for_provider(provider).call(operation, fn)
