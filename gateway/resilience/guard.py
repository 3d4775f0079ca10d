"""The guard per provider: cool-down, breaker, bulkhead, total deadline, retries.

See the package docstring for the order and the budgets. (Over 400 lines: the attempt loop,
its waits and its accounting read best together.)
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.budgets import Budget, OverBudget
from gateway.resilience.cooldowns import CooldownStore
from gateway.resilience.metering import AttemptRequests, CallMeter, request_meter
from gateway.resilience.queue import Priority, PriorityGate, QueueFull, QueueTimeout
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
    "BudgetSpent",
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

# How often a guard re-reads the shared cool-down (one cache GET per operation per interval).
COOLDOWN_POLL_INTERVAL = 0.25

# Every budget of a guard, defaults and bounds included: the settings' resilience slice,
# built with ``GuardPolicy.from_settings(settings)`` (README "Configuration").
GuardPolicy = ResilienceSettings


class CircuitOpen(ProviderUnavailable):
    """The provider's breaker is open: no call was made."""

    kind = "circuit_open"


class Overloaded(ProviderUnavailable):
    """No slot in time (or too many calls already waiting): no call was made."""

    kind = "overloaded"


class BudgetSpent(ProviderRateLimited):
    """The provider's budget cannot pay for the call before its deadline: none was made."""

    kind = "budget"


@dataclass(frozen=True, slots=True)
class _Call:
    priority: Priority
    deadline: float  # loop time
    meter: CallMeter


class CoolingDown(ProviderRateLimited):
    """The provider asked us (or another replica) to back off and that time is not over."""


class GuardObserver(Protocol):
    """What a metrics module implements to see every upstream attempt and breaker change.

    ``outcome`` is ``ok``, an error ``kind`` (``timeout``, ``unavailable``,
    ``rate_limited``, ...) or, for calls that never reached the upstream,
    ``circuit_open``, ``overloaded``, ``budget`` or ``cooling_down`` (``seconds`` is
    then 0). ``budget_remaining`` reports a budget's tokens after the upstream spoke.
    ``state`` is ``closed``, ``open`` or ``half_open``.
    """

    def upstream_call(
        self, provider: str, operation: str, outcome: str, seconds: float
    ) -> None: ...

    def breaker_state(self, provider: str, state: str) -> None: ...

    def budget_remaining(self, provider: str, tokens: float) -> None: ...


