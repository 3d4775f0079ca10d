"""The shared TTL cache: one key builder, one single-flight ``get_or_fetch``, two layers.

Values are stored as JSON bytes (orjson), never pickled, so a cached value can never be
mutated by a reader and the same bytes work on every backend. Every key is namespaced and
versioned (bump :data:`CACHE_VERSION` when a stored shape changes) and every entry has a
TTL. Failures are never cached: ``get_or_fetch`` stores only what ``fetch`` returned, and a
stored value that no longer decodes is a miss, not an error.

Layers:

* **Memory** (always): :class:`BoundedMemoryCache`, an aiocache backend bounded by entries
  *and* bytes with least-recently-used eviction (aiocache's own is unbounded and keeps a
  timer per key).
* **Redis** (when ``NFTGW_REDIS_URL`` is set): :class:`RedisLayer`, shared by every
  replica. Each operation has a short timeout (100 ms, not aiocache's 5 s); a failed or
  slow Redis falls back to the memory layer or to a miss, never to an error, and is left
  alone for a second before the next try.

Observability: an optional :class:`CacheObserver` (the app's metrics) hears every
``get_or_fetch`` and ``lead_or_wait`` lookup as a hit (a stored value: this process's,
Redis's or another replica's) or a miss (this caller fetched, or waited on a fetch in
flight), labelled with the key's kind (``detail``, ``snapshot``, ``dids``...).

Single-flight: concurrent callers in one process share one future; across replicas the
first caller takes a lease (``SET NX PX``, lease >= the request deadline, released by its
token) and heartbeats it, and the others poll for the value with a deadline. A leader that
dies (even by SIGKILL) stops heartbeating and another replica takes over within about a
second; a waiter that runs out of patience fetches for itself, so nobody is wedged.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson
from aiocache.base import BaseCache
from aiocache.serializers import NullSerializer
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from gateway.settings import Settings

__all__ = [
    "CACHE_VERSION",
    "BoundedMemoryCache",
    "CacheObserver",
    "Lease",
    "RedisLayer",
    "SharedCache",
    "build_shared_cache",
    "cache_key",
    "cache_kind",
]

logger = logging.getLogger(__name__)

# 2: collection facts carry ``ranked`` (gateway/codec.py).
CACHE_VERSION = 2
T = TypeVar("T")

# Writes, heartbeats and releases run off the request path and may take this many op
# timeouts: under a burst the event loop itself can lag past 100 ms.
BACKGROUND_TIMEOUT_FACTOR = 10
# Waiters poll for another replica's value starting this often, backing off to the max.
POLL_MIN_SECONDS = 0.02
POLL_MAX_SECONDS = 0.2

_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[3])
  return 1
end
if redis.call('exists', KEYS[2]) == 0 then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[3])
  return 2
end
return 0
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


def cache_key(kind: str, *parts: object) -> str:
    """``v2:kind:part:part``; parts must already be validated, normalised values."""
    return ":".join([f"v{CACHE_VERSION}", kind, *(str(part) for part in parts)])


def cache_kind(key: str) -> str:
    """The kind a :func:`cache_key` was built with (``other`` for a key of another shape):
    a bounded metrics label, never a part of the key's values."""
    version, _, rest = key.partition(":")
    kind = rest.partition(":")[0]
    return kind if version.startswith("v") and kind else "other"


class CacheObserver(Protocol):
    """Hears each lookup's outcome (the app's :class:`~gateway.http.observability.Metrics`)."""

    def cache_lookup(self, kind: str, hit: bool) -> None: ...


@dataclass(slots=True)
class _Entry:
    value: Any
    expires_at: float
    size: int


