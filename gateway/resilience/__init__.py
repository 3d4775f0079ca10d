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
   within 30 s); open 30 s; 3 half-open probes close it again, a failed one opens it for
   another 30 s. Calls fail fast with :class:`CircuitOpen` while it is open; calls that
   started before it opened cannot re-open it (see :mod:`.breaker`).
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

Modules: :mod:`.guard` (the guards, their policy, errors and observer), :mod:`.breaker`
(the circuit breaker), :mod:`.cooldowns` (cool-downs shared through the cache).

May import: :mod:`gateway.cache` (cool-downs live there), :mod:`gateway.settings`,
:mod:`providers.errors`. Never a service nor a face.
"""

from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.cooldowns import CacheCooldowns, CooldownStore
from gateway.resilience.guard import (
    CircuitOpen,
    CoolingDown,
    GuardObserver,
    GuardPolicy,
    NullObserver,
    Overloaded,
    ProviderGuard,
    ProviderGuards,
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
