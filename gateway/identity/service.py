"""IdentityService: a wallet's DIDs, names resolved to wallets, and an identity's NFTs.

Three jobs, each behind one method the faces call with validated input:

* :meth:`IdentityService.dids` fans out to every DID source (.bit, Next.ID, NameTag)
  concurrently. A failing source costs its own DIDs only: the answer carries a
  :class:`~gateway.nfts.pages.ProviderReport` per source saying which failed and why. Each
  source's answer is cached ``did_ttl`` seconds; failures are never cached.
* :meth:`IdentityService.resolve` turns a name into the addresses it points to (cached
  ``name_ttl`` seconds). Unknown or expired names are :class:`NameNotFound` (remembered
  ``name_negative_ttl`` seconds); a resolver
  outage is :class:`UpstreamUnavailable`, and only for requests that passed a name.
* :meth:`IdentityService.linked_wallets` lists the wallets an identity links (a .bit name's
  address records, a Next.ID persona's valid ethereum proofs) and
  :meth:`IdentityService.list_holdings` pages over the union of their NFTs
  (:mod:`.union`).

Input arrives parsed (:mod:`.names`: lower-case addresses, canonical names); errors name no
client field, the faces do (:func:`gateway.errors.input_field`).

Every upstream call (DIDs, names, personas) goes through the source's
:class:`~gateway.resilience.ProviderGuard`, exactly like the NFT providers' calls: a total
deadline, retries with a budget, ``Retry-After`` and a cool-down shared by replicas, a
circuit breaker and a bulkhead. The guards are the app's (one per upstream, shared with
the NFT service), so the .bit resolver and the .bit DID source share one breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from gateway.cache.codec import decode_addresses, decode_dids, encode_addresses, encode_dids
from gateway.cache.shared import SharedCache, cache_key
from gateway.errors import InvalidName, NameNotFound, UpstreamUnavailable
from gateway.identity.names import IdentityKind, IdentityRef
from gateway.identity.union import IdentityUnion, LinkedHoldingsSlice
from gateway.nfts.pages import (
    ListWindow,
    ProviderReport,
    ProviderStatus,
    client_message,
    combine_reports,
)
from gateway.nfts.service import NFTService
from gateway.resilience import ProviderGuards
from gateway.settings import Settings
from providers.base import DIDSource, NameResolver, PersonaSource
from providers.errors import ProviderBadRequest, ProviderError, ProviderNotFound
from providers.models import DID, DIDType

__all__ = [
    "DIDAnswer",
    "IdentityService",
    "LinkKind",
    "LinkedIdentity",
    "LinkedWallet",
    "WalletLink",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


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
        self._cache = cache
        self._settings = settings
        # One guard per upstream for the whole app: the NFT service's, unless given.
        self._guards = guards or nft_service.guards
        self._union = IdentityUnion(nft_service, settings)

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
            error = (exc.kind, client_message(source.name, exc))
        except Exception:  # the aggregation boundary: one broken adapter costs its own DIDs
            logger.exception("DID source %s failed unexpectedly", source.name)
            error = ("internal", "unexpected adapter failure")
        else:
            return dids, ProviderReport(source.name, ProviderStatus.OK, latency_ms=_since(started))
        kind, message = error
        failed = ProviderReport(
            source.name, ProviderStatus.FAILED, kind, message, latency_ms=_since(started)
        )
        return (), failed

    # -- names -----------------------------------------------------------------------------

    async def resolve(self, canonical: str) -> tuple[str, ...]:
        """The lower-case addresses a name points to (a .bit name: its records, in order);
        ``canonical`` is what :func:`~gateway.identity.names.parse_name` returned.

        Raises :class:`InvalidName` (no resolver takes it), :class:`NameNotFound` (unknown or
        expired) or :class:`UpstreamUnavailable` (the resolver failed).
        """
        resolver = next((r for r in self._resolvers if r.handles(canonical)), None)
        if resolver is None:
            raise InvalidName(f"no resolver is configured for {canonical}")
        # Unknown and expired names are remembered for a short while (name_negative_ttl):
        # one resolver call per name and window, on every replica, not one per request.
        missing_key = cache_key("name-missing", resolver.name, canonical)
        if await self._cache.get(missing_key) is not None:
            raise NameNotFound(f"{canonical} is not registered or has expired")

        async def fetch() -> tuple[str, ...]:
            return await resolver.resolve(canonical)

        try:
            with _lookup_errors(resolver.name, canonical, "name"):
                addresses = await self._guarded(
                    resolver.name,
                    "name",
                    (canonical,),
                    fetch,
                    ttl=self._settings.name_ttl,
                    encode=encode_addresses,
                    decode=decode_addresses,
                )
            if not addresses:
                raise NameNotFound(f"{canonical} points to no EVM address")
        except NameNotFound:
            await self._cache.set(missing_key, 1, self._settings.name_negative_ttl)
            raise
        return addresses

    async def linked_wallets(self, ref: IdentityRef) -> LinkedIdentity:
        """The wallets an identity (:func:`~gateway.identity.names.parse_identity`'s
        answer) links, in its own order.

        A .bit name links its address records (its owner when it has none); a persona links
        its ethereum proofs that Next.ID checked valid; ``platform:handle`` links the wallets
        of every persona holding a valid proof for that handle. Raises :class:`InvalidName`,
        :class:`NameNotFound` or :class:`UpstreamUnavailable`.
        """
        if ref.kind is IdentityKind.DOTBIT:
            addresses = await self.resolve(ref.value)
            link = WalletLink(LinkKind.DOTBIT_RECORD, ref.value)
            return LinkedIdentity(ref, tuple(LinkedWallet(a, (link,)) for a in addresses))
        personas = await self._matching_personas(ref)
        return LinkedIdentity(ref, _proven_wallets(personas))

    async def _matching_personas(self, ref: IdentityRef) -> tuple[DID, ...]:
        source = self._personas
        if source is None:
            raise UpstreamUnavailable("no Next.ID source is configured")
        platform = ref.platform or "nextid"

        async def fetch() -> tuple[DID, ...]:
            return await source.fetch_persona(ref.value, platform)

        with _lookup_errors(source.name, ref.text, "identity"):
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
            raise NameNotFound(f"no Next.ID persona holds a valid proof for {ref.text}")
        return matching

    # -- an identity's NFTs ----------------------------------------------------------------

    async def list_holdings(
        self, wallets: Sequence[str], window: ListWindow
    ) -> LinkedHoldingsSlice:
        """``window`` of the union of ``wallets``' holdings (see :mod:`.union`).

        Raises :class:`UpstreamUnavailable` only when every NFT provider failed for every wallet.
        """
        return await self._union.list_holdings(wallets, window)

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
    failed = ProviderStatus.FAILED
    if answer.providers and all(report.status is failed for report in answer.providers):
        raise UpstreamUnavailable(
            "every DID source failed for this wallet", providers=answer.providers
        )
    return answer


@contextmanager
def _lookup_errors(provider: str, subject: str, noun: str) -> Iterator[None]:
    """A name or persona lookup's upstream errors as the client's: unknown, invalid, or
    the resolver being down (a 503 only for requests that passed a name)."""
    try:
        yield
    except ProviderNotFound:
        raise NameNotFound(f"{subject} is not registered or has expired") from None
    except (ProviderBadRequest, ValueError) as exc:
        raise InvalidName(f"{subject} is not a valid {noun}: {exc}") from None
    except ProviderError as exc:  # the guard's verdicts (timeout, circuit_open...) included
        raise UpstreamUnavailable(
            f"the {provider} resolver is unavailable ({exc.kind}); try again later"
        ) from None


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
