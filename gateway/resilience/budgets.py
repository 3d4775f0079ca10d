"""Per provider and key, a budget of upstream calls: a token bucket every replica shares.

Upstream quotas are per key, not per process: OpenSea's instant key allows 600 reads an
hour, Alchemy meters compute units a second, Etherscan allows 2 name-tag calls a second.
A :class:`Budget` spends one token per upstream call from a bucket of ``rate.count``
tokens refilled at ``rate.count / rate.period`` a second (``NFTGW_<PROVIDER>_RATE``),

* kept in Redis when configured (one Lua script takes or corrects atomically, on Redis's
  clock, so every replica spends from the same bucket), in memory otherwise or while
  Redis is unreachable;
* spent by priority: callers wait in line by :class:`~gateway.resilience.queue.Priority`,
  and every priority but the list calls of requested wallets leaves a reserve in the
  bucket (a share of its size), so detail calls of one replica never spend what another
  replica's list calls need next;
* taken for the line at once: the caller at its head takes a token for every caller of
  its priority waiting behind it in one store call (with Redis, one round trip for a
  wave of calls rather than one each in turn);
* corrected by what the upstream says (OpenSea's docs: read the headers rather than
  hard-code limits): ``X-RateLimit-Remaining`` sets the tokens (minus the calls still in
  flight here, at most the bucket's size), and a remaining count of 0 holds the bucket
  until ``X-RateLimit-Reset`` (or ``Retry-After``), so no second 429 lands in that window.
  A count the bucket already agrees with costs no store write (with Redis, a round trip
  per answer); one it does not is written to Redis behind the answer, a spent quota before
  the answer goes on.

A caller whose turn cannot come before its deadline is told so at once
(:class:`OverBudget`, with the estimate): the page is then served without that call and
says why (``errorKind`` ``budget``) instead of waiting for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import itertools
import math
import time
from collections.abc import Mapping
from typing import Protocol

from gateway.cache.backends import RedisLayer, Unavailable
from gateway.cache.shared import cache_key
from gateway.resilience.queue import Priority
from gateway.settings import Rate

__all__ = [
    "RESERVE_SHARE",
    "Budget",
    "BucketStore",
    "MemoryBuckets",
    "OverBudget",
    "RedisBuckets",
    "budget_name",
]

# The share of the bucket each priority must leave for the ones before it.
RESERVE_SHARE: Mapping[Priority, float] = {
    Priority.LIST: 0.0,
    Priority.DETAIL: 0.1,
    Priority.COLLECTION: 0.1,
    Priority.OWNERS: 0.2,
    Priority.BACKGROUND: 0.3,
}
# Values of X-RateLimit-Reset above this are Unix times, smaller ones delays in seconds.
_EPOCH_THRESHOLD = 1_000_000_000


class OverBudget(Exception):
    """The budget cannot pay for this call before its deadline (``wait``: the estimate)."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"no budget for {wait:.0f}s")
        self.wait = wait


def budget_name(provider: str, key: str | None) -> str:
    """The bucket of ``provider`` and its key; the key only as a short digest."""
    digest = hashlib.sha256((key or "").encode()).hexdigest()[:12]
    return f"{provider}:{digest}"


class BucketStore(Protocol):
    """Where buckets live. Times are Unix seconds."""

    async def take(
        self, name: str, rate: Rate, reserve: float, count: int
    ) -> tuple[int, float, float]:
        """Take up to ``count`` tokens, each only while more than ``reserve`` are left:
        ``(tokens taken, tokens left, wait)``, ``wait`` the seconds until one could be
        taken when none was (else 0)."""
        ...

    async def correct(self, name: str, rate: Rate, tokens: float | None, hold: float) -> None:
        """Set the tokens to ``tokens`` (when given) and take none before ``hold``."""
        ...


class MemoryBuckets:
    """Buckets of this process only."""

    def __init__(self) -> None:
        self._buckets: dict[str, list[float]] = {}  # name -> [tokens, updated, hold]

    def _refilled(self, name: str, rate: Rate, now: float) -> list[float]:
        bucket = self._buckets.setdefault(name, [float(rate.count), now, 0.0])
        bucket[0] = min(float(rate.count), bucket[0] + max(0.0, now - bucket[1]) * rate.per_second)
        bucket[1] = now
        return bucket

    async def take(
        self, name: str, rate: Rate, reserve: float, count: int
    ) -> tuple[int, float, float]:
        now = time.time()
        bucket = self._refilled(name, rate, now)
        if now < bucket[2]:
            return 0, bucket[0], bucket[2] - now
        if bucket[0] >= reserve + 1:
            taken = min(count, math.floor(bucket[0] - reserve))
            bucket[0] -= taken
            return taken, bucket[0], 0.0
        return 0, bucket[0], (reserve + 1 - bucket[0]) / rate.per_second

    async def correct(self, name: str, rate: Rate, tokens: float | None, hold: float) -> None:
        bucket = self._refilled(name, rate, time.time())
        if tokens is not None:
            bucket[0] = min(float(rate.count), max(0.0, tokens))
        bucket[2] = max(bucket[2], hold)


