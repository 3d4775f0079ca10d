"""Budgets of upstream calls: token buckets spent by priority, shared through Redis,
corrected by the upstream's own headers; and the guard reporting a spent budget."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from gateway.cache.backends import RedisLayer
from gateway.cache.shared import cache_key
from gateway.resilience import (
    Budget,
    BudgetSpent,
    CallMeter,
    GuardPolicy,
    MemoryBuckets,
    Priority,
    ProviderGuards,
    RedisBuckets,
)
from gateway.resilience.budgets import OverBudget
from gateway.settings import Rate, Settings

REDIS_URL = "redis://127.0.0.1:6379/13"


def soon(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def spend_all(budget: Budget, priority: Priority, times: int) -> None:
    for _ in range(times):
        await budget.spend(priority, soon(0.05))
        budget.done()


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [("600/h", 600, 3600), ("4/s", 4, 1), ("120/min", 120, 60), ("50/10s", 50, 10)],
)
def test_rates_read_as_the_readme_writes_them(text: str, count: int, period: float) -> None:
    assert Rate.parse(text) == Rate(count, period)


def test_off_means_no_budget_and_nonsense_is_refused() -> None:
    assert Settings(opensea_rate="off").rate_for("opensea") is None
    assert Settings(sandbox="off").rate_for("opensea") == Rate(600, 3600)
    assert Settings(sandbox="on").rate_for("opensea") is None  # emulators meter nothing
    assert Settings(sandbox="on", opensea_rate="120/min").rate_for("opensea") == Rate(120, 60)
    with pytest.raises(ValueError):
        Settings(alchemy_rate="lots")


async def test_a_spent_budget_refuses_a_call_it_cannot_pay_before_the_deadline() -> None:
    budget = Budget("b", Rate(3, 3600), MemoryBuckets())
    await spend_all(budget, Priority.LIST, 3)
    with pytest.raises(OverBudget):
        await budget.spend(Priority.LIST, soon(5))  # the next token is 20 minutes away


async def test_details_leave_a_reserve_that_list_calls_may_spend() -> None:
    budget = Budget("b", Rate(10, 3600), MemoryBuckets())
    await spend_all(budget, Priority.DETAIL, 9)  # a reserve of 1 token stays
    with pytest.raises(OverBudget):
        await budget.spend(Priority.DETAIL, soon(1))
    await spend_all(budget, Priority.LIST, 1)  # the list call gets it


async def test_a_spent_quota_holds_every_call_until_the_reset() -> None:
    budget = Budget("b", Rate(100, 1), MemoryBuckets())
    reset = int(time.time()) + 2
    await budget.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, 429)
    with pytest.raises(OverBudget):
        await budget.spend(Priority.LIST, soon(0.3))
    await budget.spend(Priority.LIST, soon(5))  # waits for the reset, then goes
    assert time.time() >= reset - 0.05


async def test_remaining_from_the_headers_replaces_our_own_count() -> None:
    budget = Budget("b", Rate(600, 3600), MemoryBuckets())
    await budget.observe({"x-ratelimit-remaining": "2", "x-ratelimit-limit": "600"}, 200)
    await spend_all(budget, Priority.LIST, 2)
    with pytest.raises(OverBudget):
        await budget.spend(Priority.LIST, soon(1))


async def test_replicas_spend_from_one_bucket_in_redis() -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    layers = [RedisLayer.from_url(REDIS_URL, namespace=namespace) for _ in range(2)]
    try:
        first, second = (Budget("opensea:k", Rate(4, 3600), RedisBuckets(r)) for r in layers)
        await spend_all(first, Priority.LIST, 3)
        await spend_all(second, Priority.LIST, 1)
        with pytest.raises(OverBudget):
            await first.spend(Priority.LIST, soon(1))
        with pytest.raises(OverBudget):
            await second.spend(Priority.LIST, soon(1))
    finally:
        await layers[0].delete(cache_key("budget", "opensea:k"))  # the test's one key
        for layer in layers:
            await layer.close()


class RoundTripStore(MemoryBuckets):
    """The memory store, each take a round trip away (as in Redis) and counted."""

    def __init__(self) -> None:
        super().__init__()
        self.takes = 0

    async def take(
        self, name: str, rate: Rate, reserve: float, count: int
    ) -> tuple[int, float, float]:
        self.takes += 1
        await asyncio.sleep(0.01)
        return await super().take(name, rate, reserve, count)


async def test_a_wave_of_calls_takes_its_tokens_in_one_round_trip_not_one_each() -> None:
    store = RoundTripStore()
    budget = Budget("b", Rate(600, 3600), store)
    first = asyncio.create_task(budget.spend(Priority.LIST, soon(1)))
    await asyncio.sleep(0)  # the first call's take is on its way; nine more line up
    wave = [asyncio.create_task(budget.spend(Priority.DETAIL, soon(1))) for _ in range(9)]
    await asyncio.gather(first, *wave)
    assert store.takes == 2  # was 10: each call's take waited for the one before
    assert budget.tokens == pytest.approx(590, abs=0.1)  # one token each, all the same


async def test_a_wave_takes_no_more_than_its_reserve_allows() -> None:
    budget = Budget("b", Rate(10, 3600), RoundTripStore())
    calls = [budget.spend(Priority.DETAIL, soon(0.2)) for _ in range(12)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert [isinstance(outcome, OverBudget) for outcome in outcomes] == [False] * 9 + [True] * 3
    for _ in range(9):
        budget.done()
    await spend_all(budget, Priority.LIST, 1)  # the reserve's token is still there


async def test_a_wave_spends_from_the_bucket_replicas_share() -> None:
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    layer = RedisLayer.from_url(REDIS_URL, namespace=namespace)
    try:
        budget = Budget("opensea:k", Rate(4, 3600), RedisBuckets(layer))
        calls = [budget.spend(Priority.LIST, soon(0.3)) for _ in range(6)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert sum(isinstance(outcome, OverBudget) for outcome in outcomes) == 2
        other = Budget("opensea:k", Rate(4, 3600), RedisBuckets(layer))  # another replica
        with pytest.raises(OverBudget):
            await other.spend(Priority.LIST, soon(0.3))
    finally:
        await layer.delete(cache_key("budget", "opensea:k"))  # the test's one key
        await layer.close()


async def test_a_token_taken_for_a_caller_that_left_goes_to_the_next() -> None:
    store = RoundTripStore()
    budget = Budget("b", Rate(3, 3600), store)
    first = asyncio.create_task(budget.spend(Priority.LIST, soon(1)))
    await asyncio.sleep(0)  # its take is on its way; two more line up behind it
    second = asyncio.create_task(budget.spend(Priority.LIST, soon(1)))
    hasty = asyncio.create_task(budget.spend(Priority.LIST, soon(0.015)))
    await first  # the second takes for both; the hasty one's deadline passes meanwhile
    with pytest.raises(OverBudget):
        await hasty
    await second
    await budget.spend(Priority.LIST, soon(0.2))  # spends the token taken for the hasty one
    assert store.takes == 2
    with pytest.raises(OverBudget):
        await budget.spend(Priority.LIST, soon(0.2))  # three calls, three tokens


class HeldRedis:
    """The Redis layer's script calls, each held until released (a Redis that is slow to
    answer), their operations recorded."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.operations: list[str] = []

    async def script(self, source: str, keys: list[str], *args: str) -> list[object]:
        self.operations.append(args[2])
        await self.released.wait()
        return [0, "0", "5"]


