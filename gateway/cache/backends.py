"""The two storage layers of the shared cache, and their one serializer.

* :class:`BoundedMemoryCache` (always): an ordered dict of JSON bytes, bounded by entries
  *and* bytes with least-recently-used eviction, expired lazily on access. Synchronous: a
  dict operation neither waits nor fails. It was an aiocache backend once; aiocache wraps
  every call in three decorators (one reads ``os.environ``), 4-8 us a call, and a cold
  page makes some 140 of them before and between its upstream calls.
* :class:`RedisLayer` (when ``NFTGW_REDIS_URL`` is set): aiocache's own
  :class:`aiocache.RedisCache` over a blocking connection pool. What aiocache lacks is kept
  here by hand: a short op timeout (100 ms, not aiocache's 5 s) measured against the call
  rather than the event loop's lag (:func:`within_call_deadline`; aiocache's ``wait_for``
  spawns a task per operation, a loop hop that delays every write and lease release), after
  which a failed or slow Redis is a fallback
  (to the memory layer, or a miss), never an error, and is left alone for a second before
  the next try; and one read returns a value together with its remaining life (a Lua
  ``GET`` + ``PTTL``), so a Redis hit is copied into memory for exactly as long as it lives.

:class:`JsonBytes` is the one serializer of both layers: orjson, never pickle, so a reader
can never mutate a stored value and the same bytes travel between layers unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from aiocache import RedisCache
from aiocache.serializers import BaseSerializer
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import UnixDomainSocketConnection, parse_url
from redis.exceptions import RedisError

from gateway.cache.keys import namespaced

__all__ = ["UNAVAILABLE", "BoundedMemoryCache", "JsonBytes", "RedisLayer", "Unavailable"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Writes, heartbeats and releases run off the request path and may take this many op
# timeouts: under a burst the event loop itself can lag past 100 ms.
BACKGROUND_TIMEOUT_FACTOR = 10

# A deadline timer that fires later than this share of the op timeout past its time says
# the event loop was busy elsewhere: the operation is given another op timeout (at most
# MAX_LAG_EXTENSIONS times) instead of failing for the loop's lag (issue 16: ~2,600 false
# "redis unavailable" warnings under a burst while Redis answered in a millisecond).
LAG_TOLERANCE = 0.25
MAX_LAG_EXTENSIONS = 3
# One "redis unavailable" warning per this many seconds, with the count of the others.
WARNING_INTERVAL = 10.0

# Keys read in one round trip: each one's bytes and remaining life (false, -2 when missing).
_GET_MANY_WITH_TTL = """
local found = {}
for i, key in ipairs(KEYS) do
  found[2 * i - 1] = redis.call('get', key)
  found[2 * i] = redis.call('pttl', key)
end
return found
"""
# Keys written in one round trip, each with its own life: ARGV holds bytes, ms pairs.
_SET_EACH = """
for i, key in ipairs(KEYS) do
  redis.call('psetex', key, ARGV[2 * i], ARGV[2 * i - 1])
