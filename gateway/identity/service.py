"""IdentityService: a wallet's DIDs, names resolved to wallets, and an identity's NFTs.

Three jobs, each behind one method the faces call with validated input:

* :meth:`IdentityService.dids` fans out to every DID source (.bit, Next.ID, NameTag)
  concurrently. A failing source costs its own DIDs only: the answer carries a
  :class:`~gateway.nfts.service.ProviderReport` per source saying which failed and why. Each
  source's answer is cached ``did_ttl`` seconds; failures are never cached.
* :meth:`IdentityService.resolve` turns a name into the addresses it points to (cached
  ``name_ttl`` seconds). Unknown or expired names are :class:`NameNotFound`; a resolver
  outage is :class:`UpstreamUnavailable`, and only for requests that passed a name.
* :meth:`IdentityService.linked_wallets` lists the wallets an identity links (a .bit name's
  address records, a Next.ID persona's valid ethereum proofs) and
  :meth:`IdentityService.list_holdings` pages over the union of their NFTs.

Every upstream call (DIDs, names, personas) goes through the source's
:class:`~gateway.resilience.ProviderGuard`, exactly like the NFT providers' calls: a total
deadline, retries with a budget, ``Retry-After`` and a cool-down shared by replicas, a
circuit breaker and a bulkhead. The guards are the app's (one per upstream, shared with
the NFT service), so the .bit resolver and the .bit DID source share one breaker.

The union's order (what every page of an identity is cut from): wallets in the order the
identity lists them, then each wallet's own walk order (see :mod:`gateway.nfts.walk`). An NFT
seen through several wallets keeps the place of its first sighting and is listed once,
labelled with every wallet that holds it. Each wallet's walk is awaited to its end (within
the request deadline), so ``total`` counts exactly what the pages return.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from gateway.cache.codec import decode_dids, encode_dids
from gateway.cache.shared import SharedCache, cache_key
from gateway.errors import InvalidName, NameNotFound, UpstreamUnavailable
from gateway.identity.names import IdentityKind, IdentityRef, parse_identity, parse_name
from gateway.nfts.merging import Holding, SpamFilter
from gateway.nfts.service import HoldingsSlice, NFTService, ProviderReport
from gateway.resilience import ProviderGuards
from gateway.settings import Settings
from providers.base import DIDSource, NameResolver, PersonaSource
from providers.errors import ProviderBadRequest, ProviderError, ProviderNotFound
from providers.models import DID, Chain, DIDType, NFTKey

__all__ = [
    "DIDAnswer",
    "IdentityService",
    "LinkKind",
    "LinkedHolding",
    "LinkedHoldingsSlice",
    "LinkedIdentity",
    "LinkedWallet",
    "PersonaSource",
    "WalletLink",
    "WalletShare",
    "combine_reports",
    "decode_dids",
    "encode_dids",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# ``list_holdings`` limit meaning "the whole wallet": it then waits for the walk to finish.
_WHOLE_WALLET = 1_000_000_000
# Identity unions kept for paging (each holds references to its wallets' holdings).
MAX_CACHED_UNIONS = 128


class DIDAnswer(NamedTuple):
    dids: tuple[DID, ...]
    providers: tuple[ProviderReport, ...]


class LinkKind(StrEnum):
    DOTBIT_RECORD = "dotbit_record"  # an address record of the name (or its owner if none)
    NEXTID_PROOF = "nextid_proof"  # a valid ethereum proof of a Next.ID persona


@dataclass(frozen=True, slots=True)
class WalletLink:
    """Why a wallet belongs to an identity: ``via`` is the .bit name or the persona key."""

    kind: LinkKind
    via: str
    checked_at: int | None = None  # Unix seconds (Next.ID's last proof check)


@dataclass(frozen=True, slots=True)
class LinkedWallet:
    address: str
    links: tuple[WalletLink, ...]


@dataclass(frozen=True, slots=True)
class LinkedIdentity:
    ref: IdentityRef
    wallets: tuple[LinkedWallet, ...]

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(wallet.address for wallet in self.wallets)


@dataclass(frozen=True, slots=True)
class WalletShare:
    """One linked wallet's holding of an NFT (its own quantity)."""

    address: str
    holding: Holding