async def test_with_redis_a_count_is_corrected_behind_the_answer_a_spent_quota_before_it() -> None:
    redis = HeldRedis()
    budget = Budget("b", Rate(600, 3600), RedisBuckets(redis))  # type: ignore[arg-type]
    async with asyncio.timeout(5):  # a guard against hanging, not a measurement
        await budget.observe({"x-ratelimit-remaining": "97"}, 200)  # not held by the write
    await asyncio.sleep(0)
    assert redis.operations == ["correct"]  # on its way
    reset = str(int(time.time()) + 60)
    spent = asyncio.create_task(
        budget.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}, 429)
    )
    for _ in range(10):
        await asyncio.sleep(0)
    assert not spent.done()  # the hold is stored before the answer goes on
    redis.released.set()
    await spent
    assert redis.operations == ["correct", "correct"]


async def test_without_redis_the_bucket_lives_in_memory() -> None:
    dead = RedisLayer.from_url("redis://127.0.0.1:1/13")
    try:
        budget = Budget("b", Rate(2, 3600), RedisBuckets(dead))
        await spend_all(budget, Priority.LIST, 2)
        with pytest.raises(OverBudget):
            await budget.spend(Priority.LIST, soon(0.5))
    finally:
        await dead.close()


async def test_the_guard_reports_a_spent_budget_and_counts_only_calls_made() -> None:
    budget = Budget("p", Rate(1, 3600), MemoryBuckets())
    guards = ProviderGuards(GuardPolicy(), budgets={"p": budget})
    meter = CallMeter()

    async def fetch() -> str:
        return "ok"

    assert await guards.call("p", "detail", fetch, priority=Priority.LIST, meter=meter) == "ok"
    with pytest.raises(BudgetSpent) as raised:
        await guards.call("p", "detail", fetch, priority=Priority.DETAIL, meter=meter)
    assert raised.value.kind == "budget"
    assert meter.counts == {"p": 1}


class CountingStore(MemoryBuckets):
    """The memory store, counting the corrections written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.corrections = 0

    async def correct(self, name: str, rate: Rate, tokens: float | None, hold: float) -> None:
        self.corrections += 1
        await super().correct(name, rate, tokens, hold)


async def test_a_count_the_bucket_agrees_with_writes_nothing_and_a_lower_one_corrects() -> None:
    store = CountingStore()
    budget = Budget("b", Rate(600, 3600), store)
    for _ in range(3):
        await budget.spend(Priority.LIST, soon(1))  # three calls in flight: 597 left
    # The upstream has counted none, one, or all three of them: the bucket agrees.
    for remaining in ("600", "599", "597"):
        await budget.observe({"x-ratelimit-remaining": remaining}, 200)
    assert store.corrections == 0
    # Another client of the same key spent 500: the bucket takes the upstream's word.
    await budget.observe({"x-ratelimit-remaining": "97"}, 200)
    assert store.corrections == 1
    for _ in range(3):
        budget.done()
    await spend_all(budget, Priority.LIST, 94)
    with pytest.raises(OverBudget):
        await budget.spend(Priority.LIST, soon(1))


async def test_a_quota_larger_than_the_bucket_keeps_it_full_with_few_writes() -> None:
    store = CountingStore()
    budget = Budget("b", Rate(3, 3600), store)  # the instant key's figure, a paid key's plan
    for call in range(12):  # four times the bucket: the upstream's count keeps refilling it
        await budget.spend(Priority.LIST, soon(0.5))
        await budget.observe({"x-ratelimit-remaining": str(99_999 - call)}, 200)
        budget.done()
    assert budget.tokens <= 3  # what the metrics report: the bucket, not the plan
    assert store.corrections < 12  # only when the bucket had fallen behind the count