class BoundedMemoryCache(BaseCache):  # type: ignore[misc]
    """aiocache's template over an ordered dict: LRU-evicted past ``max_entries`` or
    ``max_bytes`` (values are the cache's JSON bytes), expired lazily on access."""

    NAME = "bounded-memory"

    def __init__(
        self, max_entries: int = 10_000, max_bytes: int = 256 * 1024 * 1024, **kwargs: Any
    ) -> None:
        super().__init__(serializer=NullSerializer(), **kwargs)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def _get(self, key: str, encoding: str = "utf-8", _conn: Any = None) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)  # most recently used goes last
        return entry.value

    async def _multi_get(self, keys: list[str], encoding: str = "utf-8", _conn: Any = None) -> Any:
        return [await self._get(key) for key in keys]

    async def _set(
        self, key: str, value: Any, ttl: Any = None, _cas_token: Any = None, _conn: Any = None
    ) -> Any:
        self._drop(key)
        size = len(value) if isinstance(value, bytes | str) else 64
        if size > self.max_bytes:
            return False  # bigger than the whole budget: not cached at all
        lifetime = float(ttl) if ttl else float("inf")
        self._entries[key] = _Entry(value, time.monotonic() + lifetime, size)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def _multi_set(self, pairs: Any, ttl: Any = None, _conn: Any = None) -> Any:
        for key, value in pairs:
            await self._set(key, value, ttl=ttl)
        return True

    async def _add(self, key: str, value: Any, ttl: Any = None, _conn: Any = None) -> Any:
        if await self._get(key) is not None:
            raise ValueError(f"Key {key} already exists, use .set to update the value")
        return await self._set(key, value, ttl=ttl)

    async def _exists(self, key: str, _conn: Any = None) -> bool:
        return await self._get(key) is not None

    async def _delete(self, key: str, _conn: Any = None) -> int:
        return 1 if self._drop(key) else 0

    async def _expire(self, key: str, ttl: Any, _conn: Any = None) -> bool:
        entry = self._entries.get(key)
        if entry is None:
            return False
        entry.expires_at = time.monotonic() + (float(ttl) if ttl else float("inf"))
        return True

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        for key in [k for k in self._entries if not namespace or k.startswith(namespace)]:
            self._drop(key)
        return True

    async def _redlock_release(self, key: str, value: Any) -> int:
        entry = self._entries.get(key)
        return 1 if entry is not None and entry.value == value and self._drop(key) else 0

    async def _close(self, *args: Any, **kwargs: Any) -> None:
        return None

    def _drop(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self.bytes -= entry.size
        return True


class _Unavailable:
    """Redis did not answer in time (or at all): fall back, do not fail."""


UNAVAILABLE = _Unavailable()


class RedisLayer:
    """The shared layer: ``redis.asyncio`` with a short timeout per operation.

    Every method returns :data:`UNAVAILABLE` (or ``False``) instead of raising when Redis
    is down, slow or refuses; after a failure Redis is skipped for ``retry_interval``
    seconds so a dead Redis costs one timeout per interval, not one per operation.
    """

    def __init__(
        self,
        client: Redis,
        *,
        op_timeout: float = 0.1,
        retry_interval: float = 1.0,
    ) -> None:
        self._client = client
        self._op_timeout = op_timeout
        self._retry_interval = retry_interval
        self._slow_since: float | None = None  # first timeout since the last success
        self._down_until = 0.0

    @classmethod
    def from_url(
        cls, url: str, *, op_timeout: float = 0.1, max_connections: int = 64
    ) -> RedisLayer:
        # A blocking pool: a burst waits (within the op timeout) for a free connection
        # instead of failing at once.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=op_timeout,
            socket_timeout=op_timeout,
            socket_connect_timeout=op_timeout,
        )
        return cls(Redis.from_pool(pool), op_timeout=op_timeout)  # the client owns the pool

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    async def get(self, key: str) -> bytes | None | _Unavailable:
        found: bytes | None | _Unavailable = await self._run(lambda: self._client.get(key))
        return found

    async def get_with_ttl(self, key: str) -> tuple[bytes | None, float] | _Unavailable:
        """The value and its remaining life in seconds (one round trip)."""

        async def both() -> tuple[bytes | None, float]:
            pipe = self._client.pipeline(transaction=False)
            pipe.get(key)
            pipe.pttl(key)
            value, millis = await pipe.execute()
            return value, max(0.0, millis / 1000)

        found: tuple[bytes | None, float] | _Unavailable = await self._run(both)
        return found

    async def set(self, key: str, value: bytes, ttl: float, *, background: bool = False) -> bool:
        """``background``: off the request path, so it may take longer than the op timeout
        (a lost write would make another replica fetch again)."""
        result = await self._run(
            lambda: self._client.set(key, value, px=_millis(ttl)), background=background
        )
        return result is True

    async def acquire(self, lock: str, beat: str, token: str, lease: float, beat_ttl: float) -> Any:
        """1 or 2 (taken: free, or its holder stopped heartbeating), 0, or UNAVAILABLE."""
        return await self._script(_ACQUIRE, lock, beat, token, _millis(lease), _millis(beat_ttl))

    async def heartbeat(self, lock: str, beat: str, token: str, beat_ttl: float) -> Any:
        return await self._script(_HEARTBEAT, lock, beat, token, _millis(beat_ttl), background=True)

    async def release(self, lock: str, beat: str, token: str) -> Any:
        return await self._script(_RELEASE, lock, beat, token, background=True)

    async def close(self) -> None:
        await self._client.aclose()

    async def _script(
        self, script: str, lock: str, beat: str, *args: str | int, background: bool = False
    ) -> Any:
        return await self._run(
            lambda: self._client.eval(script, 2, lock, beat, *args), background=background
        )

    async def _run(
        self, operation: Callable[[], Awaitable[Any]], *, background: bool = False
    ) -> Any:
        if not self.available:
            return UNAVAILABLE
        timeout = self._op_timeout * (BACKGROUND_TIMEOUT_FACTOR if background else 1)
        try:
            async with asyncio.timeout(timeout):
                result = await operation()
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
        logger.warning("redis unavailable (%s): using the memory layer", type(exc).__name__)


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
            await self._redis.release(self._lock, self._beat, self._token)

    async def _heartbeat(self, redis: RedisLayer) -> None:
        while True:
            await asyncio.sleep(self._beat_every)
            await redis.heartbeat(self._lock, self._beat, self._token, self._beat_every * 3)


