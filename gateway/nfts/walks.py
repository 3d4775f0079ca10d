"""The walk registry: which :class:`~gateway.nfts.walk.WalletWalk` answers for a wallet.

One walk per wallet and chain set, shared by concurrent requests and kept ``snapshot_ttl``
seconds after it completes so paging stays consistent. A walk in which a provider failed is
shared only while it runs: once complete it is neither kept nor published (failures are
never cached), so the next request walks again and sees the provider as soon as it is
back. A walk is one of

* local and running (its task walks the providers' streams),
* in flight (being opened: concurrent callers share one lookup),
* restored from another replica's published snapshot (Redis configured: one replica walks
  a wallet and the others wait for its snapshot, see :meth:`SharedCache.lead_or_wait`, so
  identical cold requests anywhere make one upstream call per upstream page),
* published (a finished walk's snapshot, for other replicas), and
* stale: a fully read walk is also kept ``stale_ttl`` seconds; when every provider fails,
  that copy is served, marked stale with its age, instead of a 503.

A client may ask for data no older than ``max_age`` seconds (GraphQL ``maxAge``, REST
``max_age``): a walk (local or another replica's) that read the providers longer ago than
that is not used, and a new walk replaces it; ``max_age=0`` always walks again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.cache.shared import Lease, SharedCache, cache_key
from gateway.errors import UpstreamUnavailable
from gateway.nfts.snapshot import decode_walk, encode_walk
from gateway.nfts.spam import SpamJudge
from gateway.nfts.walk import WalletWalk
from gateway.resilience import ProviderGuards
from gateway.settings import Settings
from providers.base import NFTSource
from providers.models import Chain, NFTKey

__all__ = ["MAX_CACHED_WALKS", "SNAPSHOT_IN_THREAD", "WalkRegistry"]

MAX_CACHED_WALKS = 512
# What one committed holding costs in memory, about (records, merged NFT, provenance; the
# walk shares repeated values): the byte budget of the walk cache counts walks by it.
# Measured 1.75 KiB a holding in the sandbox's 10,000-NFT wallet (three providers' records,
# data: URI images), 1.84 KiB with its snapshot (``python -m bench.memory``).
BYTES_PER_HOLDING = 2048
# Wallets with more holdings than this are snapshotted (and restored) in a worker thread.
SNAPSHOT_IN_THREAD = 256

logger = logging.getLogger(__name__)

_WalkKey = tuple[str, tuple[Chain, ...]]


@dataclass(slots=True)
class _WalkEntry:
    walk: WalletWalk
    task: asyncio.Task[None] | None  # None: restored from another replica's snapshot
    created: float
    # Complete with every stream answered: settled for good (checked once, not per request).
    settled: bool = False


class WalkRegistry:
    """The wallets' walks of this process, bounded, least recently used out."""

    def __init__(
        self,
        sources: Sequence[NFTSource],
        cache: SharedCache,
        settings: Settings,
        guards: ProviderGuards,
        spam_judge: SpamJudge | None = None,
    ) -> None:
        self._sources = list(sources)
        self._spam_judge = spam_judge
        self._cache = cache
        self._settings = settings
        self._guards = guards
        self._walks: OrderedDict[_WalkKey, _WalkEntry] = OrderedDict()
        self._opening: dict[_WalkKey, asyncio.Task[WalletWalk]] = {}

    async def walk_for(
        self, owner: str, chains: tuple[Chain, ...], max_age: float | None = None
    ) -> WalletWalk:
        """The wallet's walk: a local one, another replica's snapshot, or a new walk;
        with ``max_age``, none that read the providers more than that many seconds ago.

        Concurrent callers in this process share one lookup (one task per wallet): a
        lookup already under way is at most as old as the request, so it serves any age."""
        self._trim()
        walk = self.known(owner, chains, max_age)
        if walk is not None:
            return walk
        key = (owner, chains)
        opening = self._opening.get(key)
        if opening is None:
            # A task of its own: a caller that gives up does not cancel the others' lookup.
            opening = self._opening[key] = asyncio.create_task(self._open(owner, chains, max_age))
            opening.add_done_callback(lambda _: self._opening.pop(key, None))
        return await asyncio.shield(opening)

    def known(
        self, owner: str, chains: tuple[Chain, ...], max_age: float | None = None
    ) -> WalletWalk | None:
        """The wallet's walk if this process has a running or fresh one (and, with
        ``max_age``, one that read the providers at most that many seconds ago)."""
        key = (owner, chains)
        entry = self._walks.get(key)
        if entry is None:
            return None
        if not entry.settled and entry.walk.complete:
            # Partial: walked again by the next request, which may find the failed streams
            # answering, unless each failure was a refusal that answers the same at once
            # (one chain a server does not know made every answer walk every stream again).
            # Such a walk serves, partial and saying so, for snapshot_ttl like any other.
            if entry.walk.may_answer_otherwise:
                del self._walks[key]
                return None
            entry.settled = True
        if max_age is not None and time.time() - entry.walk.fetched_at > max_age:
            return None
        fresh = time.monotonic() - entry.created < self._settings.snapshot_ttl
        if not entry.walk.complete or fresh:
            self._walks.move_to_end(key)
            return entry.walk
        return None

    def holding(self, key: NFTKey) -> list[WalletWalk]:
        """This process's walks that hold ``key`` (a refreshed NFT's wallets)."""
        return [entry.walk for entry in self._walks.values() if entry.walk.holds(key)]

    def forget(self, owner: str, chains: tuple[Chain, ...]) -> None:
        self._walks.pop((owner, chains), None)

    async def stale(self, owner: str, chains: tuple[Chain, ...]) -> tuple[WalletWalk, int]:
        """The last fully read snapshot and its age, or :class:`UpstreamUnavailable`."""
        found = await self._cache.get(_stale_key(owner, chains))
        restored = await self._restore(found) if found is not None else None
        if restored is None:
            raise UpstreamUnavailable(
                "every NFT provider failed for this wallet",
                retry_after=self._settings.unavailable_retry_after,
            )
        walk, age = restored
        return walk, int(age)

    async def settled(self) -> None:
        """Return once every walk of this process has ended and published its snapshot
        (what a measurement of the memory held waits for; requests never need to)."""
        tasks = [entry.task for entry in self._walks.values() if entry.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        tasks: list[asyncio.Task[Any]] = [e.task for e in self._walks.values() if e.task]
        tasks += self._opening.values()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._walks.clear()

    async def _open(
        self, owner: str, chains: tuple[Chain, ...], max_age: float | None
    ) -> WalletWalk:
        found, lease = await self._cache.lead_or_wait(_snapshot_key(owner, chains))
        if found is not None:
            restored = await self._restore(found)
            if restored is not None and not _older_than(restored[0], max_age):
                walk, age = restored
                self._remember(owner, chains, _WalkEntry(walk, None, time.monotonic() - age))
                return walk
        walk = WalletWalk(
            owner,
            self._sources,
            chains,
            self._settings.field_priority,
            cap=self._settings.walk_cap,
            provider_deadline=self._settings.provider_deadline,
            guards=self._guards,
            spam_judge=self._spam_judge,
        )
        task = asyncio.create_task(self._run(walk, chains, lease))
        self._remember(owner, chains, _WalkEntry(walk, task, time.monotonic()))
        return walk

    async def _run(self, walk: WalletWalk, chains: tuple[Chain, ...], lease: Lease | None) -> None:
        """Walk, then publish the snapshot (for other replicas and stale-if-error)."""
        try:
            await walk.run()
            if not walk.any_failed:  # a partial walk is no snapshot (failures never cached)
                await self._publish(walk, chains)
        finally:
            if lease is not None:
                await lease.release()

    async def _publish(self, walk: WalletWalk, chains: tuple[Chain, ...]) -> None:
        # Encoding and compressing a big wallet takes a while: off the event loop (the
        # walk is complete, nothing changes it any more). A small one is quicker here.
        if walk.size > SNAPSHOT_IN_THREAD:
            data = await asyncio.to_thread(encode_walk, walk)
        else:
            data = encode_walk(walk)
        data["stored_at"] = time.time()
        settings = self._settings
        entries = [
            (_snapshot_key(walk.owner, chains), settings.snapshot_ttl),
            (_stale_key(walk.owner, chains), settings.stale_ttl),
        ]
        await self._cache.set_many(entries, data, background=True)  # one copy for both

    async def _restore(self, data: Any) -> tuple[WalletWalk, float] | None:
        """A snapshot as a complete walk and its age in seconds; ``None`` if unreadable.
        Decoded off the event loop (a big wallet's takes a while)."""
        priority = self._settings.field_priority
        try:
            if isinstance(data, dict) and "zlib" in data:  # a big wallet's
                walk = await asyncio.to_thread(decode_walk, data, priority, self._spam_judge)
            else:
                walk = decode_walk(data, priority, self._spam_judge)
            age = max(0.0, time.time() - float(data["stored_at"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            logger.warning("a wallet snapshot in the cache does not decode: ignored")
            return None
        return walk, age

    def _remember(self, owner: str, chains: tuple[Chain, ...], entry: _WalkEntry) -> None:
        self._walks[(owner, chains)] = entry
        self._trim()

    def _trim(self) -> None:
        """Least recently used walks out while there are too many or they hold more than
        ``walk_cache_bytes`` (walks grow as they go: checked whenever one is asked for).
        The newest walk always stays, whatever its size."""
        budget = self._settings.walk_cache_bytes
        held = sum(entry.walk.size for entry in self._walks.values()) * BYTES_PER_HOLDING
        while len(self._walks) > 1 and (len(self._walks) > MAX_CACHED_WALKS or held > budget):
            _, oldest = self._walks.popitem(last=False)
            held -= oldest.walk.size * BYTES_PER_HOLDING
            if oldest.task is not None:
                oldest.task.cancel()


def _older_than(walk: WalletWalk, max_age: float | None) -> bool:
    return max_age is not None and time.time() - walk.fetched_at > max_age


def _snapshot_key(owner: str, chains: Sequence[Chain]) -> str:
    return cache_key("snapshot", owner, ",".join(chain.value for chain in chains))


def _stale_key(owner: str, chains: Sequence[Chain]) -> str:
    return cache_key("stale", owner, ",".join(chain.value for chain in chains))
