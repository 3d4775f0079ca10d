"""The shared TTL cache: typed JSON ``get``/``set`` over two layers, plus single-flight.

The memory layer always; Redis, shared by every replica, when ``NFTGW_REDIS_URL`` is set
(:mod:`gateway.cache.backends`). Reads try memory first, then Redis, whose hit is kept in
memory for the rest of its life (so a hot key costs one Redis round trip per replica).
Every entry has a TTL and is JSON (one serializer, never pickle). Failures are never
cached: :meth:`SharedCache.get_or_fetch` stores only what ``fetch`` returned, and a stored
value that no longer decodes is a miss, not an error.

Observability: an optional :class:`CacheObserver` (the app's metrics) hears every
``get_or_fetch`` and ``lead_or_wait`` lookup as a hit (a stored value: this process's,
Redis's or another replica's) or a miss (this caller fetched, or waited on a fetch in
flight), labelled with the key's kind (``detail``, ``snapshot``, ``dids``...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from gateway.cache.backends import BoundedMemoryCache, JsonBytes, RedisLayer, Unavailable
from gateway.cache.keys import CACHE_VERSION, cache_key, cache_kind
from gateway.cache.singleflight import InFlight, Lease, Leases
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

T = TypeVar("T")

_JSON = JsonBytes()

# Redis connections opened at startup: a cold page has up to six commands in flight at
# once (its streams' budget takes and cool-down reads, its wave's peeks and leases), and a
# connection opened on the way costs its command five round trips.
REDIS_CONNECTIONS_AHEAD = 8


class CacheObserver(Protocol):
    """Hears each lookup's outcome (the app's :class:`~gateway.http.observability.Metrics`)."""

    def cache_lookup(self, kind: str, hit: bool) -> None: ...


class SharedCache:
    """Typed JSON get/set over the memory layer and, when given, Redis; plus single-flight.

    ``lease_seconds``, ``wait_seconds`` and ``heartbeat_seconds`` tune the cross-replica
    leases (:class:`~gateway.cache.singleflight.Leases`); ``observer`` hears every
    single-flight lookup's hit or miss.
    """

    def __init__(
        self,
        memory: BoundedMemoryCache,
        *,
        redis: RedisLayer | None = None,
        lease_seconds: float = 15.0,
        wait_seconds: float = 8.0,
        heartbeat_seconds: float = 0.5,
        observer: CacheObserver | None = None,
    ) -> None:
        self._memory = memory
        self._redis = redis
        self._observer = observer
        self._inflight = InFlight()
        self._leases = Leases(
            redis,
            lease_seconds=lease_seconds,
            wait_seconds=wait_seconds,
            heartbeat_seconds=heartbeat_seconds,
        )
        self._background: set[asyncio.Future[None]] = set()
        self._behind: set[asyncio.Future[None]] = set()  # Redis writes after (see set_each)
        # Redis reads in flight, by the keys they read: each key's bytes and value
        self._reads: dict[tuple[str, ...], asyncio.Future[list[tuple[bytes, Any] | None]]] = {}

    @property
    def redis_layer(self) -> RedisLayer | None:
        """The Redis layer when configured (budgets keep their buckets there too)."""
        return self._redis

    @property
    def shared(self) -> bool:
        """Whether other replicas see what this cache stores (Redis configured)."""
        return self._redis is not None

    async def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or ``None`` (missing, expired or undecodable)."""
        local = self._memory_value(key)
        if local is not None or self._redis is None:
            return local
        (found,) = await self._shared_read(self._redis, (key,))
        return found

    async def peek_many(self, keys: Sequence[str], decode: Callable[[Any], T]) -> list[T | None]:
        """The decoded value stored under each of ``keys`` (any layer), ``None`` where there
        is none: never fetches, never waits on a fetch in flight, and is not counted as a
        lookup (a caller that then fetches counts that). For decisions a cached fact can
        spare an upstream call.

        The memory layer answers in turn, without a trip through the event loop (a cold
        page's calls would wait behind such trips); Redis is asked for the rest in one
        round trip (a cold page peeks its 20 details and their collections: one command
        each time, not one per key)."""
        values = [self._memory_value(key) for key in keys]
        if self._redis is not None:
            missing = [index for index, value in enumerate(values) if value is None]
            if missing:
                wanted = tuple(keys[index] for index in missing)
                found = await self._shared_read(self._redis, wanted)
                for index, value in zip(missing, found, strict=True):
                    values[index] = value
        return [_decoded(value, decode) for value in values]

    async def set(self, key: str, value: Any, ttl: float, *, background: bool = False) -> None:
        """Store ``value`` (JSON-able) for ``ttl`` seconds in every layer; never raises.

        ``background=True`` when the caller is off the request path (Redis then gets a
        longer timeout)."""
        await self.set_many([(key, ttl)], value, background=background)

    async def set_each(
        self,
        entries: Sequence[tuple[str, Any, float]],
        *,
        background: bool = False,
        behind: bool = False,
    ) -> None:
        """Store each ``(key, value, ttl)`` of ``entries`` as :meth:`set` does, Redis's
        copies in one round trip (a page's details, its collections).

        ``behind``: for a fetch inside :meth:`get_or_fetch`; the memory layer's copies at
        once, Redis's while the caller goes on (a cold page no longer waits a Redis round
        trip for them before it answers). The fetch's single-flight marker, which tells
        other replicas to read what the fetch stored, is published only once they are
        written, and its lease is held till then."""
        encoded = [(key, _JSON.dumps(value), ttl) for key, value, ttl in entries]
        if not behind or self._redis is None:
            await self._store(encoded, background)
            return
        self._keep(encoded)
        write = self._spawn(self._share(encoded, background=True))
        self._behind.add(write)
        write.add_done_callback(self._behind.discard)

    async def set_many(
        self, entries: Sequence[tuple[str, float]], value: Any, *, background: bool = False
    ) -> None:
        """Store ``value`` under each ``(key, ttl)`` of ``entries``, as :meth:`set` does,
        encoded once: the memory layer's entries share one bytes object (a big wallet's
        snapshot is kept under two keys). Its byte budget still counts each entry: an
        over-count while both live, never an under-count."""
        raw = _JSON.dumps(value)
        await self._store([(key, raw, ttl) for key, ttl in entries], background)

    async def delete(self, key: str) -> None:
        """Forget ``key`` in every layer (a refreshed NFT's detail); never raises. Another
        replica's memory layer keeps its copy until that copy's TTL ends."""
        self._memory.delete(key)
        if self._redis is not None:
            await self._redis.delete(key)

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
        cached = _decoded(self._memory_value(key), decode)
        if cached is not None:
            self._observe(key, hit=True)
            return cached, True
        pending = self._inflight.pending(key)
        if pending is not None:
            self._observe(key, hit=False)  # it waits on an upstream fetch all the same
            value, _ = await asyncio.shield(pending)
            return value, False
        value, hit = await self._inflight.lead(
            key, lambda: self._fetch_once(key, fetch, ttl=ttl, encode=encode, decode=decode)
        )
        self._observe(key, hit=hit)
        return value, hit

    async def lead_or_wait(
        self, key: str, *, wait: float | None = None
    ) -> tuple[Any, Lease | None]:
        """Either ``(value, None)``, another replica's value for ``key``, or ``(None, lease)``:
        this caller fetches and then calls ``lease.release()``. Never blocks longer than
        ``wait`` (default ``wait_seconds``): then it returns a local lease."""
        found, lease = await self._lead_or_wait(key, wait)
        self._observe(key, hit=lease is None)
        return found, lease

    async def open_connections(self, count: int = REDIS_CONNECTIONS_AHEAD) -> None:
        """Open Redis connections ahead of the first requests (see
        :meth:`RedisLayer.open_connections`); nothing to open without Redis."""
        if self._redis is not None:
            await self._redis.open_connections(count)

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._redis is not None:
            await self._redis.close()

    # -- internals ---------------------------------------------------------------------

    async def _shared_read(self, redis: RedisLayer, keys: tuple[str, ...]) -> list[Any]:
        """Redis's values for ``keys`` (the memory layer missed them), ``None`` where it has
        none, decoded for this caller, in one round trip.

        Concurrent reads of the same keys share it. A burst of identical cold requests
        peeks the same details and collections: ~35 reads per key, which queued for the
        pool's connections past the op timeout and made the replica fetch for itself
        (issue 14). The reader that asked Redis gets the values decoded there; every other
        reader decodes its own copy of the bytes."""
        read = self._reads.get(keys)
        asked = read is None
        if read is None:
            read = self._reads[keys] = asyncio.ensure_future(self._read_through(redis, keys))
            read.add_done_callback(lambda _: self._reads.pop(keys, None))
        found = await asyncio.shield(read)  # a reader that gives up leaves it to the others
        if asked:
            return [None if one is None else one[1] for one in found]
        return [None if one is None else _JSON.loads(one[0]) for one in found]

    async def _read_through(
        self, redis: RedisLayer, keys: tuple[str, ...]
    ) -> list[tuple[bytes, Any] | None]:
        """Redis's bytes for each of ``keys`` and their value (``None``: missing, not a
        value, or Redis unavailable), the bytes kept in the memory layer for the rest of
        their life."""
        found = await redis.get_many_with_ttl(keys)
        if isinstance(found, Unavailable):
            return [None] * len(keys)
        return [
            await self._keep_read(key, raw, ttl)
            for key, (raw, ttl) in zip(keys, found, strict=True)
        ]

    async def _lead_or_wait(self, key: str, wait: float | None) -> tuple[Any, Lease | None]:
        """The leases' ``lead_or_wait`` for ``key``, this process's memory read first (a
        value another task stored just now); a value another replica stored is kept in
        memory for the rest of its life. With Redis, one round trip unless another replica
        leads: the value if it is there, else the lease."""
        local = self._memory_value(key)
        if local is not None:
            return local, None
        return await self._leases.lead_or_wait(key, self._stored_value, wait=wait)

    async def _stored_value(self, key: str, raw: bytes, ttl: float) -> Any:
        kept = await self._keep_read(key, raw, ttl)
        return None if kept is None else kept[1]

    async def _keep_read(self, key: str, raw: bytes | None, ttl: float) -> tuple[bytes, Any] | None:
        """What Redis held under ``key`` (``raw``, ``ttl`` seconds to live) and its value,
        the bytes kept in the memory layer for the rest of their life; ``None`` when it
        held nothing, or bytes that are not a value."""
        if raw is None:
            return None
        value = _JSON.loads(raw)
        if value is None:
            return None
        if ttl > 0:
            self._memory.set(key, raw, ttl)  # the very bytes
        return raw, value

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
        found, lease = await self._lead_or_wait(key, None)  # another replica's, perhaps
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
        raw = self._set_local(key, encode(value), ttl)  # this process: at once
        if self._redis is not None:  # (without it the lease is this process's: nothing to do)
            # Redis and the lease off the request path: the caller has its answer already.
            self._spawn(self._publish(key, raw, ttl, lease))
        return value, False

    async def _store(self, encoded: Sequence[tuple[str, bytes, float]], background: bool) -> None:
        """Store each ``(key, bytes, ttl)``: in memory at once, in Redis in one command."""
        self._keep(encoded)
        await self._share(encoded, background=background)

    def _keep(self, encoded: Sequence[tuple[str, bytes, float]]) -> None:
        """The memory layer's copy of each ``(key, bytes, ttl)``."""
        for _, _, ttl in encoded:
            _check_ttl(ttl)
        for key, raw, ttl in encoded:
            self._memory.set(key, raw, ttl)

    def _set_local(self, key: str, value: Any, ttl: float) -> bytes:
        """Store ``value``'s JSON in the memory layer; the bytes, for Redis."""
        raw = _JSON.dumps(value)  # once, for both layers
        self._keep([(key, raw, ttl)])
        return raw

    def _memory_value(self, key: str) -> Any:
        """The value the memory layer holds under ``key``, decoded; ``None`` when none."""
        return _JSON.loads(self._memory.get(key))

    def _observe(self, key: str, *, hit: bool) -> None:
        if self._observer is not None:
            self._observer.cache_lookup(cache_kind(key), hit)

    async def _publish(self, key: str, raw: bytes, ttl: float, lease: Lease | None) -> None:
        try:
            if self._redis is not None:
                if self._behind:  # what the fetch stored goes first (see set_each): every
                    # write still behind, this fetch's among them
                    await asyncio.gather(*self._behind, return_exceptions=True)
                await self._share([(key, raw, ttl)], background=True)
        finally:
            if lease is not None:
                await lease.release()

    async def _share(
        self, encoded: Sequence[tuple[str, bytes, float]], *, background: bool
    ) -> None:
        """Redis's copy of each ``(key, bytes, ttl)``, in one command (without Redis,
        nothing)."""
        if self._redis is not None and encoded:
            await self._redis.set_each(encoded, background=background)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def _check_ttl(ttl: float) -> None:
    if ttl <= 0:
        raise ValueError("every cache entry needs a positive TTL")


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
    namespace = settings.redis_namespace
    memory = BoundedMemoryCache(
        max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes
    )
    redis = None
    if settings.redis_url is not None:
        redis = RedisLayer.from_url(
            settings.redis_url.get_secret_value(),
            namespace=namespace,
            op_timeout=settings.redis_op_timeout,
        )
    return SharedCache(
        memory,
        redis=redis,
        lease_seconds=max(settings.singleflight_lease, settings.request_deadline),
        wait_seconds=settings.singleflight_wait,
        heartbeat_seconds=settings.singleflight_heartbeat,
        observer=observer,
    )