@dataclass(frozen=True, slots=True)
class LinkedHolding:
    """An NFT in an identity's union: shown as its first wallet saw it, held by ``shares``."""

    shares: tuple[WalletShare, ...]

    @property
    def holding(self) -> Holding:
        return self.shares[0].holding

    @property
    def wallets(self) -> tuple[str, ...]:
        return tuple(share.address for share in self.shares)

    def counted_quantity(self) -> tuple[int, bool]:
        """The sum over the wallets holding it; known only when every wallet's is known."""
        counts = [share.holding.counted_quantity() for share in self.shares]
        return sum(value for value, _ in counts), all(known for _, known in counts)


@dataclass(frozen=True, slots=True)
class LinkedHoldingsSlice:
    holdings: tuple[LinkedHolding, ...]
    offset: int
    total: int
    total_is_exact: bool
    has_more: bool
    providers: tuple[ProviderReport, ...]
    # Some wallet's NFTs are an older snapshot (every provider failed for it); the oldest age.
    stale: bool = False
    stale_age_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class _Union:
    holdings: list[LinkedHolding]
    reports: tuple[tuple[ProviderReport, ...], ...]  # one group per wallet
    exact: bool
    complete: bool
    created: float
    stale_age_seconds: int | None  # None: every wallet's NFTs are fresh