# One bucket as a Redis hash {tokens, ts, hold}, refilled and spent on Redis's own clock.
# ARGV: capacity, tokens a second, op ("take" | "correct"), then for take the reserve and
# the most tokens to take, for correct the new token count (-1: keep) and the hold time
# (Unix seconds). Answers {tokens taken, seconds to wait, tokens left}.
_BUCKET_LUA = """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'hold')
local tokens = tonumber(s[1]) or cap
local ts = tonumber(s[2]) or now
local hold = tonumber(s[3]) or 0
if now > ts then tokens = math.min(cap, tokens + (now - ts) * rate) end
local wait = 0
local taken = 0
if ARGV[3] == 'take' then
  local reserve = tonumber(ARGV[4])
  if now < hold then
    wait = hold - now
  elseif tokens >= reserve + 1 then
    taken = math.min(tonumber(ARGV[5]), math.floor(tokens - reserve))
    tokens = tokens - taken
  else
    wait = (reserve + 1 - tokens) / rate
  end
else
  local set = tonumber(ARGV[4])
  if set >= 0 then tokens = math.min(cap, set) end
  hold = math.max(hold, tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now), 'hold', tostring(hold))
redis.call('PEXPIRE', KEYS[1], math.ceil((cap / rate + math.max(0, hold - now)) * 1000) + 1000)
return {taken, tostring(wait), tostring(tokens)}
"""


class RedisBuckets:
    """Buckets in Redis, shared by every replica; in memory while Redis does not answer."""

    def __init__(self, redis: RedisLayer) -> None:
        self._redis = redis
        self._fallback = MemoryBuckets()
        self._writes: set[asyncio.Task[None]] = set()  # count corrections on their way

    async def take(
        self, name: str, rate: Rate, reserve: float, count: int
    ) -> tuple[int, float, float]:
        found = await self._run(name, rate, "take", str(reserve), str(count))
        if found is None:
            return await self._fallback.take(name, rate, reserve, count)
        return found

    async def correct(self, name: str, rate: Rate, tokens: float | None, hold: float) -> None:
        """A spent quota (a hold, or no tokens left) is stored before this returns, so no
        take after it can miss it; a count is written behind (the upstream's answer it came
        with is read meanwhile, not a round trip later)."""
        write = self._correct(name, rate, tokens, hold)
        if hold or tokens is not None and tokens <= 0:
            await write
            return
        behind = asyncio.create_task(write)
        self._writes.add(behind)
        behind.add_done_callback(self._writes.discard)

    async def _correct(self, name: str, rate: Rate, tokens: float | None, hold: float) -> None:
        set_to = "-1" if tokens is None else str(max(0.0, tokens))
        if await self._run(name, rate, "correct", set_to, str(hold)) is None:
            await self._fallback.correct(name, rate, tokens, hold)

    async def _run(self, name: str, rate: Rate, *args: str) -> tuple[int, float, float] | None:
        found = await self._redis.script(
            _BUCKET_LUA, [cache_key("budget", name)], str(rate.count), str(rate.per_second), *args
        )
        if isinstance(found, Unavailable):
            return None
        taken, wait, tokens = found
        return int(taken), float(tokens), float(wait)


