"""Budgets built from the settings, and fed by every upstream answer's headers.

The adapters never see budgets: the app's upstream clients tell a :class:`CallFeed` of
every call, which counts each request on the guarded attempt that sent it and finds which
provider answered (by the base URLs in the settings), so that provider's budget reads the
``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.cache.backends import RedisLayer
from gateway.resilience.budgets import BucketStore, Budget, MemoryBuckets, RedisBuckets, budget_name
from gateway.resilience.guard import ProviderGuards
from gateway.resilience.metering import count_request
from gateway.settings import Settings

__all__ = ["CallFeed", "build_budgets"]

# Providers with a budget setting, and the settings naming their base URL and key.
_METERED = {
    "opensea": ("opensea_base_url", "opensea_api_key"),
    "alchemy": ("alchemy_base_url", "alchemy_api_key"),
    "nametag": ("nametag_base_url", "nametag_api_key"),
    "moralis": ("moralis_base_url", "moralis_api_key"),
}


def build_budgets(
    settings: Settings, upstream: Settings, redis: RedisLayer | None
) -> dict[str, Budget]:
    """A budget per metered provider whose rate is not ``off`` (``upstream``: the
    settings with the sandbox applied, so a key is the one actually used)."""
    store: BucketStore = RedisBuckets(redis) if redis is not None else MemoryBuckets()
    budgets: dict[str, Budget] = {}
    for provider, (_, key_field) in _METERED.items():
        rate = settings.rate_for(provider)
        if rate is None:
            continue
        key = getattr(upstream, key_field)
        name = budget_name(provider, key.get_secret_value() if key is not None else None)
        budgets[provider] = Budget(name, rate, store)
    return budgets


class CallFeed:
    """The upstream clients' observer (a :class:`~gateway.http.transport.CallObserver`):
    each request counts on the guarded attempt that sent it (its cost), and each answer's
    headers go to its provider's guard."""

    def __init__(self, guards: ProviderGuards, upstream: Settings) -> None:
        self._guards = guards
        self._patterns = [
            (provider, _url_pattern(getattr(upstream, url_field)))
            for provider, (url_field, _) in _METERED.items()
            if provider in guards.budgets
        ]

    def provider_of(self, url: str) -> str | None:
        return next((name for name, pattern in self._patterns if pattern.match(url)), None)

    def sent(self) -> None:
        count_request()

    async def answered(self, url: str, status: int, headers: Mapping[str, str]) -> None:
        provider = self.provider_of(url)
        if provider is not None:
            await self._guards.observe_answer(provider, status, headers)


def _url_pattern(base_url: str) -> re.Pattern[str]:
    """A base URL (``https://{network}.g.alchemy.com``) as a prefix pattern; ``{...}``
    placeholders match one host label or path segment."""
    parts = re.split(r"\{[a-z_]+\}", base_url.rstrip("/"))
    return re.compile("[^./]+".join(re.escape(part) for part in parts) + "(/|$|\\?)")