class IdentityService:
    def __init__(
        self,
        sources: Sequence[DIDSource],
        resolvers: Sequence[NameResolver],
        personas: PersonaSource | None,
        nft_service: NFTService,
        cache: SharedCache,
        settings: Settings,
        *,
        guards: ProviderGuards | None = None,
    ) -> None:
        self._sources = list(sources)
        self._resolvers = list(resolvers)
        self._personas = personas
        self._nfts = nft_service
        self._cache = cache
        self._settings = settings
        # One guard per upstream for the whole app: the NFT service's, unless given.
        self._guards = guards or nft_service.guards
        self._unions: OrderedDict[tuple[Any, ...], _Union] = OrderedDict()

    @property
    def source_names(self) -> list[str]:
        return [source.name for source in self._sources]

    # -- DIDs ------------------------------------------------------------------------------

    async def dids(self, address: str) -> DIDAnswer:
        """Every source's DIDs for ``address`` (validated, lower-case), sources in order.

        Raises :class:`UpstreamUnavailable` only when every source failed.
        """
        return _unless_all_failed(await self._all_sources(address))

    async def dids_of(self, addresses: Sequence[str]) -> DIDAnswer:
        """The DIDs of several wallets (a name's addresses), each DID once, wallets in order.

        Raises :class:`UpstreamUnavailable` only when every source failed for every wallet.
        """
        answers = await asyncio.gather(*(self._all_sources(address) for address in addresses))
        merged: dict[tuple[DIDType, str], DID] = {}
        for answer in answers:
            for did in answer.dids:
                key = (did.type, did.identity.lower())
                known = merged.get(key)
                merged[key] = did if known is None else _merge_did(known, did)
        reports = combine_reports([answer.providers for answer in answers])
        return _unless_all_failed(DIDAnswer(tuple(merged.values()), reports))

    async def _all_sources(self, address: str) -> DIDAnswer:
        outcomes = await asyncio.gather(*(self._source_dids(s, address) for s in self._sources))
        dids = tuple(did for answer, _ in outcomes for did in answer)
        return DIDAnswer(dids, tuple(report for _, report in outcomes))

    async def _source_dids(
        self, source: DIDSource, address: str
    ) -> tuple[tuple[DID, ...], ProviderReport]:
        started = time.monotonic()

        async def fetch() -> tuple[DID, ...]:
            return await source.fetch_dids(address)

        try:
            dids = await self._guarded(
                source.name,
                "dids",
                (address,),
                fetch,
                ttl=self._settings.did_ttl,
                encode=encode_dids,
                decode=decode_dids,
            )
        except ProviderError as exc:  # the guard's own verdicts too: timeout, circuit_open...
            error = (exc.kind, exc.message)
        except Exception:  # the aggregation boundary: one broken adapter costs its own DIDs
            logger.exception("DID source %s failed unexpectedly", source.name)
            error = ("internal", "unexpected adapter failure")
        else:
            return dids, ProviderReport(source.name, "ok", latency_ms=_since(started))
        kind, message = error
        return (), ProviderReport(source.name, "failed", kind, message, latency_ms=_since(started))

    # -- names -----------------------------------------------------------------------------

    async def resolve(self, name: str, *, field: str = "name") -> tuple[str, ...]:
        """The lower-case addresses ``name`` points to (a .bit name: its records, in order).

        Raises :class:`InvalidName` (checked before any upstream call), :class:`NameNotFound`
        (unknown or expired) or :class:`UpstreamUnavailable` (the resolver failed).
        """
        canonical = parse_name(name, field=field)
        resolver = next((r for r in self._resolvers if r.handles(canonical)), None)
        if resolver is None:
            raise InvalidName(f"no resolver is configured for {canonical}", field=field)

        async def fetch() -> tuple[str, ...]:
            return await resolver.resolve(canonical)

        with _lookup_errors(resolver.name, canonical, "name", field):
            addresses = await self._guarded(
                resolver.name,
                "name",
                (canonical,),
                fetch,
                ttl=self._settings.name_ttl,
                encode=list,
                decode=_decode_addresses,
            )
        if not addresses:
            raise NameNotFound(f"{canonical} points to no EVM address", field=field)
        return addresses

    async def linked_wallets(self, identity: str, *, field: str = "name") -> LinkedIdentity:
        """The wallets ``identity`` links, in its own order (see the module docstring).

        A .bit name links its address records (its owner when it has none); a persona links
        its ethereum proofs that Next.ID checked valid; ``platform:handle`` links the wallets
        of every persona holding a valid proof for that handle. Raises :class:`InvalidName`,
        :class:`NameNotFound` or :class:`UpstreamUnavailable`.
        """
        ref = parse_identity(identity, field=field)
        if ref.kind is IdentityKind.DOTBIT:
            addresses = await self.resolve(ref.value, field=field)
            link = WalletLink(LinkKind.DOTBIT_RECORD, ref.value)
            return LinkedIdentity(ref, tuple(LinkedWallet(a, (link,)) for a in addresses))
        personas = await self._matching_personas(ref, field)
        return LinkedIdentity(ref, _proven_wallets(personas))

    async def _matching_personas(self, ref: IdentityRef, field: str) -> tuple[DID, ...]:
        source = self._personas
        if source is None:
            raise UpstreamUnavailable("no Next.ID source is configured")
        platform = ref.platform or "nextid"

        async def fetch() -> tuple[DID, ...]:
            return await source.fetch_persona(ref.value, platform)

        with _lookup_errors(source.name, ref.text, "identity", field):
            personas = await self._guarded(
                source.name,
                "persona",
                (platform, ref.value),
                fetch,
                ttl=self._settings.did_ttl,
                encode=encode_dids,
                decode=decode_dids,
            )
        matching = tuple(p for p in personas if _persona_matches(p, ref))
        if not matching:
            raise NameNotFound(
                f"no Next.ID persona holds a valid proof for {ref.text}", field=field
            )
        return matching

    # -- an identity's NFTs ----------------------------------------------------------------

    async def list_holdings(
        self,
        wallets: Sequence[str],
        *,
        offset: int,
        limit: int,
        chains: Sequence[Chain] | None = None,
        spam: SpamFilter = SpamFilter.EXCLUDE,
        enrich: bool = True,
    ) -> LinkedHoldingsSlice:
        """Holdings ``offset .. offset+limit`` of the union of ``wallets`` (validated, in order).

        Raises :class:`UpstreamUnavailable` only when every NFT provider failed for every wallet.
        """
        union = await self._union_of(tuple(wallets), tuple(chains or ()), spam)
        page = union.holdings[offset : offset + limit]
        reports = list(union.reports)
        if enrich and page:
            page, detail_reports = await self._enrich(page)
            reports.append(detail_reports)
        return LinkedHoldingsSlice(
            holdings=tuple(page),
            offset=offset,
            total=len(union.holdings),
            total_is_exact=union.exact,
            has_more=offset + limit < len(union.holdings) or not union.complete,
            providers=combine_reports(reports),
            stale=union.stale_age_seconds is not None,
            stale_age_seconds=union.stale_age_seconds,
        )

    async def _union_of(
        self, wallets: tuple[str, ...], chains: tuple[Chain, ...], spam: SpamFilter
    ) -> _Union:
        """The wallets' union: reused while fresh once every walk is complete and fresh
        (paging a big identity builds it once), else built from the wallets' current
        snapshots (a stale one is never kept: the next request tries the providers again)."""
        key = (wallets, chains, spam)
        known = self._unions.get(key)
        if known is not None and time.monotonic() - known.created < self._settings.snapshot_ttl:
            self._unions.move_to_end(key)
            return known
        slices = await asyncio.gather(
            *(self._whole_wallet(w, chains or None, spam) for w in wallets)
        )
        if wallets and all(result is None for result in slices):
            raise UpstreamUnavailable("every NFT provider failed for every linked wallet")
        union = _Union(
            holdings=_union(wallets, slices),
            reports=tuple(self._failed_reports() if s is None else s.providers for s in slices),
            exact=all(s is not None and s.total_is_exact for s in slices),
            complete=all(s is not None and not s.has_more for s in slices),
            created=time.monotonic(),
            stale_age_seconds=_oldest_stale(slices),
        )
        if union.complete and union.stale_age_seconds is None:
            self._unions[key] = union
            while len(self._unions) > MAX_CACHED_UNIONS:
                self._unions.popitem(last=False)
        return union

    async def _whole_wallet(
        self, owner: str, chains: Sequence[Chain] | None, spam: SpamFilter
    ) -> HoldingsSlice | None:
        try:
            return await self._nfts.list_holdings(
                owner, offset=0, limit=_WHOLE_WALLET, chains=chains, spam=spam, enrich=False
            )
        except UpstreamUnavailable:
            return None  # this wallet's NFTs are missing; the reports say every provider failed

    def _failed_reports(self) -> tuple[ProviderReport, ...]:
        return tuple(
            ProviderReport(name, "failed", "unavailable", "every NFT provider failed")
            for name in self._nfts.provider_names
        )

    async def _enrich(
        self, page: Sequence[LinkedHolding]
    ) -> tuple[list[LinkedHolding], tuple[ProviderReport, ...]]:
        """Detail for each (wallet, holding) on the page, one batch per wallet, concurrently."""
        by_wallet: dict[str, list[Holding]] = {}
        for linked in page:
            for share in linked.shares:
                by_wallet.setdefault(share.address, []).append(share.holding)
        wallets = list(by_wallet)
        results = await asyncio.gather(
            *(self._nfts.enrich_holdings(w, by_wallet[w]) for w in wallets)
        )
        enriched: dict[tuple[str, NFTKey], Holding] = {}
        failures: list[tuple[str, ProviderError]] = []
        for wallet, (holdings, failed) in zip(wallets, results, strict=True):
            enriched.update({(wallet, h.key): h for h in holdings})
            failures += failed
        page = [
            LinkedHolding(
                tuple(replace(s, holding=enriched[(s.address, s.holding.key)]) for s in item.shares)
            )
            for item in page
        ]
        return page, _detail_reports(failures)

    # -- cache -----------------------------------------------------------------------------

    async def _guarded(
        self,
        provider: str,
        operation: str,
        parts: tuple[str, ...],
        fetch: Callable[[], Awaitable[T]],
        *,
        ttl: float,
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
    ) -> T:
        """``fetch()`` through ``provider``'s guard, behind the shared cache under
        ``v1:<operation>:<provider>:<parts>`` (single-flight; failures never cached)."""

        async def guarded() -> T:
            return await self._guards.call(provider, operation, fetch)

        value, _ = await self._cache.get_or_fetch(
            cache_key(operation, provider, *parts), guarded, ttl=ttl, encode=encode, decode=decode
        )
        return value


