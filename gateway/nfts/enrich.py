"""Per-NFT detail and collection facts for the holdings of one page, in batches.

Upstream calls are the scarce resource (an OpenSea instant key reads 600 times an hour), so
a page's details come from one batch call per detail provider and chain
(:class:`~providers.base.NFTBatchDetailSource`: ``POST /api/v2/nfts/batch``) and its
collections from one more (``/collections/batch``), both cached long (``enrichment_ttl``,
``collection_ttl``; failures never are). A batch starts at ``opensea_batch_size`` items; a
server that refuses the size (a 400 saying so) gets half, and that size is remembered. A
server without the batch routes gets the per-NFT and per-collection GETs of
:class:`NFTDetailSource`, one call each. Whether the routes exist is asked once per
process (:meth:`Enricher.learn_routes`, an empty ``/collections/batch`` beside the first
walk's list calls), so no page pays a 404 round trip to find out.

A cold page costs one wave after its list calls: details, collections (and, in the
service, floors) go out together; collections cached as unranked spare the calls that
could only add a rank (on a cold page they are not known yet, and those NFTs ride along
in the one detail batch).

No detail call is made where the list calls already gave all it could add: an ERC-721
with traits, quantity and owner known, of a collection cached as unranked. An ERC-1155 with
more than 50 holders comes back without its balance; unless a list call gave the balance
(Alchemy's), its ``/owners`` pages are walked at owner-walk priority, at most
:data:`OWNERS_MAX_PAGES`, and what they told is cached per token, so the next wallet
holding it starts where the last walk stopped.

Every call goes through the provider's guard at its priority (details before collections
before owner walks), within the request's deadline, counted on the request's meter. A
call the budget cannot pay in time fails like any other: the holdings it was for keep
their list data and the answer says ``partial`` with ``errorKind`` ``budget``.

(Over 400 lines: details, collections and balances share one request's state, meter and
deadline, and the batch splitting and fallbacks they have in common.)
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeGuard, TypeVar

from gateway.cache.codec import decode_collection, decode_record, encode_collection, encode_record
from gateway.cache.shared import SharedCache, cache_key
from gateway.nfts.merging import Holding, with_record
from gateway.resilience import CallMeter, Priority, ProviderGuards, request_meter
from gateway.settings import Settings
from providers.base import NFTBatchDetailSource, NFTDetailSource, WarmableSource
from providers.errors import (
    ProviderBadRequest,
    ProviderBatchTooLarge,
    ProviderError,
    ProviderNotFound,
    ProviderUnsupported,
)
from providers.models import (
    Chain,
    CollectionInfo,
    NFTKey,
    NFTRecord,
    OwnersPage,
    Rarity,
    TokenStandard,
)

__all__ = ["OWNERS_MAX_PAGES", "Enricher"]

# /owners pages walked per token at most (100 holders each): past that, unknown, not guessed.
OWNERS_MAX_PAGES = 20
# How long a fetch's marker lives: long enough for other replicas' waiters to see it,
# short next to a refresh (which drops cached details) a client might follow up with.
FLIGHT_TTL = 1.0

T = TypeVar("T")
Failures = list[tuple[str, ProviderError]]


@dataclass(slots=True)
class _Request:
    """One enrich call: whose page, its failures, its meter and deadline."""

    owner: str
    failures: Failures
    meter: CallMeter
    deadline: float | None
    # NFTs whose balance in the wallet a list call already gave (Alchemy's ``balance``):
    # no ``/owners`` walk on the page's critical path for them.
    balances: frozenset[NFTKey] = frozenset()


class Enricher:
    """Adds detail-provider facts to holdings; a failed call costs its holdings' details only."""

    def __init__(
        self,
        detail_sources: Sequence[NFTDetailSource],
        cache: SharedCache,
        settings: Settings,
        guards: ProviderGuards,
    ) -> None:
        self._details = {source.name: source for source in detail_sources}
        # Known once: a runtime protocol check walks the protocol's members every time.
        self._batch_sources = {
            source.name: source
            for source in detail_sources
            if isinstance(source, NFTBatchDetailSource)
        }
        self._warmable = [source for source in detail_sources if isinstance(source, WarmableSource)]
        self._opening: set[asyncio.Task[None]] = set()  # see open_connections
        self._cache = cache
        self._settings = settings
        self._priority = settings.field_priority
        self._guards = guards
        # Per (provider, route): the batch size the server accepts, as far as we know.
        self._batch_sizes: dict[tuple[str, str], int] = {}
        self._batchless: set[str] = set()  # providers whose server has no batch routes
        self._route_checks: dict[str, asyncio.Task[None]] = {}  # see learn_routes

    async def enrich(
        self,
        owner: str,
        page: Sequence[Holding],
        failures: Failures,
        *,
        meter: CallMeter | None = None,
        deadline: float | None = None,
    ) -> list[Holding]:
        """Detail and collection facts for ``page``; failed calls land in ``failures``."""
        balances = frozenset(h.key for h in page if h.nft.quantity is not None)
        request = _Request(owner, failures, meter or request_meter(), deadline, balances)
        holdings = list(page)
        for source in self._details.values():
            holdings = await self._enrich_from(source, holdings, request)
        return holdings

    async def _enrich_from(
        self, source: NFTDetailSource, holdings: list[Holding], request: _Request
    ) -> list[Holding]:
        name = source.name
        listed = {
            index: record
            for index, holding in enumerate(holdings)
            if (record := holding.record_from(name)) is not None and _needs_detail(holding)
        }
        if not listed:
            return holdings
        await self._routes_known(source)
        # Collections and details in one wave (a cold page is a round trip shorter).
        # A collection cached as unranked spares the details that could only add a
        # rank; on a cold page nothing is known yet and every detail is asked (in a
        # batch that costs no extra call, only extra items).
        page = list(listed.values())
        known = await self._cached_collections(source, page)
        cached = await self._peek_details(source, page, request)
        wanted = [
            record
            for index, record in listed.items()
            if not (
                _detail_adds_only_rarity(holdings[index])
                and (info := known.get(_slug(record) or "")) is not None
                and info.ranked is False
            )
        ]
        # The detail batch first: the largest answer, the one to send soonest.
        details, infos = await asyncio.gather(
            self._details_of(source, wanted, request, page, cached),
            self._collections(source, page, known, request),
        )
        enriched = list(holdings)
        for index, record in listed.items():
            info = infos.get(_slug(record) or "")
            detail = details.get(record.key)
            if detail is None:
                if info is None:
                    continue
                detail = _with_collection(record, info)
            else:
                # with_record keeps the verdict the list calls gave: it decided the
                # holding's place in the filtered order, which must not shift.
                detail = _with_collection(detail, info)
            enriched[index] = with_record(holdings[index], detail, self._priority)
        return enriched

    # -- details ---------------------------------------------------------------------

    async def _details_of(
        self,
        source: NFTDetailSource,
        records: list[NFTRecord],
        request: _Request,
        page: list[NFTRecord],
        found: dict[NFTKey, NFTRecord],
    ) -> dict[NFTKey, NFTRecord]:
        """Each record's detail from the cache (``found``: what it held of ``page``),
        fetching the missing ones first.

        Concurrent requests for the same records of a ``page`` (here or on another
        replica) share one fetch, whatever each of them knew of the collections when it
        asked: the fetch is named by the page's records whose detail is not cached. The
        request that fetched keeps what arrived; the others read it from the cache."""
        if not records:
            return {}
        missing = [r for r in records if r.key not in found]
        if not missing:
            return found
        uncached = ",".join(sorted(_id(r) for r in page if r.key not in found))
        fetched: dict[NFTKey, NFTRecord] = {}
        try:
            await self._cache.get_or_fetch(
                cache_key("details", source.name, request.owner, _digest(uncached)),
                lambda: self._fetch_details(source, missing, request, fetched),
                ttl=FLIGHT_TTL,
                encode=lambda count: count,
                decode=lambda count: int(count),
            )
        except ProviderError as exc:
            request.failures.append((source.name, exc))
        unread = [r for r in missing if r.key not in fetched]
        return found | fetched | await self._peek_details(source, unread, request)

    async def _peek_details(
        self, source: NFTDetailSource, records: list[NFTRecord], request: _Request
    ) -> dict[NFTKey, NFTRecord]:
        keys = [self._detail_key(source, r, request) for r in records]
        cached = await self._cache.peek_many(keys, decode_record)
        return {r.key: hit for r, hit in zip(records, cached, strict=True) if hit is not None}

    async def _fetch_details(
        self,
        source: NFTDetailSource,
        records: list[NFTRecord],
        request: _Request,
        into: dict[NFTKey, NFTRecord],
    ) -> int:
        """Fetch and cache (per NFT) the details of ``records`` not cached yet: in batches
        per chain, or one by one from a server without batch routes; each detail found
        goes ``into`` the caller's dict too. Raises the first failure (what did arrive is
        cached and kept all the same); returns how many arrived."""
        # Looked up again: under load this flight may start after another replica's
        # (whose marker lives FLIGHT_TTL) has cached what this request peeked for.
        found = await self._peek_details(source, records, request)
        into.update(found)
        missing = [r for r in records if r.key not in found]
        fetched: list[NFTRecord] = []
        errors: list[BaseException] = []
        if self._batches(source):
            by_chain: dict[Chain, list[NFTRecord]] = {}
            for record in missing:
                by_chain.setdefault(record.chain, []).append(record)
            parts = await _each(
                [self._batch_details(source, c, rs, request) for c, rs in by_chain.items()]
            )
            if any(isinstance(part, ProviderUnsupported) for part in parts):
                self._batchless.add(source.name)
            else:
                for part in parts:
                    if isinstance(part, BaseException):
                        errors.append(part)
                    else:
                        fetched.extend(part)
        if not self._batches(source):
            singles = await asyncio.gather(
                *(self._single_detail(source, r, request) for r in missing),
                return_exceptions=True,
            )
            # A 404 is an NFT the server does not know: left out, as the batch leaves it
            # out, not the page's failure (the page would never be kept, nor its calls end).
            errors += [
                one
                for one in singles
                if isinstance(one, BaseException) and not isinstance(one, ProviderNotFound)
            ]
            fetched = [one for one in singles if isinstance(one, NFTRecord)]
        into.update((detail.key, detail) for detail in fetched)
        ttl = self._settings.enrichment_ttl
        await self._cache.set_each(
            [(self._detail_key(source, d, request), encode_record(d), ttl) for d in fetched],
            behind=True,
        )
        if errors:
            raise errors[0]
        return len(fetched)

    async def _batch_details(
        self,
        source: NFTBatchDetailSource,
        chain: Chain,
        records: list[NFTRecord],
        request: _Request,
    ) -> list[NFTRecord]:
        """Details of ``records`` (one chain) in as few calls as the server allows; a failed
        call costs its own records (in ``failures``), not the others'."""

        async def fetch(chunk: Sequence[NFTRecord]) -> Sequence[NFTRecord]:
            return await self._guarded(
                source.name,
                "detail_batch",
                lambda: source.fetch_nft_batch(request.owner, chain, chunk),
                Priority.DETAIL,
                request,
            )

        details = await self._in_batches(source.name, "nfts", records, fetch, None)
        lacking = [detail for detail in details if _lacks_balance(detail, request)]
        if not lacking:  # the usual page: no task per detail for a walk it does not need
            return details
        walks = [self._with_balance(source, detail, request) for detail in lacking]
        walked = {detail.key: detail for detail in await asyncio.gather(*walks)}
        return [walked.get(detail.key, detail) for detail in details]

    async def _single_detail(
        self, source: NFTDetailSource, record: NFTRecord, request: _Request
    ) -> NFTRecord:
        return await self._guarded(
            source.name,
            "detail",
            lambda: source.fetch_nft_detail(request.owner, record),
            Priority.DETAIL,
            request,
        )

    async def _with_balance(
        self, source: NFTBatchDetailSource, detail: NFTRecord, request: _Request
    ) -> NFTRecord:
        """``detail`` (see :func:`_lacks_balance`) with the wallet's balance from the
        token's ``/owners`` pages (walked once per token, cached)."""
        key = cache_key(
            "owners", source.name, detail.chain, detail.contract_address, detail.token_id
        )
        state = await self._cache.get(key)
        holders: dict[str, str] = dict(state["holders"]) if isinstance(state, dict) else {}
        cursor = state.get("next") if isinstance(state, dict) else None
        pages = int(state.get("pages", 0)) if isinstance(state, dict) else 0
        done = bool(state.get("done")) if isinstance(state, dict) else False
        walked = False
        while request.owner not in holders and not done and pages < OWNERS_MAX_PAGES:
            try:
                entries, next_cursor = await self._owners_page(source, detail, cursor, request)
            except ProviderError as exc:
                request.failures.append((source.name, exc))
                break
            walked, pages = True, pages + 1
            holders.update((address, str(q)) for address, q in entries if q is not None)
            done = next_cursor is None or next_cursor == cursor
            cursor = next_cursor
        if walked:
            value = {"holders": holders, "next": cursor, "pages": pages, "done": done}
            await self._cache.set(key, value, self._settings.enrichment_ttl)
        quantity = holders.get(request.owner)
        return replace(detail, quantity=int(quantity)) if quantity is not None else detail

    async def _owners_page(
        self,
        source: NFTBatchDetailSource,
        detail: NFTRecord,
        cursor: str | None,
        request: _Request,
    ) -> OwnersPage:
        return await self._guarded(
            source.name,
            "owners",
            lambda: source.fetch_owners_page(detail, cursor),
            Priority.OWNERS,
            request,
        )

    def _detail_key(self, source: NFTDetailSource, record: NFTRecord, request: _Request) -> str:
        return cache_key(
            "detail",
            source.name,
            record.chain,
            record.contract_address,
            record.token_id,
            request.owner,
        )

    # -- collections -------------------------------------------------------------------

    async def _cached_collections(
        self, source: NFTDetailSource, records: Any
    ) -> dict[str, CollectionInfo]:
        """The collections of ``records`` a cache layer holds; never asks the provider."""
        refs = {(r.chain, slug) for r in records if (slug := _slug(r))}
        keys = [_collection_key(source.name, chain, slug) for chain, slug in refs]
        found = await self._cache.peek_many(keys, decode_collection)
        return {slug: info for (_, slug), info in zip(refs, found, strict=True) if info}

    async def _collections(
        self,
        source: NFTDetailSource,
        records: Any,
        known: dict[str, CollectionInfo],
        request: _Request,
    ) -> dict[str, CollectionInfo]:
        """Every collection of ``records``: the cached ones, the rest in one batch call. A
        collection is a nicety: its failure is not the page's."""
        chains = {slug: r.chain for r in records if (slug := _slug(r))}
        missing = [slug for slug in chains if slug not in known]
        if not missing:
            return known
        infos: list[CollectionInfo] = []
        if self._batches(source):
            try:
                infos = await self._collection_batches(source, chains, request)
            except ProviderUnsupported:
                self._batchless.add(source.name)  # this page asks one by one instead
            except ProviderError:
                return known
        if not self._batches(source):
            singles = await asyncio.gather(
                *(self._single_collection(source, chains[s], s, request) for s in missing)
            )
            infos = [info for info in singles if info is not None]
        found = dict(known)
        found.update((info.slug, info) for info in infos)
        return found

    async def _keep_collections(
        self, provider: str, chains: dict[str, Chain], infos: list[CollectionInfo]
    ) -> None:
        """Cache each fetched collection on its own, for pages that share only some of
        them. Written by the request that fetched, not by every request that shared the
        fetch: a burst of identical pages wrote each collection once per request (~500
        writes queued on the Redis pool past its op timeout, issue 14)."""
        ttl = self._settings.collection_ttl
        await self._cache.set_each(
            [
                (_collection_key(provider, chains[i.slug], i.slug), encode_collection(i), ttl)
                for i in infos
                if i.slug in chains
            ],
            behind=True,
        )

    async def _collection_batches(
        self, source: NFTBatchDetailSource, chains: dict[str, Chain], request: _Request
    ) -> list[CollectionInfo]:
        """``chains``' collections (by slug) by the batch; concurrent requests for the same
        ones (here or on another replica) share one fetch."""
        slugs = sorted(chains)

        async def fetch(chunk: Sequence[str]) -> Sequence[CollectionInfo]:
            return await self._guarded(
                source.name,
                "collection_batch",
                lambda: source.fetch_collection_batch(chunk),
                Priority.COLLECTION,
                request,
            )

        async def fetch_all() -> list[CollectionInfo]:
            infos = await self._in_batches(source.name, "collections", slugs, fetch, None)
            await self._keep_collections(source.name, chains, infos)
            return infos

        infos, _ = await self._cache.get_or_fetch(
            cache_key("collections", source.name, _digest(",".join(slugs))),
            fetch_all,
            ttl=self._settings.collection_ttl,
            encode=lambda found: [encode_collection(i) for i in found],
            decode=lambda data: [decode_collection(i) for i in data],
        )
        return infos

    async def _single_collection(
        self, source: NFTDetailSource, chain: Chain, slug: str, request: _Request
    ) -> CollectionInfo | None:
        """One collection by its own GET (a server without the batch route), cached;
        concurrent requests for it (here or on another replica) share the call."""

        async def fetch() -> CollectionInfo:
            return await self._guarded(
                source.name,
                "collection",
                lambda: source.fetch_collection(chain, slug),
                Priority.COLLECTION,
                request,
            )

        try:
            info, _ = await self._cache.get_or_fetch(
                _collection_key(source.name, chain, slug),
                fetch,
                ttl=self._settings.collection_ttl,
                encode=encode_collection,
                decode=decode_collection,
            )
        except ProviderError:
            return None
        return info

    def open_connections(self, page_size: int) -> None:
        """Beside a cold walk's list calls (an idle wait of one round trip), have open to
        each detail source that can open them as many connections as a page of
        ``page_size`` NFTs may send it at once in its one detail wave (see
        :meth:`_wave_width`). Each one opened here is a handshake the wave does not wait
        for (a round trip or two on TLS), and on the event loop the wave's requests all
        leave as it sends them instead of after it. Idle connections count, so a busy
        gateway opens none. Opened in the background: nothing waits."""
        for source in self._warmable:
            width = self._wave_width(source.name, page_size)
            task = asyncio.create_task(source.open_connections(width))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    def _wave_width(self, name: str, page_size: int) -> int:
        """The most calls a page of ``page_size`` NFTs sends detail source ``name`` at once:
        a floor (``/stats``) per collection the lists left unpriced (20 NFTs may be 20
        collections), and a detail and a collection GET each where the server lacks the
        batch routes, or with them one collections batch and a details batch per chain.
        Before the route check has answered (a process's first page), the routes are
        taken to exist."""
        if name in self._batchless:
            return 3 * page_size
        return page_size + 1 + len(self._settings.chains)

    # -- batch routes ------------------------------------------------------------------

    def learn_routes(self, meter: CallMeter | None = None) -> None:
        """Find out, beside a walk's list calls, whether each batch source's server has
        the batch routes (once per process, or per ``collection_ttl`` when another replica
        said so in the shared cache): a cold page's one detail wave then goes to routes
        that exist, not to a 404 first. Costs one empty ``/collections/batch`` call."""
        for name, source in self._batch_sources.items():
            if name not in self._route_checks:
                self._route_checks[name] = asyncio.create_task(
                    self._check_routes(source, meter or request_meter())
                )

    async def _check_routes(self, source: NFTBatchDetailSource, meter: CallMeter) -> None:
        async def check() -> bool:
            try:
                await self._guards.call(
                    source.name,
                    "collection_batch",
                    lambda: source.fetch_collection_batch(()),
                    priority=Priority.COLLECTION,
                    meter=meter,
                )
            except ProviderUnsupported:
                return False
            except ProviderBadRequest:
                pass  # the route exists: it read the (empty) list and refused it
            return True

        try:
            # One check for every replica (through the shared cache), kept long.
            batches, _ = await self._cache.get_or_fetch(
                cache_key("batch-routes", source.name),
                check,
                ttl=self._settings.collection_ttl,
                encode=lambda found: found,
                decode=bool,
            )
        except ProviderError:
            return  # not known: the page's own batch calls find out
        if not batches:
            self._batchless.add(source.name)

    async def _routes_known(self, source: NFTDetailSource) -> None:
        """Wait for the route check of ``source`` (started with the walk) to end."""
        check = self._route_checks.get(source.name)
        if check is not None and not check.done():
            await asyncio.wait({check})

    def _batches(self, source: NFTDetailSource) -> TypeGuard[NFTBatchDetailSource]:
        """Whether ``source``'s details and collections are asked by the batch."""
        return source.name in self._batch_sources and source.name not in self._batchless

    # -- calls -------------------------------------------------------------------------

    async def _in_batches(
        self,
        provider: str,
        route: str,
        items: Sequence[Any],
        fetch: Callable[[Sequence[Any]], Awaitable[Sequence[T]]],
        request: _Request | None,
    ) -> list[T]:
        """``fetch`` over ``items`` in batches of the size the server accepts, concurrently.
        A refused size is halved (and remembered); a failed batch costs its own items
        (recorded in ``request.failures``; with no request, the error is raised)."""
        size_key = (provider, route)

        async def run(chunk: Sequence[Any]) -> list[T]:
            size = self._batch_sizes.get(size_key, self._settings.opensea_batch_size)
            if len(chunk) > size:
                parts = [chunk[i : i + size] for i in range(0, len(chunk), size)]
                return [item for part in await asyncio.gather(*map(run, parts)) for item in part]
            try:
                return list(await fetch(chunk))
            except ProviderBatchTooLarge:
                if len(chunk) == 1:
                    raise
                self._batch_sizes[size_key] = min(size, max(1, len(chunk) // 2))
                return await run(chunk)
            except ProviderUnsupported:
                raise
            except ProviderError as exc:
                if request is None:
                    raise
                request.failures.append((provider, exc))
                return []

        return await run(items)

    async def _guarded(
        self,
        provider: str,
        operation: str,
        fn: Callable[[], Awaitable[T]],
        priority: Priority,
        request: _Request,
    ) -> T:
        return await self._guards.call(
            provider,
            operation,
            fn,
            priority=priority,
            deadline=request.deadline,
            meter=request.meter,
        )


async def _each(calls: list[Coroutine[Any, Any, T]]) -> list[T | BaseException]:
    """What each of ``calls`` returned or raised, run concurrently. A lone call (a page on
    one chain) is awaited in place: as a task it would start a trip through the event loop
    later, and the page's largest call would go out behind its floor and collection calls."""
    if len(calls) == 1:
        try:
            return [await calls[0]]
        except Exception as exc:  # as gather(return_exceptions=True) would hand it back
            return [exc]
    return await asyncio.gather(*calls, return_exceptions=True)


def _digest(text: str) -> str:
    """A short stable name for a batch's items (cache keys stay short and safe)."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _id(record: NFTRecord) -> str:
    return f"{record.chain}/{record.contract_address}/{record.token_id}"


def _slug(record: NFTRecord) -> str | None:
    return record.collection_opensea_slug


def _collection_key(provider: str, chain: Chain, slug: str) -> str:
    return cache_key("collection", provider, chain, slug)


def _needs_detail(holding: Holding) -> bool:
    """Whether a detail call can add something the list calls did not give."""
    nft = holding.nft
    return (
        nft.rarity is None
        or nft.traits is None
        or nft.quantity is None
        or nft.token_standard is not TokenStandard.ERC721
    )


def _lacks_balance(detail: NFTRecord, request: _Request) -> bool:
    """An ERC-1155 whose holders OpenSea left out (``owners: null``) and whose balance no
    list call told: its ``/owners`` pages are walked for it. A balance a list call gave
    (Alchemy's) spares the walk: the page does not wait for one."""
    return (
        detail.token_standard is TokenStandard.ERC1155
        and detail.quantity is None
        and detail.owner_addresses is None
        and detail.key not in request.balances
    )


def _detail_adds_only_rarity(holding: Holding) -> bool:
    """An ERC-721 whose traits, quantity and owner (the wallet: one owner) are known: its
    detail call could add a rank and nothing else. An ERC-1155's detail always may add
    other holders (``owners[]``), which no list call gives."""
    nft = holding.nft
    return (
        nft.token_standard is TokenStandard.ERC721
        and nft.rarity is None
        and nft.traits is not None
        and nft.quantity is not None
        and nft.owner_addresses is not None
    )


def _with_collection(detail: NFTRecord, info: CollectionInfo | None) -> NFTRecord:
    if info is None:
        return detail
    rarity = detail.rarity
    if rarity is not None and rarity.total is None and info.rarity_total is not None:
        rarity = Rarity(rank=rarity.rank, score=rarity.score, total=info.rarity_total)
    return replace(detail, collection_name=detail.collection_name or info.name, rarity=rarity)
