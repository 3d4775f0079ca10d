"""Cache keys: one builder for every key, and the namespace that prefixes them.

A key is ``v<CACHE_VERSION>:<kind>:<part>:<part>...``: versioned, so a change to a stored
shape (bump :data:`CACHE_VERSION`) turns every old entry into a miss instead of a decode
error, and kinded, so metrics can label a lookup by its kind (``detail``, ``snapshot``,
``dids``...) without ever using a key's values. The deployment's namespace
(``NFTGW_REDIS_NAMESPACE``) is added by the Redis layer, through :func:`namespaced`,
aiocache's ``key_builder`` hook: callers never write it (one process's memory needs none).
"""

from __future__ import annotations

__all__ = ["CACHE_VERSION", "cache_key", "cache_kind", "namespaced"]

# 2: collection facts carry ``ranked`` (gateway/cache/codec.py).
# 3: records carry a ``floor`` (price, currency, source, when read).
# 4: records carry the spam verdict's facts (signals, verified, NSFW, trading, owners).
CACHE_VERSION = 4


def cache_key(kind: str, *parts: object) -> str:
    """``v4:kind:part:part``; parts must already be validated, normalised values."""
    return ":".join([f"v{CACHE_VERSION}", kind, *(str(part) for part in parts)])


def cache_kind(key: str) -> str:
    """The kind a :func:`cache_key` was built with (``other`` for a key of another shape):
    a bounded metrics label, never a part of the key's values."""
    version, _, rest = key.partition(":")
    kind = rest.partition(":")[0]
    return kind if version.startswith("v") and kind else "other"


def namespaced(key: str, namespace: str | None = None) -> str:
    """``namespace:key`` (aiocache's own builder writes ``namespacekey`` for some backends,
    ``namespace:key`` for Redis: this one is the same everywhere)."""
    return f"{namespace}:{key}" if namespace else key
