"""Single-flight: one fetch per key, in this process and across replicas.

* In process, :class:`InFlight`: concurrent callers with the same key share one future.
* Across replicas, :class:`Leases`: the first caller takes a lease (``SET NX PX``, the lease
  >= the request deadline, released only by its own token) and heartbeats it; the others
  poll for the value with a deadline. A leader that dies (even by SIGKILL) stops
  heartbeating and another replica takes over within about a second; a waiter that runs
  out of patience fetches for itself, so nobody is wedged.

Hand-written because aiocache has no equivalent: its ``RedLock`` has neither a heartbeat
(a lease must outlive a slow leader yet free up soon after a dead one) nor a way to wait
for the *value* on another replica, and its ``cached_stampede`` holds a lock per call
without a deadline. The Lua scripts run through the Redis layer (aiocache's ``raw``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.cache.backends import RedisLayer, Unavailable

__all__ = ["InFlight", "Lease", "Leases"]

T = TypeVar("T")
# What a replica stored under a key: (key, bytes, seconds to live) -> the value, or None.
Stored = Callable[[str, bytes, float], Awaitable[Any]]

# Waiters poll for another replica's value starting this often, backing off to the max.
POLL_MIN_SECONDS = 0.02
POLL_MAX_SECONDS = 0.2

# The value if another replica stored it (KEYS[3], when ARGV[4] is "1"): {0, bytes, ms to
# live}. Else the lease if it is free, or its holder stopped heartbeating (the beat key
# expired): {1} or {2}; {0} while another replica holds it. One round trip either way.
_ACQUIRE = """
if ARGV[4] == '1' then
  local value = redis.call('get', KEYS[3])
  if value then
    return {0, value, redis.call('pttl', KEYS[3])}
  end
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[3])
  return {1}
end
if redis.call('exists', KEYS[2]) == 0 then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[3])
  return {2}
end
return {0}
"""
_HEARTBEAT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1], KEYS[2])
end
return 0
"""


class InFlight:
    """One future per key in this process: the first caller leads, the rest join it."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[Any]] = {}

    def pending(self, key: str) -> asyncio.Future[Any] | None:
        """The future of a fetch in flight for ``key`` (await it shielded), or ``None``."""
        return self._futures.get(key)

    async def lead(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` as the one fetch for ``key``; joiners get its result or exception."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._futures[key] = future
        try:
            result = await work()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: joiners re-raise it themselves
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._futures.pop(key, None)


class Lease:
    """The right to fetch one key for every replica; :meth:`release` hands it back.

    ``owned`` is False for a local-only lease (no Redis, or Redis down, or a waiter that
    gave up waiting): the holder fetches, but other replicas were not told.
    """

    def __init__(
        self,
        redis: RedisLayer | None,
        lock: str,
        beat: str,
        token: str,
        *,
        owned: bool,
        beat_every: float,
    ) -> None:
        self._redis = redis
        self._lock, self._beat, self._token = lock, beat, token
        self.owned = owned
        self._beat_every = beat_every
        self._heart: asyncio.Task[None] | None = None
        if owned and redis is not None:
            self._heart = asyncio.create_task(self._heartbeat(redis))

    async def release(self) -> None:
        if self._heart is not None:
            self._heart.cancel()
            self._heart = None
        if self.owned and self._redis is not None:
            self.owned = False
            await self._redis.script(
                _RELEASE, [self._lock, self._beat], self._token, background=True
            )

    async def _heartbeat(self, redis: RedisLayer) -> None:
        beat_ttl = _millis(self._beat_every * 3)
        while True:
            await asyncio.sleep(self._beat_every)
            await redis.script(
                _HEARTBEAT, [self._lock, self._beat], self._token, beat_ttl, background=True
            )


class Leases:
    """Cross-replica leases over the Redis layer (local-only leases without one).

    ``lease_seconds`` bounds how long a leader may hold a key (>= the request deadline);
    ``wait_seconds`` is how long a waiter polls for another replica's value before it
    fetches for itself; ``heartbeat_seconds`` is how often a leader says it is alive.
    """

    def __init__(
        self,
        redis: RedisLayer | None,
        *,
        lease_seconds: float,
        wait_seconds: float,
        heartbeat_seconds: float,
    ) -> None:
        self._redis = redis
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._heartbeat_seconds = heartbeat_seconds

    async def lead_or_wait(
        self, key: str, stored: Stored, *, wait: float | None
    ) -> tuple[Any, Lease | None]:
        """``(value, None)`` when another replica stored ``key``'s value, else ``(None,
        lease)``; after ``wait`` (default ``wait_seconds``) a local lease. ``stored`` turns
        the bytes Redis holds and their remaining life (seconds) into the value, ``None``
        for bytes that are not one (then the lease is taken all the same). Each try is one
        round trip: the value if it is there, else the lease if it is free. Without Redis,
        a local lease at once (the caller has read its memory)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + (self._wait_seconds if wait is None else wait)
        delay = POLL_MIN_SECONDS
        peek = True
        while True:
            lease, found = await self._try_lease(key, peek=peek)
            if found is not None:
                value = await stored(key, *found)
                if value is not None:
                    return value, None
                peek = False  # not a value: lead, as if nothing were stored
                continue
            if lease is not None:
                return None, lease
            if loop.time() + delay >= give_up:
                return None, self.local(key)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX_SECONDS)

    def local(self, key: str) -> Lease:
        return Lease(None, key, key, "", owned=False, beat_every=self._heartbeat_seconds)

    async def _try_lease(
        self, key: str, *, peek: bool
    ) -> tuple[Lease | None, tuple[bytes, float] | None]:
        """The lease, or the value's bytes and remaining life (``peek``: when stored), or
        neither (another replica leads, or one slow answer)."""
        if self._redis is None:
            return self.local(key), None
        lock, beat, token = "lock:" + key, "beat:" + key, secrets.token_hex(16)
        answer = await self._redis.script(
            _ACQUIRE,
            [lock, beat, key],
            token,
            _millis(self._lease_seconds),
            _millis(self._heartbeat_seconds * 3),
            "1" if peek else "0",
        )
        if isinstance(answer, Unavailable):
            # One slow answer: ask again on the next poll. Redis down: fetch locally.
            return (None if self._redis.available else self.local(key)), None
        if len(answer) == 3:
            return None, (answer[1], max(0.0, answer[2] / 1000))
        if not answer[0]:
            return None, None
        lease = Lease(
            self._redis, lock, beat, token, owned=True, beat_every=self._heartbeat_seconds
        )
        return lease, None


def _millis(seconds: float) -> int:
    return max(1, int(seconds * 1000))
