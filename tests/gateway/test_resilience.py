"""The per-provider guard on its own: retries, budgets, cool-downs, breaker, bulkhead.

Upstream calls are plain coroutines here (the end-to-end faults are in test_faults.py);
the breaker runs on a fake clock so "30 s later" costs nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from gateway.cache.shared import BoundedMemoryCache, SharedCache
from gateway.resilience import (
    CacheCooldowns,
    CircuitBreaker,
    CircuitOpen,
    CoolingDown,
    GuardPolicy,
    Overloaded,
    Priority,
    ProviderGuards,
)
from providers.errors import (
    ProviderBadData,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderTransient,
    ProviderUnavailable,
)

FAST = GuardPolicy(
    provider_deadline=2.0,
    retry_backoff_base=0.001,
    retry_backoff_cap=0.005,
)


class Recorder:
    """A GuardObserver that keeps everything it sees."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.states: list[tuple[str, str]] = []

    def upstream_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        self.calls.append((provider, operation, outcome))

    def breaker_state(self, provider: str, state: str) -> None:
        self.states.append((provider, state))


def failing(
    *errors: ProviderError, result: str = "ok"
) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A call that raises ``errors`` in turn, then returns ``result``; and its call count."""
    count = [0]

    async def call() -> str:
        count[0] += 1
        if count[0] <= len(errors):
            raise errors[count[0] - 1]
        return result

    return call, count


def guards(policy: GuardPolicy = FAST, **kwargs: object) -> ProviderGuards:
    return ProviderGuards(policy, **kwargs)  # type: ignore[arg-type]


async def test_a_transient_burst_is_retried_and_answered() -> None:
    call, count = failing(ProviderTransient("p", "HTTP 503"), ProviderTransient("p", "reset"))
    assert await guards().call("p", "op", call) == "ok"
    assert count[0] == 3


async def test_retries_stop_after_two() -> None:
    call, count = failing(*[ProviderTransient("p", "HTTP 502")] * 5)
    with pytest.raises(ProviderTransient):
        await guards().call("p", "op", call)
    assert count[0] == 3


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("p", "HTTP 500"),
        ProviderBadData("p", "not JSON"),
        ProviderNotFound("p", "HTTP 404"),
        ProviderTimeout("p", "ReadTimeout"),
    ],
)
async def test_errors_a_retry_cannot_cure_are_not_retried(error: ProviderError) -> None:
    call, count = failing(error)
    with pytest.raises(type(error)):
        await guards().call("p", "op", call)
    assert count[0] == 1


async def test_the_deadline_covers_every_attempt() -> None:
    async def hangs() -> str:
        await asyncio.sleep(60)
        return "never"

    policy = GuardPolicy(provider_deadline=0.05)
    with pytest.raises(ProviderTimeout):
        await guards(policy).call("p", "op", hangs)


async def test_a_short_retry_after_is_honoured_within_the_deadline() -> None:
    call, count = failing(ProviderRateLimited("p", "HTTP 429", retry_after=0.01))
    assert await guards().call("p", "op", call) == "ok"
    assert count[0] == 2


async def test_a_long_retry_after_sets_a_cooldown_shared_through_the_cache() -> None:
    cache = SharedCache(BoundedMemoryCache())
    first = guards(cooldowns=CacheCooldowns(cache))
    call, count = failing(ProviderRateLimited("p", "HTTP 429", retry_after=1e9))
    with pytest.raises(ProviderRateLimited):
        await first.call("p", "op", call)
    assert count[0] == 1  # no waiting, no retry: the wait is past the deadline

    # Another replica (its own guards, the same shared cache) does not call at all.
    other = guards(cooldowns=CacheCooldowns(cache))
    healthy, calls = failing()
    with pytest.raises(CoolingDown) as raised:
        await other.call("p", "op", healthy)
    assert calls[0] == 0
    assert raised.value.retry_after is not None and 250 < raised.value.retry_after <= 300
    await cache.close()


class RemoteCooldowns(CacheCooldowns):
    """Cool-downs a round trip away (as in Redis), their reads counted."""

    def __init__(self, cache: SharedCache) -> None:
        super().__init__(cache)
        self.reads = 0

    async def cooldown_until(self, provider: str) -> float | None:
        self.reads += 1
        await asyncio.sleep(0.01)
        return await super().cooldown_until(provider)


async def test_a_cooldown_another_replica_set_holds_every_call_of_a_wave() -> None:
    cache = SharedCache(BoundedMemoryCache())
    await CacheCooldowns(cache).set_cooldown("p:detail", time.time() + 60)  # another replica's
    cooldowns = RemoteCooldowns(cache)
    wave = guards(cooldowns=cooldowns)
    healthy, calls = failing()
    outcomes = await asyncio.gather(
        *(wave.call("p", "detail", healthy) for _ in range(5)), return_exceptions=True
    )
    # Each call waited for the one read on its way: none went out while it was (4 did).
    assert [type(outcome) for outcome in outcomes] == [CoolingDown] * 5
    assert calls[0] == 0
    assert cooldowns.reads == 1
    await cache.close()


async def test_retries_respect_the_budget() -> None:
    policy = GuardPolicy(
        provider_deadline=2.0,
        retry_backoff_base=0.05,
        retry_backoff_cap=0.05,
        retry_budget_floor=3,
        breaker_min_calls=1000,  # keep the breaker out of this
    )
    shared = guards(policy)
    gate = asyncio.Event()
    attempts = [0]

    async def always_503() -> str:
        attempts[0] += 1
        await gate.wait()
        raise ProviderTransient("p", "HTTP 503")

    tasks = [asyncio.create_task(shared.call("p", "op", always_503)) for _ in range(10)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ProviderTransient) for r in results)
    # Without a budget: 10 calls x 3 attempts. With 20 % of 10 (floor 3) retrying at once,
    # far fewer retries go out.
    assert 10 < attempts[0] < 30


async def test_the_queue_caps_calls_in_flight_and_serves_every_call_in_time() -> None:
    in_flight = [0]
    peak = [0]

    async def slow() -> str:
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        await asyncio.sleep(0.05)
        in_flight[0] -= 1
        return "ok"

    shared = guards(GuardPolicy(bulkhead_max_in_flight=16))
    results = await asyncio.gather(*(shared.call("p", "op", slow) for _ in range(40)))
    assert peak[0] == 16
    assert results == ["ok"] * 40  # waited for a slot instead of being refused


async def test_a_full_queue_or_a_deadline_too_near_sheds_as_overloaded() -> None:
    async def slow() -> str:
        await asyncio.sleep(0.2)
        return "ok"

    shared = guards(GuardPolicy(bulkhead_max_in_flight=2, bulkhead_queue_max=3))
    loop = asyncio.get_running_loop()
    calls = [shared.call("p", "op", slow) for _ in range(6)]
    hurried = shared.call("p", "op", slow, deadline=loop.time() + 0.1)
    results = await asyncio.gather(*calls, hurried, return_exceptions=True)
    assert results[:5] == ["ok"] * 5  # two in flight, three waiting
    assert isinstance(results[5], Overloaded)  # the queue was full
    assert isinstance(results[6], Overloaded)  # its deadline came before a slot


async def test_list_calls_go_before_detail_calls_that_waited_longer() -> None:
    order: list[str] = []

    def call(name: str) -> Callable[[], Awaitable[str]]:
        async def fn() -> str:
            order.append(name)
            await asyncio.sleep(0.02)
            return name

        return fn

    shared = guards(GuardPolicy(bulkhead_max_in_flight=1))
    detail = Priority.DETAIL
    first = asyncio.ensure_future(shared.call("p", "detail", call("busy"), priority=detail))
    await asyncio.sleep(0)
    waiting = [
        asyncio.ensure_future(shared.call("p", "detail", call(f"d{i}"), priority=detail))
        for i in range(3)
    ]
    await asyncio.sleep(0)
    listing = asyncio.ensure_future(shared.call("p", "holdings", call("list")))
    await asyncio.gather(first, *waiting, listing)
    assert order == ["busy", "list", "d0", "d1", "d2"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_at_half_failures_and_probes_back() -> None:
    clock = FakeClock()
    states: list[str] = []
    breaker = CircuitBreaker(GuardPolicy(), clock=clock, on_change=states.append)
    for ok in [True, False] * 4:
        breaker.record(ok)
    assert breaker.state == "closed"  # 8 calls: below the minimum of 10
    breaker.record(True)
    breaker.record(False)
    assert breaker.state == "open"
    assert not breaker.allow()

    clock.now += 30
    assert [breaker.allow() for _ in range(4)] == [True, True, True, False]  # 3 probes
    breaker.record(True)
    breaker.record(False)  # one probe fails: open again, for as long as before
    assert breaker.state == "open"
    assert round(breaker.retry_in()) == 30
    clock.now += 30
    assert breaker.allow()
    for _ in range(3):
        breaker.record(True)
    assert breaker.state == "closed"
    assert states == ["open", "half_open", "open", "half_open", "closed"]


def test_failed_probes_never_lengthen_the_open_time() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(GuardPolicy(), clock=clock)
    for _ in range(10):
        breaker.record(False)
    waits = []
    for _ in range(6):
        waits.append(round(breaker.retry_in()))
        clock.now += breaker.retry_in()
        assert breaker.allow()
        breaker.record(False)
    assert waits == [30] * 6


def test_a_call_that_started_before_the_breaker_opened_cannot_reopen_it() -> None:
    """The slow call that carried the fault ends after the breaker went half-open: its
    failure is the fault that opened the breaker, not news about the probe."""
    clock = FakeClock()
    breaker = CircuitBreaker(GuardPolicy(), clock=clock)
    slow = breaker.admit()  # goes out while closed, answers (a timeout) much later
    for _ in range(10):
        breaker.record(False, breaker.admit())
    assert breaker.state == "open"
    clock.now += 30
    probe = breaker.admit()
    assert probe is not None and breaker.state == "half_open"
    breaker.record(False, slow)  # the old call's timeout arrives now
    assert breaker.state == "half_open"
    for _ in range(2):
        breaker.admit()
    for _ in range(3):
        breaker.record(True, probe)
    assert breaker.state == "closed"


def test_old_failures_leave_the_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(GuardPolicy(), clock=clock)
    for _ in range(9):
        breaker.record(False)
    clock.now += 31
    breaker.record(False)
    assert breaker.state == "closed"


async def test_an_open_breaker_fails_fast_and_is_observed() -> None:
    recorder = Recorder()
    shared = guards(GuardPolicy(provider_deadline=1.0, retry_max=0), observer=recorder)
    for _ in range(10):
        call, _ = failing(ProviderUnavailable("p", "HTTP 500"))
        with pytest.raises(ProviderUnavailable):
            await shared.call("p", "op", call)
    call, count = failing()
    started = time.monotonic()
    with pytest.raises(CircuitOpen):
        await shared.call("p", "op", call)
    assert count[0] == 0 and time.monotonic() - started < 1.0
    assert ("p", "open") in recorder.states
    assert recorder.calls[-1] == ("p", "op", "circuit_open")
    assert recorder.calls[0] == ("p", "op", "unavailable")


async def test_rate_limits_do_not_open_the_breaker() -> None:
    shared = guards(GuardPolicy(retry_max=0))
    for _ in range(20):
        call, _ = failing(ProviderRateLimited("p", "HTTP 429"))
        with pytest.raises(ProviderRateLimited):
            await shared.call("p", "op", call)
    assert shared.for_provider("p").breaker.state == "closed"


async def test_providers_have_separate_guards() -> None:
    shared = guards(GuardPolicy(retry_max=0))
    for _ in range(10):
        call, _ = failing(ProviderUnavailable("a", "HTTP 500"))
        with pytest.raises(ProviderUnavailable):
            await shared.call("a", "op", call)
    call, _ = failing()
    assert await shared.call("b", "op", call) == "ok"


async def test_a_retry_the_open_breaker_refuses_reports_the_upstreams_answer() -> None:
    shared = guards(GuardPolicy(provider_deadline=1.0, retry_backoff_base=0.001))
    breaker = shared.for_provider("p").breaker
    for _ in range(9):
        breaker.record(False)
    # The first attempt's failure opens the breaker; the retry is refused, and the caller
    # hears what the upstream said, not that the gateway stopped asking.
    call, count = failing(ProviderTransient("p", "HTTP 503"))
    with pytest.raises(ProviderTransient):
        await shared.call("p", "op", call)
    assert count[0] == 1 and breaker.state == "open"