class SharedCache:
    """Typed JSON get/set over the memory layer and, when given, Redis; plus single-flight.

    ``lease_seconds`` bounds how long a leader may hold a key (>= the request deadline);
    ``wait_seconds`` is how long a waiter polls for another replica's value before it
    fetches for itself; ``heartbeat_seconds`` is how often a leader says it is alive;
    ``observer`` hears every single-flight lookup's hit or miss.
    """

    def __init__(
        self,
        backend: Any,
        *,
        namespace: str = "nftgw",
        redis: RedisLayer | None = None,
        lease_seconds: float = 15.0,
        wait_seconds: float = 8.0,
        heartbeat_seconds: float = 0.5,
        observer: CacheObserver | None = None,
    ) -> None:
        self._backend = backend
        self._observer = observer
        self._namespace = namespace
        self._redis = redis
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._background: set[asyncio.Future[None]] = set()

    @property
    def shared(self) -> bool:
        """Whether other replicas see what this cache stores (Redis configured)."""
        return self._redis is not None

    async def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or ``None`` (missing, expired or undecodable).

        The memory layer first; on a miss Redis, whose hit is kept in memory for the
        rest of its life (so a hot key costs one Redis round trip per replica)."""
        local = await self._get_local(key)
        if local is not None or self._redis is None:
            return local
        full = self._full(key)
        found = await self._redis.get_with_ttl(full)
        if isinstance(found, _Unavailable) or found[0] is None:
            return None
        raw, ttl = found
        value = _loads(full, raw)
        if value is not None and ttl > 0:
            await self._backend.set(full, raw, ttl=ttl)
        return value

    async def peek(self, key: str, decode: Callable[[Any], T]) -> T | None:
        """The decoded value stored under ``key`` (any layer), or ``None``: never fetches,
        never waits on a fetch in flight, and is not counted as a lookup (a caller that
        then fetches counts that). For decisions a cached fact can spare an upstream call."""
        return _decoded(await self.get(key), decode)

    async def _get_local(self, key: str) -> Any | None:
        full = self._full(key)
        raw = await self._backend.get(full)
        return None if raw is None else _loads(full, raw)

    async def set(self, key: str, value: Any, ttl: float, *, background: bool = False) -> None:
        """Store ``value`` (JSON-able) for ``ttl`` seconds in every layer; never raises.

        ``background=True`` when the caller is off the request path (Redis then gets a
        longer timeout)."""
        full, raw = await self._set_local(key, value, ttl)
        if self._redis is not None:
            await self._redis.set(full, raw, ttl, background=background)

    async def get_or_fetch(
        self,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        *,
        ttl: float,
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
    ) -> tuple[T, bool]:
        """The cached value for ``key`` or ``fetch()``'s, stored for ``ttl`` seconds.

        Concurrent callers with the same key share one ``fetch``, in this process and (with
        Redis) across replicas. Returns ``(value, hit)``: ``hit`` when the value was stored
        (here, in Redis or by another replica), not fetched for this call. Exceptions from
        ``fetch`` propagate to every waiter in this process and nothing is stored.
        """
        _check_ttl(ttl)  # before any fetch: a value that cannot be stored is a caller bug
        cached = _decoded(await self._get_local(key), decode)
        if cached is not None:
            self._observe(key, hit=True)
            return cached, True
        pending = self._inflight.get(key)
        if pending is not None:
            self._observe(key, hit=False)  # it waits on an upstream fetch all the same
            return await asyncio.shield(pending), False
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value, hit = await self._fetch_once(key, fetch, ttl=ttl, encode=encode, decode=decode)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            self._observe(key, hit=hit)
            future.set_result(value)
            return value, hit
        finally:
            self._inflight.pop(key, None)

    async def lead_or_wait(
        self, key: str, *, wait: float | None = None
    ) -> tuple[Any, Lease | None]:
        """Either ``(value, None)``, another replica's value for ``key``, or ``(None, lease)``:
        this caller fetches and then calls ``lease.release()``. Never blocks longer than
        ``wait`` (default ``wait_seconds``): then it returns a local lease."""
        found, lease = await self._lead_or_wait(key, wait=wait)
        self._observe(key, hit=lease is None)
        return found, lease

    async def _lead_or_wait(self, key: str, *, wait: float | None) -> tuple[Any, Lease | None]:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + (self._wait_seconds if wait is None else wait)
        delay = POLL_MIN_SECONDS
        while True:
            lease = await self._try_lease(key)
            if lease is not None:
                value = await self.get(key)  # the last leader may have stored it just now
                if value is None:
                    return None, lease
                await lease.release()
                return value, None
            value = await self.get(key)
            if value is not None:
                return value, None
            if loop.time() + delay >= give_up:
                return None, self._local_lease(key)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX_SECONDS)

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._backend.close()
        if self._redis is not None:
            await self._redis.close()

    # -- internals ---------------------------------------------------------------------

    async def _fetch_once(
        self,
        key: str,
        fetch: Callable[[], Awaitable[T]],
        *,
        ttl: float,
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
    ) -> tuple[T, bool]:
        """``(value, True)`` when Redis or another replica had it, else ``(fetched, False)``."""
        if self._redis is not None:
            shared = _decoded(await self.get(key), decode)  # another replica's, perhaps
            if shared is not None:
                return shared, True
        found, lease = await self._lead_or_wait(key, wait=None)
        value = _decoded(found, decode)
        if value is not None:
            if lease is not None:
                await lease.release()
            return value, True
        try:
            value = await fetch()
        except BaseException:
            if lease is not None:
                await lease.release()
            raise
        full, raw = await self._set_local(key, encode(value), ttl)  # this process: at once
        # Redis and the lease off the request path: the caller has its answer already.
        self._spawn(self._publish(full, raw, ttl, lease))
        return value, False

    async def _set_local(self, key: str, value: Any, ttl: float) -> tuple[str, bytes]:
        """Store ``value``'s JSON in the memory layer; the full key and bytes, for Redis."""
        _check_ttl(ttl)
        full, raw = self._full(key), _json_bytes(value)
        await self._backend.set(full, raw, ttl=ttl)
        return full, raw

    def _observe(self, key: str, *, hit: bool) -> None:
        if self._observer is not None:
            self._observer.cache_lookup(cache_kind(key), hit)

    async def _publish(self, full: str, raw: bytes, ttl: float, lease: Lease | None) -> None:
        try:
            if self._redis is not None:
                await self._redis.set(full, raw, ttl, background=True)
        finally:
            if lease is not None:
                await lease.release()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _try_lease(self, key: str) -> Lease | None:
        if self._redis is None:
            return self._local_lease(key)
        lock, beat, token = self._full("lock:" + key), self._full("beat:" + key), _token()
        taken = await self._redis.acquire(
            lock, beat, token, self._lease_seconds, self._heartbeat_seconds * 3
        )
        if isinstance(taken, _Unavailable):
            # One slow answer: ask again on the next poll. Redis down: fetch locally.
            return None if self._redis.available else self._local_lease(key)
        if not taken:
            return None
        return Lease(self._redis, lock, beat, token, owned=True, beat_every=self._heartbeat_seconds)

    def _local_lease(self, key: str) -> Lease:
        return Lease(None, key, key, "", owned=False, beat_every=self._heartbeat_seconds)

    def _full(self, key: str) -> str:
        return f"{self._namespace}:{key}"


