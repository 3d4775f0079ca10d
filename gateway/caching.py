"""The shared TTL cache: one key builder, one single-flight ``get_or_fetch``.

Values are stored as JSON bytes (orjson), never pickled, so a cached value can never be
mutated by a reader and the same bytes work on every backend. Every key is namespaced and
versioned (bump :data:`CACHE_VERSION` when a stored shape changes) and every entry has a
TTL. Failures are never cached: ``get_or_fetch`` stores only what ``fetch`` returned.

The default backend is aiocache's memory backend, bounded here to ``max_entries`` with LRU
eviction (aiocache's own is unbounded).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aiocache import SimpleMemoryCache
from aiocache.serializers import NullSerializer

__all__ = ["CACHE_VERSION", "BoundedMemoryCache", "SharedCache", "cache_key"]

CACHE_VERSION = 1
T = TypeVar("T")


def cache_key(kind: str, *parts: object) -> str:
    """``v1:kind:part:part``; parts must already be validated, normalised values."""
    return ":".join([f"v{CACHE_VERSION}", kind, *(str(part) for part in parts)])


class BoundedMemoryCache(SimpleMemoryCache):  # type: ignore[misc]
    """aiocache's memory backend with an entry cap and least-recently-used eviction."""

    def __init__(self, max_entries: int = 10_000, **kwargs: Any) -> None:
        super().__init__(serializer=NullSerializer(), **kwargs)
        self.max_entries = max_entries

    async def _get(self, key: str, encoding: str = "utf-8", _conn: Any = None) -> Any:
        value = self._cache.pop(key, None)
        if value is not None:
            self._cache[key] = value  # most recently used goes last
        return value

    async def _set(
        self, key: str, value: Any, ttl: Any = None, _cas_token: Any = None, _conn: Any = None
    ) -> Any:
        result = await super()._set(key, value, ttl=ttl, _cas_token=_cas_token, _conn=_conn)
        while len(self._cache) > self.max_entries:
            oldest = next(iter(self._cache))
            self._cache.pop(oldest, None)
            handle = self._handlers.pop(oldest, None)
            if handle is not None:
                handle.cancel()
        return result


class SharedCache:
    """Typed JSON get/set over an aiocache backend, plus in-process single-flight."""

    def __init__(self, backend: Any, *, namespace: str = "nftgw") -> None:
        self._backend = backend
        self._namespace = namespace
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def get(self, key: str) -> Any | None:
        raw = await self._backend.get(self._full(key))
        return None if raw is None else orjson.loads(raw)

    async def set(self, key: str, value: Any, ttl: float) -> None:
        await self._backend.set(self._full(key), orjson.dumps(value), ttl=ttl)

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

        Concurrent callers with the same key share one ``fetch``. Returns ``(value, hit)``.
        Exceptions from ``fetch`` propagate to every waiter and nothing is stored.
        """
        cached = await self.get(key)
        if cached is not None:
            return decode(cached), True
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending), False
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await fetch()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(value)
            await self.set(key, encode(value), ttl)
            return value, False
        finally:
            self._inflight.pop(key, None)

    async def close(self) -> None:
        await self._backend.close()

    def _full(self, key: str) -> str:
        return f"{self._namespace}:{key}"
