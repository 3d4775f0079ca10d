"""A guard per upstream provider: budget, queue, deadline, retries, cool-down, breaker.

Third-party APIs time out, throttle and fail; every call the gateway makes to one goes
through that provider's :class:`ProviderGuard`::

    guard = guards.for_provider("opensea")
    page = await guard.call(
        "holdings", lambda: source.fetch_holdings_page(owner, chain, None),
        priority=Priority.LIST, deadline=deadline, meter=meter,
    )

``call`` applies, in this order (budgets from ``shared/RELIABILITY.md``, all settings):

1. **Cool-down.** After a 429 whose ``Retry-After`` (or ``X-RateLimit-Reset``) does not fit
   in the deadline, that kind of call (the ``operation``: a detail 429 leaves list calls
   be) is left alone until then, by every replica: the cool-down lives in the shared cache
   (Redis when configured), re-read at most every 0.25 s per operation (the calls that
   arrive while it is read wait for that read). Such calls fail fast with
   :class:`CoolingDown` meanwhile.
2. **Total deadline**, the call's own (``deadline``; by default ``provider_deadline`` from
   now), bounding the waits below (a wait that cannot end in time is shed, not timed out),
   every attempt (``asyncio.timeout``: httpx's own timeouts are per read, so a slow drip
   would never trip them) and every back-off.
3. **Circuit breaker.** Open at >= 50 % failures among the last 20 calls (at least 10,
   within 30 s); open 30 s; 3 half-open probes close it again, a failed one opens it for
   another 30 s. Calls fail fast with :class:`CircuitOpen` while it is open; calls that
   started before it opened cannot re-open it (see :mod:`.breaker`).
4. **Budget** (:mod:`.budgets`): each attempt spends a token of the provider's bucket
   (per key, shared by replicas through Redis, corrected by the upstream's headers), in
   :class:`Priority` order, the calls waiting in line paid for in one store call; when
   its turn cannot come before the deadline the call is not made (:class:`BudgetSpent`,
   kind ``budget``).
5. **Queue** (:mod:`.queue`): at most 64 attempts in flight per provider; the others wait
   in priority order for as long as their deadline allows, and are shed
   (:class:`Overloaded`) only when it does not or when ``bulkhead_queue_max`` wait already.
6. **Retries**, at most 2, only where a retry can help: connect errors, resets, 502/503/504
   (:class:`~providers.errors.TransientError`) and 429s. Full-jitter exponential back-off
   (base 100 ms, cap 2 s); 429s wait what the upstream asked when that fits in the
   deadline. A retry budget (retries <= 20 % of the provider's active calls, floor 3) stops
   a struggling upstream from being hit by a retry storm. A retry pays and queues again.
   A retry the breaker, budget or queue refuses fails with the upstream's last answer
   (kind ``unavailable``, say), not the refusal: the call did reach the upstream.

Everything else (404, 400, bad data, auth) fails at once: retrying cannot change it.

Observers (metrics) plug in through :class:`GuardObserver`; the default does nothing. A
hand-written loop (~150 lines) instead of tenacity or stamina: the retry loop is the easy
part, and neither library has the budget, the shared cool-down, the breaker or the bulkhead.

Each attempt that reaches the upstream is counted on the call's :class:`CallMeter`
(:mod:`.metering`): what an answer cost.

Modules: :mod:`.guard` (the guards, their policy, errors and observer), :mod:`.breaker`
(the circuit breaker), :mod:`.cooldowns` (cool-downs shared through the cache),
:mod:`.budgets` (token buckets), :mod:`.queue` (priorities and the slot queue),
:mod:`.metering` (calls per answer).

May import: :mod:`gateway.cache` (cool-downs live there), :mod:`gateway.settings`,
:mod:`providers.errors`. Never a service nor a face.
"""

from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.budgets import (
    BucketStore,
    Budget,
    MemoryBuckets,
    RedisBuckets,
    budget_name,
)
from gateway.resilience.cooldowns import CacheCooldowns, CooldownStore
from gateway.resilience.guard import (
    BudgetSpent,
    CircuitOpen,
    CoolingDown,
    GuardObserver,
    GuardPolicy,
    NullObserver,
    Overloaded,
    ProviderGuard,
    ProviderGuards,
)
from gateway.resilience.metering import CallMeter, count_request, metering, request_meter
from gateway.resilience.queue import Priority

__all__ = [
    "BucketStore",
    "Budget",
    "BudgetSpent",
    "CacheCooldowns",
    "CallMeter",
    "CircuitBreaker",
    "CircuitOpen",
    "CooldownStore",
    "CoolingDown",
    "GuardObserver",
    "GuardPolicy",
    "MemoryBuckets",
    "NullObserver",
    "Overloaded",
    "Priority",
    "ProviderGuard",
    "ProviderGuards",
    "RedisBuckets",
    "budget_name",
    "count_request",
    "metering",
    "request_meter",
]
