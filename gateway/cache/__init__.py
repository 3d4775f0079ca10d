"""The shared TTL cache, in four rooms:

* :mod:`~gateway.cache.keys`: :func:`cache_key` (versioned, kinded) and the namespace.
* :mod:`~gateway.cache.backends`: the memory layer (a bounded dict) and the Redis layer
  (aiocache's), with one JSON serializer (orjson, never pickle) and the Redis op timeout's
  fallback.
* :mod:`~gateway.cache.singleflight`: one fetch per key in process, and a heartbeated
  Redis lease across replicas.
* :mod:`~gateway.cache.codec`: every cached JSON shape (records, snapshot records,
  collection facts, DIDs), each with a round-trip property test.

:mod:`~gateway.cache.shared` ties them together as :class:`SharedCache`.

May import: :mod:`providers.models`, :mod:`gateway.settings`. Nothing else of the gateway:
every layer above uses it, it uses none of them.
"""

from gateway.cache.backends import BoundedMemoryCache, RedisLayer
from gateway.cache.keys import CACHE_VERSION, cache_key, cache_kind
from gateway.cache.shared import CacheObserver, SharedCache, build_shared_cache
from gateway.cache.singleflight import Lease

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
