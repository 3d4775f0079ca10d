"""Priorities of upstream calls, and the priority queue in front of a provider's slots.

A provider allows ``bulkhead_max_in_flight`` calls at once. A call that finds every slot
taken waits in line, by priority and then by arrival, for as long as its own deadline
allows; it is shed (:class:`QueueTimeout`, :class:`QueueFull`) only when that deadline
passes first or when ``bulkhead_queue_max`` calls already wait. A list call of a wallet a
client asked for therefore never waits behind a detail call that arrived earlier.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from enum import IntEnum

__all__ = ["Priority", "PriorityGate", "QueueFull", "QueueTimeout"]


class Priority(IntEnum):
    """What a call is for; lower values go first (slots and budget alike)."""

    LIST = 0  # a list page of a wallet a client asked for
    DETAIL = 1  # detail of the NFTs on a requested page
    COLLECTION = 2  # collection facts for a requested page
    OWNERS = 3  # an ERC-1155's /owners walk (a balance)
    BACKGROUND = 4  # nobody waits for it


class QueueFull(Exception):
    """``bulkhead_queue_max`` calls already wait: shed at once."""


class QueueTimeout(Exception):
    """The call's deadline passed before a slot freed up."""


class PriorityGate:
    """``capacity`` slots, handed out by (priority, arrival) to at most ``queue_max`` waiters."""

    def __init__(self, capacity: int, queue_max: int) -> None:
        self._free = capacity
        self._queue_max = queue_max
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, priority: Priority, deadline: float) -> None:
        """A slot, or :class:`QueueFull` / :class:`QueueTimeout` (``deadline``: loop time)."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        if len(self._waiters) >= self._queue_max:
            raise QueueFull
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (int(priority), next(self._arrivals), future)
        heapq.heappush(self._waiters, entry)
        try:
            async with asyncio.timeout_at(deadline):
                await future
        except TimeoutError:
            self._leave(entry)
            raise QueueTimeout from None
        except asyncio.CancelledError:
            self._leave(entry)
            raise

    def release(self) -> None:
        """Give a slot back: to the first waiter in line, or to the pool."""
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1

    def _leave(self, entry: tuple[int, int, asyncio.Future[None]]) -> None:
        """A waiter gives up; if the slot was handed to it meanwhile, pass it on."""
        future = entry[2]
        if future.done() and not future.cancelled():
            self.release()
            return
        future.cancel()
        try:
            self._waiters.remove(entry)
            heapq.heapify(self._waiters)
        except ValueError:
            pass