class Budget:
    """One provider's budget: its bucket, and the line of calls waiting to spend from it."""

    def __init__(self, name: str, rate: Rate, store: BucketStore) -> None:
        self.name = name
        self.rate = rate
        self._store = store
        self._line: list[tuple[int, int, object]] = []  # (priority, arrival, caller)
        self._arrivals = itertools.count()
        self._paid: set[object] = set()  # callers in line a take at the head paid for
        self._spare = 0  # tokens taken for callers that left the line before their turn
        self._changed = asyncio.Event()
        self._in_flight = 0
        self.tokens = float(rate.count)  # the last level seen (for metrics and estimates)

    async def spend(self, priority: Priority, deadline: float) -> None:
        """One token, in priority order, before ``deadline`` (loop time), or
        :class:`OverBudget` as soon as the bucket says the wait is longer and no call in
        flight may still correct it (its answer's headers could refill the bucket)."""
        loop = asyncio.get_running_loop()
        reserve = RESERVE_SHARE[priority] * self.rate.count
        caller = object()
        entry = (int(priority), next(self._arrivals), caller)
        heapq.heappush(self._line, entry)
        try:
            while True:
                wait = deadline - loop.time()
                if self._line[0] is entry and caller not in self._paid:
                    wait = await self._take_for_line(entry, reserve)
                if caller in self._paid:
                    self._paid.discard(caller)
                    return
                head = self._line[0] is entry
                if head and loop.time() + wait > deadline and self._in_flight == 0:
                    raise OverBudget(wait)
                left = deadline - loop.time()
                if left <= 0:
                    raise OverBudget(wait)
                changed = self._changed
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(wait, left)):
                        await changed.wait()
        finally:
            self._line.remove(entry)
            heapq.heapify(self._line)
            if caller in self._paid:  # paid for, then gone (a deadline, a cancellation)
                self._paid.discard(caller)
                self._in_flight -= 1
                self._spare += 1
            self._signal()

    async def _take_for_line(self, head: tuple[int, int, object], reserve: float) -> float:
        """Pay for ``head`` and every caller of its priority behind it, in line order: from
        the spare tokens, else in one store call. Returns the store's wait when it could
        pay for none."""
        if self._spare:  # paid for by a caller that left: no store call
            self._spare -= 1
            self._pay([head[2]])
            return 0.0
        group = [entry for entry in sorted(self._line) if entry[0] == head[0]]
        taken, self.tokens, wait = await self._store.take(self.name, self.rate, reserve, len(group))
        still = [entry[2] for entry in group if entry in self._line]  # some may have left
        self._pay(still[:taken])
        self._spare += max(0, taken - len(still))
        return wait

    def _pay(self, callers: list[object]) -> None:
        self._paid.update(callers)
        self._in_flight += len(callers)
        if len(callers) > 1:
            self._signal()  # wake the others paid for

    def done(self) -> None:
        """The paid call has its answer (the upstream counted it), or was not made."""
        self._in_flight = max(0, self._in_flight - 1)
        self._signal()

    async def observe(self, headers: Mapping[str, str], status: int) -> None:
        """Correct the bucket from an upstream answer's ``X-RateLimit-*`` headers
        (``Retry-After`` tells the reset when ``X-RateLimit-Reset`` does not)."""
        remaining = _number(headers.get("x-ratelimit-remaining"))
        # Only a spent quota holds everyone: a 429 that leaves quota (the platform is
        # loaded) defers the kind of call it answered, in the guard's cool-down.
        hold = _reset_time(headers) if remaining == 0 else 0.0
        if remaining is None and hold == 0.0:
            return
        if hold == 0.0 and remaining is not None and self._agrees(remaining):
            return  # nothing to correct: no store write
        tokens = None if remaining is None else remaining - self._in_flight
        await self._store.correct(self.name, self.rate, tokens, hold)
        if tokens is not None:
            self.tokens = min(float(self.rate.count), max(0.0, tokens))  # as the store keeps it
        self._signal()

    def _agrees(self, remaining: float) -> bool:
        """Whether the upstream's ``remaining`` count is what the bucket already says: at
        least its level at our last take (less a token of rounding: the bucket refills in
        fractions), at most that level plus the calls in flight here (the upstream may or
        may not have counted them yet); a count above the bucket's size reads as its size.
        Spending this replica did not see (another replica's, another client's of the key)
        shows as a count below that, a new quota window or a larger plan as one above it:
        both are corrected."""
        counted = min(remaining, self.rate.count)  # a bucket holds no more than its size
        return self.tokens - 1 <= counted <= self.tokens + self._in_flight + 1

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def _number(value: str | None) -> float | None:
    text = (value or "").strip()
    return float(text) if text.isascii() and text.isdigit() else None


def _reset_time(headers: Mapping[str, str]) -> float:
    """When the upstream's window resets (Unix time), from ``X-RateLimit-Reset`` or
    ``Retry-After`` (seconds); 0 when neither says."""
    now = time.time()
    reset = _number(headers.get("x-ratelimit-reset"))
    if reset is not None:
        return reset if reset > _EPOCH_THRESHOLD else now + reset
    retry_after = _number(headers.get("retry-after"))
    return now + retry_after if retry_after is not None else 0.0