def _check_ttl(ttl: float) -> None:
    if ttl <= 0:
        raise ValueError("every cache entry needs a positive TTL")


def _millis(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _token() -> str:
    return secrets.token_hex(16)


def _json_bytes(value: Any) -> bytes:
    """``value`` as JSON in a right-sized bytes object. orjson hands back its whole
    growth buffer (a 1.3 KB record holds 8 KB, a 40 KB value 2 MB): kept for a TTL, that
    would put the memory layer far past its byte budget, which counts ``len``."""
    return bytes(memoryview(orjson.dumps(value)))  # bytes(b) would return b itself


def _loads(key: str, raw: Any) -> Any | None:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        logger.warning("cache entry %s is not JSON: treated as a miss", key)
        return None


def _decoded(raw: Any, decode: Callable[[Any], T]) -> T | None:
    """``decode(raw)``, or ``None`` for a miss or a stored shape that no longer decodes."""
    if raw is None:
        return None
    try:
        return decode(raw)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        logger.warning("a cache entry does not decode: treated as a miss")
        return None


def build_shared_cache(settings: Settings, *, observer: CacheObserver | None = None) -> SharedCache:
    """The app's cache from its settings: memory, plus Redis when ``redis_url`` is set;
    ``observer`` (the app's metrics) hears every lookup's hit or miss."""
    memory = BoundedMemoryCache(
        max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes
    )
    redis = None
    if settings.redis_url is not None:
        redis = RedisLayer.from_url(
            settings.redis_url.get_secret_value(), op_timeout=settings.redis_op_timeout
        )
    return SharedCache(
        memory,
        namespace=settings.redis_namespace,
        redis=redis,
        lease_seconds=max(settings.singleflight_lease, settings.request_deadline),
        wait_seconds=settings.singleflight_wait,
        heartbeat_seconds=settings.singleflight_heartbeat,
        observer=observer,
    )
