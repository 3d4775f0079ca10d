"""The guard per provider: cool-down, breaker, bulkhead, total deadline, retries.

See the package docstring for the order and the budgets.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.cooldowns import CooldownStore
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
    "CircuitOpen",
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

# Every budget of a guard, defaults and bounds included: the settings' resilience slice,
# built with ``GuardPolicy.from_settings(settings)`` (README "Configuration").
GuardPolicy = ResilienceSettings


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


class ProviderGuard:
    """Everything between the gateway and one provider; see the package docstring."""

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
            ticket = self._admit(operation)
            try:
                return await self._attempt(operation, fn, deadline, ticket)
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

    def _admit(self, operation: str) -> int:
        """The breaker's ticket for one attempt, or :class:`CircuitOpen`."""
        ticket = self.breaker.admit()
        if ticket is None:
            self._observer().upstream_call(self.provider, operation, "circuit_open", 0.0)
            raise CircuitOpen(
                self.provider, f"circuit open: retrying in {self.breaker.retry_in():.0f}s"
            )
        return ticket

    async def _attempt(
        self, operation: str, fn: Callable[[], Awaitable[T]], deadline: float, ticket: int
    ) -> T:
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
            self.breaker.record(verdict, ticket)
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