end
return #KEYS
"""


class JsonBytes(BaseSerializer):  # type: ignore[misc]
    """JSON as bytes (orjson) in, Python values out; ``None`` for bytes that are not JSON
    (a stored value that does not decode is a miss, never an error)."""

    DEFAULT_ENCODING = None  # bytes both ways: aiocache then never decodes what Redis returns

    def dumps(self, value: Any) -> bytes:
        """``value`` as JSON in a right-sized bytes object. orjson hands back its whole
        growth buffer (a 1.3 KB record holds 8 KB, a 40 KB value 2 MB): kept for a TTL,
        that would put the memory layer far past its byte budget, which counts ``len``."""
        return bytes(memoryview(orjson.dumps(value)))  # bytes(b) would return b itself

    def loads(self, value: bytes | None) -> Any:
        if value is None:
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            logger.warning("a cache entry is not JSON: treated as a miss")
            return None


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires_at: float
    size: int


class BoundedMemoryCache:
    """JSON bytes by key in an ordered dict: LRU-evicted past ``max_entries`` or
    ``max_bytes`` (each entry counts its ``len``), expired lazily on access."""

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> bytes | None:
        """The bytes stored under ``key``; ``None`` when missing or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)  # most recently used goes last
        return entry.value

    def set(self, key: str, value: bytes, ttl: float) -> bool:
        """Keep ``value`` for ``ttl`` seconds; ``False`` when it alone exceeds the byte
        budget (then nothing is kept under ``key``)."""
        self._drop(key)
        size = len(value)
        if size > self.max_bytes:
            return False
        self._entries[key] = _Entry(value, time.monotonic() + ttl, size)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def delete(self, key: str) -> bool:
        return self._drop(key)

    def _drop(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self.bytes -= entry.size
        return True


def _blocking_pool(**options: Any) -> BlockingConnectionPool:
    """A blocking pool: a burst waits (within the op timeout) for a free connection instead
    of failing at once. aiocache passes a host and port even for a ``unix://`` URL, whose
    connections take a path instead."""
    if options.get("connection_class") is UnixDomainSocketConnection:
        options.pop("host", None)
        options.pop("port", None)
    return BlockingConnectionPool(**options)


class Unavailable:
    """Redis did not answer in time (or at all): fall back, do not fail."""


UNAVAILABLE = Unavailable()


class RedisLayer:
    """The shared layer: aiocache's :class:`~aiocache.RedisCache` with a short timeout per
    operation and a fallback instead of an exception.

    Every method returns :data:`UNAVAILABLE` (or ``False``) instead of raising when Redis
    is down, slow or refuses; after a failure Redis is skipped for ``retry_interval``
    seconds so a dead Redis costs one timeout per interval, not one per operation. Keys
    are the gateway's cache keys; the backend's namespace is added here.
    """

    def __init__(
        self, cache: RedisCache, *, op_timeout: float = 0.1, retry_interval: float = 1.0
    ) -> None:
        self._cache = cache
        self._op_timeout = op_timeout
        self._retry_interval = retry_interval
        self._slow_since: float | None = None  # first timeout since the last success
        self._down_until = 0.0
        self._warned_at = -WARNING_INTERVAL
        self._unwarned = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "nftgw",
        op_timeout: float = 0.1,
        max_connections: int = 64,
    ) -> RedisLayer:
        options = dict(parse_url(url))
        backstop = op_timeout * BACKGROUND_TIMEOUT_FACTOR
        cache = RedisCache(
            serializer=JsonBytes(),
            namespace=namespace,
            key_builder=namespaced,
            timeout=None,  # enforced by ``_run`` (see the module docstring)
            endpoint=options.pop("host", "127.0.0.1"),
            port=options.pop("port", 6379),
            db=options.pop("db", 0),
            password=options.pop("password", None),
            pool_max_size=max_connections,
            create_connection_timeout=op_timeout,
            connection_pool_class=_blocking_pool,
            # redis-py's own timeouts are event-loop timers too: they are only a backstop
            # here, the op deadline (within_call_deadline) decides.
            connection_pool_kwargs={**options, "timeout": backstop, "socket_timeout": backstop},
        )
        return cls(cache, op_timeout=op_timeout)

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def key(self, key: str) -> str:
        """``key`` as stored in Redis (with the namespace)."""
        full: str = self._cache.build_key(key, namespace=self._cache.namespace)
        return full

    async def get_many_with_ttl(
        self, keys: Sequence[str]
    ) -> list[tuple[bytes | None, float]] | Unavailable:
        """The stored bytes of each of ``keys`` (``None`` where none) and their remaining
        life in seconds, all in one round trip."""
        found = await self.script(_GET_MANY_WITH_TTL, keys)
        if isinstance(found, Unavailable):
            return found
        return [
            (raw, max(0.0, millis / 1000))
            for raw, millis in zip(found[::2], found[1::2], strict=True)
        ]

    async def set_each(
        self, entries: Sequence[tuple[str, bytes, float]], *, background: bool = False
    ) -> bool:
        """Store each ``(key, bytes, ttl)`` of ``entries`` (``PSETEX``, the TTL in ms), all
        in one round trip; False when Redis did not answer. ``background``: off the request
        path, so it may take longer than the op timeout (a lost write would make another
        replica fetch again)."""
        args: list[bytes | str] = []
        for _, raw, ttl in entries:
            args += [raw, str(max(1, math.ceil(ttl * 1000)))]  # at least 1 ms
        keys = [key for key, _, _ in entries]
        result = await self.script(_SET_EACH, keys, *args, background=background)
        return not isinstance(result, Unavailable)

    async def delete(self, key: str) -> bool:
        """Forget ``key`` (``DEL``); False when Redis did not answer."""
        result = await self._run(lambda: self._cache.delete(key))
        return not isinstance(result, Unavailable)

    async def script(
        self,
        source: str,
        keys: Sequence[str],
        *args: str | int | bytes,
        background: bool = False,
    ) -> Any:
        """Run a Lua script over cache keys (namespaced here) through aiocache's ``raw``."""
        full = [self.key(key) for key in keys]
        return await self._run(
            lambda: self._cache.raw("eval", source, len(full), *full, *args),
            background=background,
        )

    async def open_connections(self, count: int) -> int:
        """Open ``count`` pooled connections side by side (or as many as Redis takes within
        the background timeout), so that the first requests' commands find them open: each
        costs its opener a few round trips (``HELLO``, ``CLIENT SETINFO``, ``SELECT``), and
        a cold page has several commands in flight at once. Returns how many opened; never
        raises (a Redis that is down is found by the first operation, as ever)."""
        pool = self._cache.client.connection_pool
        timeout = self._op_timeout * BACKGROUND_TIMEOUT_FACTOR
        opened = await asyncio.gather(
            *(within_call_deadline(pool.get_connection(), timeout) for _ in range(count)),
            return_exceptions=True,
        )
        connections = [one for one in opened if not isinstance(one, BaseException)]
        for connection in connections:
            await pool.release(connection)
        return len(connections)

    async def close(self) -> None:
        # Not ``RedisCache.close()``: aiocache 0.12 calls redis-py's deprecated ``close``.
        await self._cache.client.aclose()

    async def _run(
        self, operation: Callable[[], Awaitable[Any]], *, background: bool = False
    ) -> Any:
        if not self.available:
            return UNAVAILABLE
        timeout = self._op_timeout * (BACKGROUND_TIMEOUT_FACTOR if background else 1)
        try:
            result = await within_call_deadline(operation(), timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self._note_failure(exc)
            return UNAVAILABLE
        self._slow_since = None
        return result

    def _note_failure(self, exc: BaseException) -> None:
        """A refused connection means down. A timeout may be one slow moment (or this
        process's own event loop lagging under a burst), so only timeouts without a single
        success for ``retry_interval`` seconds make us skip Redis for a while."""
        now = time.monotonic()
        if isinstance(exc, TimeoutError):
            self._slow_since = self._slow_since or now
            down = now - self._slow_since >= self._retry_interval
        else:
            down = True
        if down:
            self._down_until = now + self._retry_interval
        if now - self._warned_at < WARNING_INTERVAL:
            self._unwarned += 1
            return
        more = f" ({self._unwarned} more since the last warning)" if self._unwarned else ""
        self._warned_at, self._unwarned = now, 0
        logger.warning("redis unavailable (%s): using the memory layer%s", type(exc).__name__, more)


async def within_call_deadline(operation: Awaitable[T], timeout: float) -> T:
    """``await operation``, :class:`TimeoutError` once it has had ``timeout`` seconds.

    Seconds of the operation, not of the event loop: ``asyncio.timeout`` alone fails an
    operation whose reply arrived in time but was not read because the loop was busy with
    other requests. Here the deadline timer checks how late it fired itself: late by more
    than :data:`LAG_TOLERANCE` of the timeout means the loop was lagging, so the operation
    gets another ``timeout`` (at most :data:`MAX_LAG_EXTENSIONS` times); on time means
    the wait was real, and the operation is cancelled on the loop's next turn (a reply read
    in this very turn still wins)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as scope:
        timer: list[asyncio.TimerHandle] = []  # the armed deadline timer, for cancelling
        extensions = 0

        def on_due(due: float) -> None:
            nonlocal extensions
            now = loop.time()
            if now - due > LAG_TOLERANCE * timeout and extensions < MAX_LAG_EXTENSIONS:
                extensions += 1
                timer[0] = loop.call_at(now + timeout, on_due, now + timeout)
            else:
                scope.reschedule(now)

        due = loop.time() + timeout
        timer.append(loop.call_at(due, on_due, due))
        try:
            return await operation
        finally:
            timer[0].cancel()
