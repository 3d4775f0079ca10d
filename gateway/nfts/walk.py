"""A wallet walk: every provider × chain stream, paged to the end, merged as it goes.

The order of a wallet's holdings is defined here, and it is the one order every face
pages over:

1. Streams are the (chain, provider) pairs, chains in configured order, then providers in
   configured order.
2. *Rounds*: round ``r`` holds page ``r`` of every stream that has one.
3. Within a round, streams in order, records in the upstream's own order. An NFT takes the
   position where it was first seen; a later sighting (another provider, a later round)
   merges into it without moving it.

A chain's part of a round is committed (readers see its holdings) once every stream of
that chain, and of every chain before it, has delivered its page ``r`` or ended, so a fast
provider cannot reorder what a slow one found, and a page shows every provider's view of
its NFTs: an NFT's key names its chain, so no later page of the round can merge into
them. Committed positions never change, so page ``k`` is final as soon as its prefix is
committed: page 1 of a big wallet does not wait for the whole walk, and page 1 of a wallet
whose first chain holds more than a page does not wait for the other chains' list calls
(the service asks for one holding past the page, so that ``hasNextPage`` is exact).
Streams fetch concurrently and independently; the order does not depend on their timing.
The pages of a round are merged in that order as soon as every page before them is there,
so the first chain's are merged while the other chains' list calls are still out, not all
at once when the last of them lands (a cold page's critical path).

A finished walk is saved as a JSON snapshot and restored from one (:mod:`.snapshot`), so
other replicas, and stale-if-error answers, page the very same order without walking again.
Every page call goes through the provider's guard (:mod:`gateway.resilience`): deadline,
retries, cool-down, breaker, bulkhead.

Readers are many and commits are few, so what readers ask for is kept between commits:
:meth:`WalletWalk.visible` is computed once per filter and :attr:`WalletWalk.version`
(bumped by every commit, and when the operator's spam lists change) says when it is stale.
The spam verdict (:mod:`gateway.nfts.spam`) is given as the walk commits, once per merged
holding (not by the first reader of a long walk, all at once: every request waited), and
again for every holding, by :meth:`WalletWalk.visible`, when the operator's lists change.
Memory is the other cost of a big wallet:
holdings live in one insertion-ordered dict (the walk order), values repeated across a
wallet (contract addresses, slugs, collection names, traits, owner lists, floors) are
stored once per walk, and a second provider's record of an NFT reuses the first one's equal
strings and trait list.

Over 400 lines on purpose: streams, rounds, the commit order and the interning above share
one mutable state (the walk); the snapshot codec already lives apart (:mod:`.snapshot`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from gateway.nfts.merging import Holding, NsfwFilter, SpamFilter, merge_holding
from gateway.nfts.pages import ProviderReport, ProviderStatus, client_message
from gateway.nfts.spam import NO_LISTS, ContractLists, SpamJudge, judge
from gateway.resilience import CallMeter, ProviderGuards
from providers.base import NFTSource
from providers.errors import ProviderCursorExpired, ProviderError
from providers.models import Chain, HoldingsPage, NFTKey, NFTRecord

__all__ = ["REFUSALS", "StreamReport", "StreamStatus", "WalletWalk"]

logger = logging.getLogger(__name__)

_COMMITTED = HoldingsPage(records=())

# A stream whose cursor expired restarts from its first page at most this often.
MAX_RESTARTS = 2
# Failures that are the upstream refusing the request itself (a 4xx other than 429: the
# key, the account or chain it does not know, a tier, a route it lacks): asked again at
# once, it answers the same (see WalkRegistry.known).
REFUSALS = frozenset({"auth", "not_found", "locked", "not_entitled", "bad_request", "unsupported"})
# A page is merged this many records at a time, the event loop served in between (_merge).
MERGE_SLICE = 50

# String fields whose values repeat across a wallet: one instance per walk.
_POOLED_FIELDS = (
    "contract_address",
    "collection_name",
    "collection_slug",
    "collection_opensea_slug",
)
# String fields particular to one NFT: a second provider's record reuses the first's.
_PER_NFT_FIELDS = ("token_id", "name", "description", "image", "animation_url")
_serials = itertools.count(1)


class StreamStatus(StrEnum):
    PENDING = "pending"
    OK = "ok"  # read to its end
    FAILED = "failed"
    TRUNCATED = "truncated"  # a looping cursor or the walk cap: what it gave counts


@dataclass(slots=True)
class StreamReport:
    """How one provider did on one chain during a walk."""

    provider: str
    chain: Chain
    status: StreamStatus = StreamStatus.PENDING
    error_kind: str | None = None
    error_message: str | None = None
    pages: int = 0
    records: int = 0
    total_count: int | None = None
    latency_ms: float = 0.0

    def as_report(self) -> ProviderReport:
        """This stream as one part of its provider's report (see ``combine_reports``)."""
        failed = self.status is StreamStatus.FAILED
        return ProviderReport(
            provider=self.provider,
            status=ProviderStatus.FAILED if failed else ProviderStatus.OK,
            error_kind=self.error_kind if failed else None,
            error_message=self.error_message if failed else None,
            failed_chains=(self.chain.value,) if failed else (),
            latency_ms=round(self.latency_ms, 1),
        )


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
        spam_judge: SpamJudge | None = None,
    ) -> None:
        self.owner = owner
        self._priority = priority
        self._spam_judge = spam_judge
        # The lists the verdicts were given under (visible() judges again when they change).
        self._lists: ContractLists = spam_judge.lists() if spam_judge is not None else NO_LISTS
        self._lists_seen: ContractLists | None = None
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
        # Insertion-ordered: the walk order. A later sighting replaces the value in place.
        self._holdings: dict[NFTKey, Holding] = {}
        self._unjudged: dict[NFTKey, None] = {}  # new holdings since the last commit point
        self._pool: dict[Any, Any] = {}  # values shared within this wallet (see _compact)
        self._visible: dict[tuple[SpamFilter, NsfwFilter], tuple[int, tuple[Holding, ...]]] = {}
        self._next_round = 0  # the page whose turn it is to be merged: (round, stream)
        self._next_stream = 0
        self._committed = 0  # holdings of the committed (round, chain) parts: what readers see
        self._progress = asyncio.Condition()
        self.complete = False
        self.started_at = time.monotonic()
        # When this walk asked the providers (Unix seconds): what ``fetchedAt`` says, and
        # what a client's ``maxAge`` is measured against. A restored walk keeps its own.
        self.fetched_at = time.time()
        # ``serial`` names this walk among every walk of the process; ``version`` counts
        # its commits. Together they say whether something computed from it is current.
        self.serial = next(_serials)
        # The list calls made and not yet reported in an answer's cost (see NFTService).
        self.meter = CallMeter()
        self._version = 0

    @property
    def version(self) -> int:
        """Bumped by every commit, and when the operator's spam lists change."""
        if self._spam_judge is not None:
            lists = self._spam_judge.lists()
            if lists is not self._lists_seen:
                self._lists_seen = lists
                self._version += 1  # every verdict is given again (see visible)
        return self._version

    # -- reading -----------------------------------------------------------------------

    @property
    def reports(self) -> list[StreamReport]:
        return [stream.report for stream in self._streams] or self._restored_reports

    @property
    def size(self) -> int:
        """How many holdings the walk holds (spam included; a round being merged too)."""
        return len(self._holdings)

    @property
    def all_failed(self) -> bool:
        reports = self.reports
        return bool(reports) and all(r.status is StreamStatus.FAILED for r in reports)

    @property
    def any_failed(self) -> bool:
        return any(r.status is StreamStatus.FAILED for r in self.reports)

    @property
    def may_answer_otherwise(self) -> bool:
        """Whether a failed stream may answer otherwise if asked again now: any failure but
        the upstream refusing the request itself (see :data:`REFUSALS`)."""
        return any(
            r.status is StreamStatus.FAILED and r.error_kind not in REFUSALS for r in self.reports
        )

    @property
    def exact(self) -> bool:
        """True once the walk ended with every stream read to its end."""
        return self.complete and all(r.status is StreamStatus.OK for r in self.reports)

    @property
    def holdings(self) -> Iterable[Holding]:
        """Every holding merged so far (spam included), in walk order: all of them, and
        all committed, once the walk is complete."""
        return self._holdings.values()

    def holds(self, key: NFTKey) -> bool:
        """Whether ``key`` is among the holdings merged so far."""
        return key in self._holdings

    def outdate_pages(self) -> None:
        """Say that pages built from this walk are out of date (an NFT of it was refreshed):
        the page caches, which check :attr:`version`, build them again."""
        self._version += 1

    def visible(
        self, spam: SpamFilter, nsfw: NsfwFilter = NsfwFilter.INCLUDE
    ) -> tuple[Holding, ...]:
        """Committed holdings the filters admit, in walk order (computed once per commit)."""
        version = self.version
        cached = self._visible.get((spam, nsfw))
        if cached is not None and cached[0] == version:
            return cached[1]
        self._judge_holdings()
        committed = itertools.islice(self._holdings.values(), self._committed)
        admitted = tuple(h for h in committed if spam.admits(h.is_spam) and nsfw.admits(h.is_nsfw))
        self._visible[(spam, nsfw)] = (version, admitted)
        return admitted

    def _judge_holdings(self) -> None:
        """Every holding judged again when the operator's lists changed (each has its
        verdict from the commit that made it readable, see :meth:`_judge_new`)."""
        lists = self._spam_judge.lists() if self._spam_judge is not None else NO_LISTS
        if lists is self._lists:
            return
        self._lists = lists
        holdings = self._holdings
        for key, holding in holdings.items():
            holdings[key] = holding.judged(judge(holding.nft, lists))

    def _judge_new(self) -> None:
        """Verdicts for the holdings new since the last commit point, as they become
        readable: spread over the walk rather than given all at once by its first reader
        (10,000 of them took 110-160 ms of the event loop on a 2-core host). A committed
        holding a later record merges into is judged then (see :meth:`_add`)."""
        holdings, lists = self._holdings, self._lists
        for key in self._unjudged:
            holding = holdings[key]
            if holding.spam is None:
                holdings[key] = holding.judged(judge(holding.nft, lists))
        self._unjudged.clear()

    def best_total(self, spam: SpamFilter, nsfw: NsfwFilter = NsfwFilter.INCLUDE) -> int:
        """The exact count once complete; before that, the best lower bound we know."""
        visible = len(self.visible(spam, nsfw))
        if self.complete or spam is not SpamFilter.EXCLUDE or nsfw is not NsfwFilter.INCLUDE:
            return visible
        # While walking, a provider's own count (it includes spam) bounds what will come.
        counts = [r.total_count for r in self.reports if r.total_count]
        return max([visible, *counts]) if counts else visible

    async def wait_for(
        self,
        needed: int | None,
        spam: SpamFilter,
        *,
        exact_wait: float,
        nsfw: NsfwFilter = NsfwFilter.INCLUDE,
    ) -> None:
        """Return when the walk is complete, or when ``needed`` visible holdings are
        committed and ``exact_wait`` seconds (spent hoping for an exact total) are over.
        ``needed=None``: the whole wallet, so only when the walk is complete."""
        loop = asyncio.get_running_loop()
        exact_until = loop.time() + exact_wait
        async with self._progress:
            while not self.complete:
                remaining = exact_until - loop.time()
                if (
                    remaining <= 0
                    and needed is not None
                    and len(self.visible(spam, nsfw)) >= needed
                ):
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
                    report.status = StreamStatus.OK
                    return
                if cursor in seen or report.records >= self._cap:
                    report.status = StreamStatus.TRUNCATED
                    return
                seen.add(cursor)
        except TimeoutError:
            report.status, report.error_kind = StreamStatus.FAILED, "timeout"
            report.error_message = f"no answer within {self._deadline:g}s"
        except ProviderError as exc:
            report.status, report.error_kind = StreamStatus.FAILED, exc.kind
            report.error_message = client_message(report.provider, exc)
        except Exception:  # the aggregation boundary: one broken adapter costs its own data
            logger.exception("%s walk on %s failed unexpectedly", report.provider, report.chain)
            report.status, report.error_kind = StreamStatus.FAILED, "internal"
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
            meter=self.meter,
        )

    async def _commit(self) -> None:
        """Merge every page whose turn has come: the next (round, stream) in order, as
        long as its stream delivered it (or ended before that round: nothing to add);
        commit what is merged whenever a chain's pages of the round are all in."""
        async with self._progress:
            merged, committed = False, self._committed
            streams = self._streams
            while self._next_ready():
                stream = streams[self._next_stream]
                if self._next_round < len(stream.pages):
                    await self._merge(stream.pages[self._next_round].records)
                    stream.pages[self._next_round] = _COMMITTED  # keep memory to one copy
                    merged = True
                self._next_stream += 1
                if self._next_stream == len(streams):  # the round is merged
                    self._next_round, self._next_stream = self._next_round + 1, 0
                    self._committed = len(self._holdings)
                elif streams[self._next_stream].chain is not stream.chain:
                    self._committed = len(self._holdings)  # this chain's part of the round
            if all(stream.done for stream in streams):
                self._committed = len(self._holdings)  # every page is merged
            if self._committed != committed:
                self._judge_new()
            if merged or self._committed != committed:  # what visible() kept is stale
                self._version += 1
            self._progress.notify_all()

    def _next_ready(self) -> bool:
        """Whether the page whose turn it is can be merged, or passed over (its stream
        ended before that round) with pages still to come after it."""
        streams = self._streams
        if not streams:
            return False
        stream = streams[self._next_stream]
        if self._next_round < len(stream.pages):
            return True
        return stream.done and any(
            not other.done or self._next_round < len(other.pages) for other in streams
        )

    async def _merge(self, records: Sequence[NFTRecord]) -> None:
        """:meth:`_add` ``records`` :data:`MERGE_SLICE` at a time, serving the event loop in
        between: a provider's page of 100-200 NFTs is 15-30 ms of merging and judging on a
        2-core host, every other request of the process waiting. Other commits wait for this
        one (the caller holds the lock); readers see no new holding before its commit, and a
        committed one a slice merged into as merged."""
        for start in range(0, len(records), MERGE_SLICE):
            if start:
                await asyncio.sleep(0)
            self._add(records[start : start + MERGE_SLICE])

    def _add(self, records: Sequence[NFTRecord]) -> None:
        """Merge ``records``. A holding not committed yet is judged at the commit point
        that commits it (once, whatever else merges into it before); a committed one a
        later record merges into is judged at once, as readers see it."""
        holdings, unjudged, lists = self._holdings, self._unjudged, self._lists
        for record in records:
            known = holdings.get(record.key)
            record = self._compact(record, known)
            if known is None:  # the key built after _compact holds the pooled strings
                holdings[record.key] = merge_holding((record,), self._priority)
                unjudged[record.key] = None
                continue
            # A provider's later record takes its earlier one's place (the key stays put).
            source = record.source
            views = [record if r.source == source else r for r in known.records]
            if not any(r.source == source for r in known.records):
                views.append(record)
            merged = merge_holding(views, self._priority)
            committed = known.key not in unjudged  # commit points commit all merged so far
            holdings[known.key] = merged.judged(judge(merged.nft, lists)) if committed else merged

    def _compact(self, record: NFTRecord, known: Holding | None) -> NFTRecord:
        """``record`` with its values shared: wallet-wide ones from this walk's pool, and
        strings equal to the ones ``known`` (the NFT's holding so far) already holds."""
        pool = self._pool
        changes: dict[str, Any] = {}
        for name in _POOLED_FIELDS:
            value = getattr(record, name)
            if value is not None and (shared := pool.setdefault(value, value)) is not value:
                changes[name] = shared
        if known is not None:
            nft = known.nft
            for name in _PER_NFT_FIELDS:
                value, held = getattr(record, name), getattr(nft, name)
                if value is not None and held is not value and held == value:
                    changes[name] = held
        if record.traits:  # the trait lists differ, their (type, value) pairs repeat
            traits = tuple(pool.setdefault(trait, trait) for trait in record.traits)
            held_traits = known.nft.traits if known is not None else None
            changes["traits"] = held_traits if held_traits == traits else traits
        if record.owner_addresses is not None:
            owners = record.owner_addresses
            changes["owner_addresses"] = pool.setdefault(("owners", owners), owners)
        if record.floor is not None:  # a collection's floor, quoted alike on every NFT of it
            changes["floor"] = pool.setdefault(record.floor, record.floor)
        return replace(record, **changes) if changes else record

    # -- restoring -----------------------------------------------------------------------

    @classmethod
    def restored(
        cls,
        owner: str,
        holdings: Iterable[Sequence[NFTRecord]],
        reports: Sequence[StreamReport],
        priority: Mapping[str, Sequence[str]],
        *,
        fetched_at: float,
        spam_judge: SpamJudge | None = None,
    ) -> WalletWalk:
        """A complete walk of ``holdings`` (each: every provider's record of one NFT, in
        walk order) as another walk reported them (see :mod:`.snapshot`), read from the
        providers at ``fetched_at``. Verdicts are given again, here, under this replica's
        lists."""
        walk = cls(owner, (), (), priority, cap=0, provider_deadline=0.0, spam_judge=spam_judge)
        walk.fetched_at = fetched_at
        for records in holdings:
            walk._add(records)
        walk._judge_new()  # in the caller's thread: a big snapshot is decoded off the loop
        walk._restored_reports = list(reports)
        walk.complete = True
        walk._committed = walk.size
        walk._version = 1
        return walk