# -- pure helpers ---------------------------------------------------------------------------


def combine_reports(groups: Sequence[Sequence[ProviderReport]]) -> tuple[ProviderReport, ...]:
    """One report per provider from several answers (one per wallet, or detail calls).

    ``ok`` when every part was ok, ``failed`` when every part failed, else ``partial``;
    the first error found is kept, failed chains are united, latency is the slowest part's.
    """
    by_provider: dict[str, list[ProviderReport]] = {}
    for group in groups:
        for report in group:
            by_provider.setdefault(report.provider, []).append(report)
    return tuple(_combine(provider, parts) for provider, parts in by_provider.items())


def _combine(provider: str, parts: Sequence[ProviderReport]) -> ProviderReport:
    statuses = {part.status for part in parts}
    status = statuses.pop() if len(statuses) == 1 else "partial"
    first_error = next((part for part in parts if part.error_kind), None)
    chains = dict.fromkeys(chain for part in parts for chain in part.failed_chains)
    return ProviderReport(
        provider=provider,
        status=status,
        error_kind=first_error.error_kind if first_error else None,
        error_message=first_error.error_message if first_error else None,
        failed_chains=tuple(chains),
        latency_ms=max(part.latency_ms for part in parts),
    )


def _detail_reports(failures: Sequence[tuple[str, ProviderError]]) -> tuple[ProviderReport, ...]:
    # A failed detail call costs enrichment only: the provider is "partial", never "failed".
    first: dict[str, ProviderError] = {}
    for name, exc in failures:
        first.setdefault(name, exc)
    return tuple(
        ProviderReport(name, "partial", exc.kind, exc.message) for name, exc in first.items()
    )


