"""Where rate-limit cool-downs live, so every replica honours one upstream's 429."""

from __future__ import annotations

import time
from typing import Protocol

from gateway.cache.shared import SharedCache, cache_key

__all__ = ["CacheCooldowns", "CooldownStore"]


class CooldownStore(Protocol):
    """Where cool-downs live, so every replica honours one upstream's 429."""

    async def cooldown_until(self, provider: str) -> float | None:
        """The Unix time the provider's cool-down ends, if one is set."""
        ...

    async def set_cooldown(self, provider: str, until: float) -> None: ...


class CacheCooldowns:
    """Cool-downs in the :class:`~gateway.cache.shared.SharedCache` (Redis when configured)."""

    def __init__(self, cache: SharedCache) -> None:
        self._cache = cache

    async def cooldown_until(self, provider: str) -> float | None:
        value = await self._cache.get(cache_key("cooldown", provider))
        if isinstance(value, dict) and isinstance(value.get("until"), int | float):
            return float(value["until"])
        return None

    async def set_cooldown(self, provider: str, until: float) -> None:
        ttl = until - time.time()
        if ttl > 0:
            await self._cache.set(cache_key("cooldown", provider), {"until": until}, ttl=ttl)