class NullObserver:
    """The default observer: sees everything, records nothing."""

    def upstream_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        return None

    def breaker_state(self, provider: str, state: str) -> None:
        return None

    def budget_remaining(self, provider: str, tokens: float) -> None:
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
        budget: Budget | None = None,
    ) -> None:
        self.provider = provider
        self._policy = policy
        self._cooldowns = cooldowns
        self._observer = observer
        self.breaker = CircuitBreaker(
            policy, clock=clock, on_change=lambda state: observer().breaker_state(provider, state)
        )
        self._gate = PriorityGate(policy.bulkhead_max_in_flight, policy.bulkhead_queue_max)
        self.budget = budget
        self._active = 0
        self._retrying = 0
        # Per operation: Unix time, as shared with other replicas, when last read, and the
        # read on its way.
        self._cooldown_until: dict[str, float] = {}
        self._cooldown_checked: dict[str, float] = {}
        self._cooldown_reads: dict[str, asyncio.Future[None]] = {}

    async def call(
        self,
        operation: str,
        fn: Callable[[], Awaitable[T]],
        *,
        priority: Priority = Priority.LIST,
        deadline: float | None = None,
        meter: CallMeter | None = None,
    ) -> T:
        """``await fn()`` under the guard's budgets; ``fn`` makes one upstream request.

        ``deadline`` (loop time; default ``provider_deadline`` from now) bounds everything:
        the wait for budget and slot, every attempt and back-off. Each attempt that
        reaches the upstream is counted on ``meter`` (default: the request's, see
        :func:`~gateway.resilience.metering.metering`).

        Raises what ``fn`` raised (a :class:`~providers.errors.ProviderError`) once retries
        are spent, :class:`~providers.errors.ProviderTimeout` past the deadline, or without
        calling at all :class:`CoolingDown`, :class:`CircuitOpen`, :class:`Overloaded` (the
        queue is full or the slot would come too late) or :class:`BudgetSpent`.
        """
        await self._check_cooldown(operation)
        loop = asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + self._policy.provider_deadline
        self._active += 1
        try:
            return await self._attempts(
                operation, fn, _Call(priority, deadline, meter or request_meter())
            )
        finally:
            self._active -= 1

    # -- before the first attempt ----------------------------------------------------------

    async def _check_cooldown(self, operation: str) -> None:
        """A 429 defers the kind of call it answered (a detail 429 leaves list calls be)."""
        if self._cooldowns is not None:
            await self._read_shared_cooldown(self._cooldowns, operation)
        remaining = self._cooldown_until.get(operation, 0.0) - time.time()
        if remaining > 0:
            self._observer().upstream_call(self.provider, operation, "cooling_down", 0.0)
            raise CoolingDown(
                self.provider, f"rate limited: cooling down for {remaining:.0f}s", remaining
            )

    async def _read_shared_cooldown(self, store: CooldownStore, operation: str) -> None:
        """Re-read the operation's shared cool-down once an interval. Every call arriving
        while the read is on its way waits for it too, so the calls of a wave line up for
        the budget together rather than the one that reads last."""
        reading = self._cooldown_reads.get(operation)
        if reading is not None:
            await asyncio.shield(reading)  # a caller leaving never cancels the others' wait
            return
        now = time.time()
        if now - self._cooldown_checked.get(operation, 0.0) < COOLDOWN_POLL_INTERVAL:
            return
        self._cooldown_checked[operation] = now
        reading = self._cooldown_reads[operation] = asyncio.get_running_loop().create_future()
        try:
            shared = await store.cooldown_until(self._cooldown_name(operation))
            if shared is not None:
                until = max(self._cooldown_until.get(operation, 0.0), shared)
                self._cooldown_until[operation] = until
        finally:
            del self._cooldown_reads[operation]
            reading.set_result(None)

    def _cooldown_name(self, operation: str) -> str:
        return f"{self.provider}:{operation}"

    async def _wait_turn(self, operation: str, call: _Call) -> None:
        """Budget first (it may hold everyone until a reset), then a slot, both in
        priority order and within the call's deadline."""
        if self.budget is not None:
            try:
                await self.budget.spend(call.priority, call.deadline)
            except OverBudget as exc:
                self._observer().upstream_call(self.provider, operation, "budget", 0.0)
                raise BudgetSpent(
                    self.provider, f"budget spent: the next call fits in {exc.wait:.0f}s"
                ) from None
        try:
            await self._gate.acquire(call.priority, call.deadline)
        except (QueueFull, QueueTimeout) as exc:
            if self.budget is not None:
                self.budget.done()
            self._observer().upstream_call(self.provider, operation, "overloaded", 0.0)
            why = "too many calls waiting" if isinstance(exc, QueueFull) else "no slot in time"
            raise Overloaded(self.provider, why) from None

    # -- attempts --------------------------------------------------------------------------

    async def _attempts(self, operation: str, fn: Callable[[], Awaitable[T]], call: _Call) -> T:
        attempt = 0
        last: ProviderError | None = None
        while True:
            try:
                ticket = self._admit(operation)
            except CircuitOpen:
                if last is not None:
                    raise last from None  # a retry the breaker refuses: the upstream's answer
                raise
            try:
                await self._wait_turn(operation, call)
            except (BudgetSpent, Overloaded):
                self.breaker.record(None, ticket)  # not a call: a half-open probe slot back
                if last is not None:
                    raise last from None  # a retry it cannot pay for: the upstream's answer
                raise
            sent = AttemptRequests()  # the attempt's HTTP requests (see metering)
            try:
                call.meter.add(self.provider)  # counted up front: an answer may not wait for it
                # The deadline bounds each attempt here; the waits bound themselves (a wait
                # that cannot end in time is shed as overloaded or budget, not a timeout),
                # and a back-off is only taken when it ends before the deadline.
                async with asyncio.timeout_at(call.deadline):
                    return await self._attempt(operation, fn, call.deadline, ticket)
            except TimeoutError:
                raise ProviderTimeout(
                    self.provider, "no answer within the call's deadline"
                ) from None
            except ProviderError as exc:
                delay = await self._retry_delay(exc, attempt, operation, call.deadline)
                if delay is None:
                    raise
                last = exc
            finally:
                call.meter.add(self.provider, sent.stop() - 1)  # .bit: several per call
                self._gate.release()
                if self.budget is not None:
                    self.budget.done()
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

    async def _retry_delay(
        self, exc: ProviderError, attempt: int, operation: str, deadline: float
    ) -> float | None:
        """Seconds to wait before retrying ``exc``, or ``None`` to give up now."""
        remaining = deadline - asyncio.get_running_loop().time()
        if isinstance(exc, ProviderRateLimited) and exc.retry_after is not None:
            wait = min(exc.retry_after, self._policy.max_retry_after)
            if wait >= remaining or attempt >= self._policy.retry_max:
                await self._cool_down(operation, wait)
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

    async def _cool_down(self, operation: str, seconds: float) -> None:
        until = time.time() + seconds
        if until <= self._cooldown_until.get(operation, 0.0):
            return
        self._cooldown_until[operation] = until
        logger.warning(
            "%s asked to back off %s calls: cooling down for %.0fs",
            self.provider,
            operation,
            seconds,
        )
        if self._cooldowns is not None:
            await self._cooldowns.set_cooldown(self._cooldown_name(operation), until)


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
        budgets: Mapping[str, Budget] | None = None,
    ) -> None:
        self.policy = policy
        self.observer: GuardObserver = observer or NullObserver()
        self._cooldowns = cooldowns
        self._clock = clock
        self._budgets = dict(budgets or {})
        self._guards: dict[str, ProviderGuard] = {}

    @property
    def budgets(self) -> Mapping[str, Budget]:
        """The budget of each metered provider (by provider name)."""
        return self._budgets

    async def observe_answer(self, provider: str, status: int, headers: Mapping[str, str]) -> None:
        """An upstream answered: correct its budget from the ``X-RateLimit-*`` headers."""
        budget = self._budgets.get(provider)
        if budget is not None:
            await budget.observe(headers, status)
            self.observer.budget_remaining(provider, budget.tokens)

    def for_provider(self, provider: str) -> ProviderGuard:
        guard = self._guards.get(provider)
        if guard is None:
            guard = self._guards[provider] = ProviderGuard(
                provider,
                self.policy,
                cooldowns=self._cooldowns,
                observer=lambda: self.observer,
                clock=self._clock,
                budget=self._budgets.get(provider),
            )
        return guard

    async def call(
        self,
        provider: str,
        operation: str,
        fn: Callable[[], Awaitable[T]],
        *,
        priority: Priority = Priority.LIST,
        deadline: float | None = None,
        meter: CallMeter | None = None,
    ) -> T:
        """Shorthand for ``for_provider(provider).call(operation, fn, ...)``."""
        guard = self.for_provider(provider)
        return await guard.call(operation, fn, priority=priority, deadline=deadline, meter=meter)
