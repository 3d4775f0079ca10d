"""What an answer cost upstream: calls per provider, counted where they are made.

The guard adds one to a :class:`CallMeter` for every attempt that reaches an upstream. A
request carries its own meter down (walks, details, collections), so the answer can say
what it cost (``X-NFTGW-Upstream-Calls``, GraphQL ``extensions.cost``); a call made for
several requests at once (a shared walk, a single-flight fetch) is counted once, on the
meter of the request that made it.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CallMeter"]


class CallMeter:
    """Upstream calls per provider; ``drain`` hands what was counted to an answer."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def add(self, provider: str, calls: int = 1) -> None:
        self._counts[provider] = self._counts.get(provider, 0) + calls

    def merge(self, counts: Mapping[str, int]) -> None:
        for provider, calls in counts.items():
            self.add(provider, calls)

    def drain(self) -> dict[str, int]:
        """What was counted since the last drain (and zero from now on)."""
        counts, self._counts = self._counts, {}
        return counts

    @property
    def counts(self) -> Mapping[str, int]:
        return dict(self._counts)

    @property
    def total(self) -> int:
        return sum(self._counts.values())
