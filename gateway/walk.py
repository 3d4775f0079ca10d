"""A wallet walk: every provider × chain stream, paged to the end, merged as it goes.

The order of a wallet's holdings is defined here, and it is the one order every face
pages over:

1. Streams are the (chain, provider) pairs, chains in configured order, then providers in
   configured order.
2. The walk commits *rounds*: round ``r`` holds page ``r`` of every stream that has one.
   A round is committed only once every stream has delivered its page ``r`` or ended, so
   a fast provider cannot reorder what a slow one found.
3. Within a round, streams in order, records in the upstream's own order. An NFT takes the
   position where it was first seen; a later sighting (another provider, a later round)
   merges into it without moving it.

Committed positions never change, so page ``k`` is final as soon as its prefix is
committed: page 1 of a big wallet does not wait for the whole walk. Streams fetch
concurrently and independently; the order does not depend on their timing.

A finished walk is saved as a JSON snapshot (:meth:`WalletWalk.snapshot`) and restored with
:meth:`WalletWalk.restore`, so other replicas, and stale-if-error answers, page the very
same order without walking again. Every page call goes through the provider's guard
(:mod:`gateway.resilience`): deadline, retries, cool-down, breaker, bulkhead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.codec import decode_record, encode_record
from gateway.merging import Holding, SpamFilter, merge_holding
from gateway.resilience import ProviderGuards
from providers.base import NFTSource
from providers.errors import ProviderCursorExpired, ProviderError
from providers.models import Chain, HoldingsPage, NFTKey, NFTRecord

__all__ = ["StreamReport", "WalletWalk"]

logger = logging.getLogger(__name__)

_COMMITTED = HoldingsPage(records=())

# A stream whose cursor expired restarts from its first page at most this often.
MAX_RESTARTS = 2
# Bump when the snapshot's JSON shape changes (old snapshots then read as misses).
SNAPSHOT_VERSION = 1


@dataclass(slots=True)
class StreamReport:
    """How one provider did on one chain during a walk."""

    provider: str
    chain: Chain
    status: str = "pending"  # pending | ok | failed | truncated
    error_kind: str | None = None
    error_message: str | None = None
    pages: int = 0
    records: int = 0
    total_count: int | None = None
    latency_ms: float = 0.0


@dataclass(slots=True)
class _Stream:
    source: NFTSource
    chain: Chain
    report: StreamReport
    pages: list[HoldingsPage] = field(default_factory=list)
    done: bool = False


class WalletWalk:
    """Walks one wallet across streams; readers wait on :meth:`wait_for`."""

    def __init__(
        self,
        owner: str,
        sources: Sequence[NFTSource],
        chains: Sequence[Chain],
        priority: Mapping[str, Sequence[str]],
        *,
        cap: int,
        provider_deadline: float,
        guards: ProviderGuards | None = None,
    ) -> None:
        self.owner = owner
        self._priority = priority
        self._cap = cap
        self._deadline = provider_deadline
        self._guards = guards
        self._restored_reports: list[StreamReport] = []
        self._streams = [
            _Stream(source, chain, StreamReport(source.name, chain))
            for chain in chains
            for source in sources
            if source.supports(chain)
        ]
        self._order: list[NFTKey] = []
        self._records: dict[NFTKey, dict[str, NFTRecord]] = {}
        self._holdings: dict[NFTKey, Holding] = {}
        self._next_round = 0
        self._progress = asyncio.Condition()
        self.complete = False
        self.started_at = time.monotonic()

    # -- reading -----------------------------------------------------------------------

    @property
    def reports(self) -> list[StreamReport]:
        return [stream.report for stream in self._streams] or self._restored_reports

    @property
    def all_failed(self) -> bool:
        reports = self.reports
        return bool(reports) and all(r.status == "failed" for r in reports)

    @property
    def any_failed(self) -> bool:
        return any(r.status == "failed" for r in self.reports)

    @property
    def exact(self) -> bool:
        """True once the walk ended with every stream read to its end."""
        return self.complete and all(r.status == "ok" for r in self.reports)

    def visible(self, spam: SpamFilter) -> list[Holding]:
        """Committed holdings the filter admits, in walk order."""
        holdings = self._holdings
        return [h for key in self._order if spam.admits((h := holdings[key]).is_spam)]

    def best_total(self, spam: SpamFilter) -> int:
        """The exact count once complete; before that, the best lower bound we know."""
        visible = len(self.visible(spam))
        if self.complete or spam is not SpamFilter.EXCLUDE:
            return visible
        # While walking, a provider's own count (it includes spam) bounds what will come.
        counts = [r.total_count for r in self.reports if r.total_count]
        return max([visible, *counts]) if counts else visible

    async def wait_for(self, needed: int, spam: SpamFilter, *, exact_wait: float) -> None:
        """Return when the walk is complete, or when ``needed`` visible holdings are
        committed and ``exact_wait`` seconds (spent hoping for an exact total) are over."""
        loop = asyncio.get_running_loop()
        exact_until = loop.time() + exact_wait
        async with self._progress:
            while not self.complete:
                remaining = exact_until - loop.time()
                if remaining <= 0 and len(self.visible(spam)) >= needed:
                    return
                try:
                    async with asyncio.timeout(remaining if remaining > 0 else None):
                        await self._progress.wait()
                except TimeoutError:
                    continue

    # -- walking -----------------------------------------------------------------------

    async def run(self) -> None:
        """Walk every stream to its end (or failure, or the cap), committing as it goes."""
        try:
            await asyncio.gather(*(self._walk_stream(stream) for stream in self._streams))
        finally:
            self.complete = True
            await self._commit()

    async def _walk_stream(self, stream: _Stream) -> None:
        report = stream.report
        cursor: str | None = None
        seen: set[str] = set()
        restarts = 0
        try:
            while True:
                started = time.monotonic()
                try:
                    page = await self._fetch_page(stream, cursor)
                except ProviderCursorExpired:
                    if restarts >= MAX_RESTARTS:
                        raise
                    restarts, cursor = restarts + 1, None  # records dedupe on the way again
                    seen.clear()
                    continue
                report.latency_ms += (time.monotonic() - started) * 1000
                report.pages += 1
                report.records += len(page.records)
                if page.total_count is not None:
                    report.total_count = page.total_count
                stream.pages.append(page)
                await self._commit()
                cursor = page.next_cursor
                if cursor is None:
                    report.status = "ok"
                    return
                if cursor in seen or report.records >= self._cap:
                    report.status = "truncated"  # a looping cursor or the walk cap
                    return
                seen.add(cursor)
        except TimeoutError:
            report.status, report.error_kind = "failed", "timeout"
            report.error_message = f"no answer within {self._deadline:g}s"
        except ProviderError as exc:
            report.status, report.error_kind, report.error_message = "failed", exc.kind, exc.message
        except Exception:  # the aggregation boundary: one broken adapter costs its own data
            logger.exception("%s walk on %s failed unexpectedly", report.provider, report.chain)
            report.status, report.error_kind = "failed", "internal"
            report.error_message = "unexpected adapter failure"
        finally:
            stream.done = True
            await self._commit()

    async def _fetch_page(self, stream: _Stream, cursor: str | None) -> HoldingsPage:
        source, chain = stream.source, stream.chain
        if self._guards is None:
            async with asyncio.timeout(self._deadline):
                return await source.fetch_holdings_page(self.owner, chain, cursor)
        return await self._guards.call(
            source.name,
            "holdings",
            lambda: source.fetch_holdings_page(self.owner, chain, cursor),
        )

    async def _commit(self) -> None:
        """Commit every round that all streams have delivered (or ended before)."""
        async with self._progress:
            while self._round_ready(self._next_round):
                for stream in self._streams:
                    if self._next_round < len(stream.pages):
                        self._add(stream.pages[self._next_round].records)
                        stream.pages[self._next_round] = _COMMITTED  # keep memory to one copy
                self._next_round += 1
            self._progress.notify_all()

    def _round_ready(self, index: int) -> bool:
        pending = [s for s in self._streams if index < len(s.pages)]
        return bool(pending) and all(index < len(s.pages) or s.done for s in self._streams)

    def _add(self, records: Sequence[NFTRecord]) -> None:
        for record in records:
            key = record.key
            known = self._records.get(key)
            if known is None:
                known = self._records[key] = {}
                self._order.append(key)
            known[record.source] = record
            self._holdings[key] = merge_holding(list(known.values()), self._priority)

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The committed holdings (each with every provider's record) and the reports, as
        JSON-ready data; :meth:`restore` rebuilds an equal, complete walk from it."""
        return {
            "version": SNAPSHOT_VERSION,
            "owner": self.owner,
            "holdings": [
                [encode_record(record) for record in self._records[key].values()]
                for key in self._order
            ],
            "reports": [_report_json(report) for report in self.reports],
        }

    @classmethod
    def restore(cls, data: Mapping[str, Any], priority: Mapping[str, Sequence[str]]) -> WalletWalk:
        """A complete walk from :meth:`snapshot`'s data. Raises ``ValueError`` (or
        ``KeyError``/``TypeError``) when the data is not a snapshot of this version."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError("not a wallet snapshot of this version")
        walk = cls(str(data["owner"]), (), (), priority, cap=0, provider_deadline=0.0)
        for records in data["holdings"]:
            walk._add([decode_record(record) for record in records])
        walk._restored_reports = [_report_from_json(report) for report in data["reports"]]
        walk.complete = True
        return walk


def _report_json(report: StreamReport) -> dict[str, Any]:
    data = asdict(report)
    data["chain"] = report.chain.value
    return data


def _report_from_json(data: Mapping[str, Any]) -> StreamReport:
    return StreamReport(**{**data, "chain": Chain(data["chain"])})
