"""Volume limits the emulators enforce, as the vendors sell them (each emulator has its tiers).

Two meters, both per API key:

* :class:`FixedWindow`: ``limit`` requests per ``window`` seconds, the count reset when the
  window ends. OpenSea documents its limits this way: per key, a read budget (600 per hour
  for an instant key), ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (Unix seconds)
  on every answer and a 429 when it is spent ([OS4] docs.opensea.io/reference/api-keys);
  Etherscan allows a number of calls per second per key ([NT1]: 2/s for name tags).
* :class:`RollingCost`: compute units per second averaged over a rolling window. Alchemy
  meters throughput in CU/s per account over 10 s (free tier 500 CU/s), each method
  costing its throughput CU, and answers 429 past it ([AL3] throughput, compute units).

Which tier a run uses is a fault switch (``quota_tier``, or ``quota_limit`` and
``quota_window`` for any other figure), so tests and the emulator server set them by
name; the meters read the switches on every request, so flipping one takes effect at once.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from providers.sandbox.faults import FaultSwitches

__all__ = ["Admission", "FixedWindow", "RollingCost", "Tier", "tier_for"]


@dataclass(frozen=True, slots=True)
class Tier:
    """``limit`` units per ``window`` seconds."""

    limit: int
    window: float


@dataclass(frozen=True, slots=True)
class Admission:
    """A meter's verdict on one request: allowed or not, and what the headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # Unix seconds
    retry_after: int  # seconds (when not allowed)


def tier_for(switches: FaultSwitches, tiers: Mapping[str, Tier], default: str) -> Tier:
    """The quota the switches ask for: explicit figures, else a named tier of ``tiers``."""
    if switches.quota_limit > 0 and switches.quota_window > 0:
        return Tier(switches.quota_limit, switches.quota_window)
    name = switches.quota_tier or default
    if name not in tiers:
        raise ValueError(f"unknown quota tier {name!r}; have {sorted(tiers)}")
    return tiers[name]


class FixedWindow:
    """``limit`` requests per key per window; the window starts with a key's first request."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)

    def admit(self, key: str, tier: Tier) -> Admission:
        now = self._clock()
        end, count = self._windows.get(key, (0.0, 0))
        if now >= end:
            end, count = now + tier.window, 0
        allowed = count < tier.limit
        if allowed:
            count += 1
        self._windows[key] = (end, count)
        return Admission(
            allowed=allowed,
            limit=tier.limit,
            remaining=max(0, tier.limit - count),
            reset_at=end,
            retry_after=max(1, math.ceil(end - now)),
        )


class RollingCost:
    """Units spent per key over the last ``window`` seconds, at most ``limit`` of them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._spent: dict[str, deque[tuple[float, int]]] = {}
        self._used: dict[str, int] = {}  # per key: the sum of its ``_spent`` units

    def admit(self, key: str, tier: Tier, cost: int) -> Admission:
        now = self._clock()
        spent = self._spent.setdefault(key, deque())
        used = self._used.get(key, 0)
        while spent and spent[0][0] <= now - tier.window:
            used -= spent.popleft()[1]
        allowed = used + cost <= tier.limit
        if allowed:
            spent.append((now, cost))
            used += cost
        self._used[key] = used
        oldest = spent[0][0] if spent else now
        return Admission(
            allowed=allowed,
            limit=tier.limit,
            remaining=max(0, tier.limit - used),
            reset_at=time.time() + max(0.0, oldest + tier.window - now),
            retry_after=1,  # Alchemy's documented advice: back off about a second
        )