def _union(wallets: Sequence[str], slices: Sequence[HoldingsSlice | None]) -> list[LinkedHolding]:
    """Wallets in order, each wallet's holdings in its walk order; an NFT once, first place."""
    order: list[NFTKey] = []
    shares: dict[NFTKey, list[WalletShare]] = {}
    for wallet, result in zip(wallets, slices, strict=True):
        for holding in result.holdings if result is not None else ():
            known = shares.get(holding.key)
            if known is None:
                order.append(holding.key)
                shares[holding.key] = [WalletShare(wallet, holding)]
            elif all(share.address != wallet for share in known):
                known.append(WalletShare(wallet, holding))
    return [LinkedHolding(tuple(shares[key])) for key in order]


def _persona_matches(persona: DID, ref: IdentityRef) -> bool:
    """A persona counts for a platform handle only through a proof Next.ID found valid."""
    if ref.kind is IdentityKind.NEXTID_PERSONA:
        return persona.identity.lower() == ref.value
    return any(
        link.platform == ref.platform and link.identity.lower() == ref.value and link.valid
        for link in persona.links
    )


def _proven_wallets(personas: Sequence[DID]) -> tuple[LinkedWallet, ...]:
    """Valid ethereum proofs, personas in Next.ID's order then proofs in theirs; each once."""
    links: dict[str, list[WalletLink]] = {}
    for persona in personas:
        for account in persona.links:
            if account.platform == "ethereum" and account.valid is True:
                link = WalletLink(LinkKind.NEXTID_PROOF, persona.identity, account.checked_at)
                links.setdefault(account.identity.lower(), []).append(link)
    return tuple(LinkedWallet(address, tuple(via)) for address, via in links.items())


def _merge_did(first: DID, other: DID) -> DID:
    """One DID seen from two wallets: fill what the first view lacks, unite the links."""
    links = first.links + tuple(link for link in other.links if link not in first.links)
    return replace(
        first,
        display_name=first.display_name or other.display_name,
        is_primary=first.is_primary or other.is_primary,
        valid=first.valid if first.valid is not None else other.valid,
        expires_at=first.expires_at if first.expires_at is not None else other.expires_at,
        links=links,
    )


def _unless_all_failed(answer: DIDAnswer) -> DIDAnswer:
    if answer.providers and all(report.status == "failed" for report in answer.providers):
        raise UpstreamUnavailable("every DID source failed for this wallet")
    return answer


@contextmanager
def _lookup_errors(provider: str, subject: str, noun: str, field: str) -> Iterator[None]:
    """A name or persona lookup's upstream errors as the client's: unknown, invalid, or
    the resolver being down (a 503 only for requests that passed a name)."""
    try:
        yield
    except ProviderNotFound:
        raise NameNotFound(f"{subject} is not registered or has expired", field=field) from None
    except (ProviderBadRequest, ValueError) as exc:
        raise InvalidName(f"{subject} is not a valid {noun}: {exc}", field=field) from None
    except ProviderError as exc:  # the guard's verdicts (timeout, circuit_open...) included
        raise UpstreamUnavailable(
            f"the {provider} resolver is unavailable ({exc.kind}); try again later"
        ) from None


def _oldest_stale(slices: Sequence[HoldingsSlice | None]) -> int | None:
    """The age of the oldest stale snapshot among the wallets' slices; None if none is."""
    ages = [s.stale_age_seconds or 0 for s in slices if s is not None and s.stale]
    return max(ages) if ages else None


def _decode_addresses(data: list[str]) -> tuple[str, ...]:
    return tuple(data)


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
