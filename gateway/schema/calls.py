"""The service calls a GraphQL resolver may make, each a typed value.

A resolver never holds a service: it builds one of the calls below (a frozen dataclass of
its arguments) and hands it to ``info.context.services``. Each call knows how to make
itself on the :class:`Services` (:meth:`~ServiceCall.run`) and what its answer reports
about the providers (:meth:`~ServiceCall.reports`), so whoever carries the calls (the direct
:class:`Services`, or the recording of :mod:`gateway.schema.fastpath.recording`) dispatches on
the call's type, never on a method name. Two calls are the same call when their values are
equal: that is what lets a request's calls be replayed and compared
(:mod:`gateway.schema.fastpath.replay`).

Because this is the only way from a resolver to a service, the rule the warm answers rely
on (an answer is a function of the document, the variables, the settings and what these
calls return) holds by construction.

May import: the services' public types (:mod:`gateway.nfts`, :mod:`gateway.identity`),
:mod:`providers.models`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Protocol, TypeVar

from gateway.errors import RefreshRateLimited, input_field
from gateway.http.ratelimit import RateLimiter
from gateway.identity.names import parse_identity
from gateway.identity.service import DIDAnswer, IdentityService, LinkedIdentity
from gateway.identity.union import LinkedHoldingsSlice
from gateway.nfts.pages import HoldingsSlice, ListWindow, ProviderReport
from gateway.nfts.refresh import RefreshAnswer
from gateway.nfts.service import NFTService
from providers.models import NFTKey

__all__ = [
    "CallsServices",
    "IdentityHoldings",
    "LinkedWallets",
    "ListWindow",
    "NameAddresses",
    "ProviderAnswer",
    "RefreshNFT",
    "ServiceCall",
    "Services",
    "WalletDIDs",
    "WalletHoldings",
]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Services:
    """The services themselves: make each call directly."""

    nfts: NFTService
    # Optional so services built for NFT queries alone (a test, a benchmark) stay valid.
    identity_service: IdentityService | None = None
    # Per-client buckets for refreshNft (None: not limited, e.g. a direct schema.execute).
    refresh_limiter: RateLimiter | None = None

    @property
    def identities(self) -> IdentityService:
        """The identity service; only DID, name and identity calls ask for it."""
        if self.identity_service is None:
            raise RuntimeError("these GraphQL services were built without an IdentityService")
        return self.identity_service

    async def call(self, call: ServiceCall[R]) -> R:
        return await call.run(self)


class CallsServices(Protocol):
    """What resolvers see as ``info.context.services``: one way in, a typed call."""

    async def call(self, call: ServiceCall[R]) -> R: ...


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """What an answer says about the providers, for the response's ``extensions``."""

    providers: Sequence[ProviderReport]
    stale: bool = False
    stale_age_seconds: int | None = None
    upstream_calls: Mapping[str, int] = field(default_factory=dict)


class ServiceCall(ABC, Generic[R_co]):
    """One call of a service, by value; answers ``R_co``."""

    __slots__ = ()

    # Whether its answer may have cost upstream calls that no report carries (a name's or
    # a persona's lookup): the response then says what it cost (``extensions.cost``).
    metered: ClassVar[bool] = False

    @abstractmethod
    async def run(self, services: Services) -> R_co:
        """Make the call."""

    def ready(self, services: Services) -> R_co | None:
        """The answer :meth:`run` would give, when a service holds it ready and giving it
        needs no waiting; else None (then :meth:`run` it)."""
        return None

    def reports(self, answer: object) -> ProviderAnswer | None:
        """How the providers did in ``answer`` (this call's), when it lists NFTs or DIDs."""
        return None


def _page_reports(answer: object) -> ProviderAnswer | None:
    if not isinstance(answer, HoldingsSlice | LinkedHoldingsSlice):
        return None
    calls = answer.upstream_calls if isinstance(answer, HoldingsSlice) else {}
    return ProviderAnswer(answer.providers, answer.stale, answer.stale_age_seconds, calls)


@dataclass(frozen=True, slots=True)
class WalletHoldings(ServiceCall[HoldingsSlice]):
    """``NFTService.list_holdings``: a slice of one wallet's NFTs."""

    address: str  # lower-case
    window: ListWindow

    async def run(self, services: Services) -> HoldingsSlice:
        return await services.nfts.list_holdings(self.address, self.window)

    def ready(self, services: Services) -> HoldingsSlice | None:
        return services.nfts.kept_page(self.address, self.window)

    def reports(self, answer: object) -> ProviderAnswer | None:
        return _page_reports(answer)


@dataclass(frozen=True, slots=True)
class IdentityHoldings(ServiceCall[LinkedHoldingsSlice]):
    """``IdentityService.list_holdings``: a slice of the linked wallets' NFTs together."""

    addresses: tuple[str, ...]
    window: ListWindow

    async def run(self, services: Services) -> LinkedHoldingsSlice:
        return await services.identities.list_holdings(self.addresses, self.window)

    def reports(self, answer: object) -> ProviderAnswer | None:
        return _page_reports(answer)


@dataclass(frozen=True, slots=True)
class WalletDIDs(ServiceCall[DIDAnswer]):
    """``IdentityService.dids``: a wallet's DIDs from every DID source."""

    address: str  # lower-case

    async def run(self, services: Services) -> DIDAnswer:
        return await services.identities.dids(self.address)

    def reports(self, answer: object) -> ProviderAnswer | None:
        return ProviderAnswer(answer.providers) if isinstance(answer, DIDAnswer) else None


@dataclass(frozen=True, slots=True)
class LinkedWallets(ServiceCall[LinkedIdentity]):
    """``IdentityService.linked_wallets``: the wallets a name or persona links."""

    name: str
    metered: ClassVar[bool] = True

    async def run(self, services: Services) -> LinkedIdentity:
        with input_field("name"):  # the ``identity(name:)`` argument
            return await services.identities.linked_wallets(parse_identity(self.name))


@dataclass(frozen=True, slots=True)
class NameAddresses(ServiceCall[tuple[str, ...]]):
    """``IdentityService.resolve``: the addresses a name points to (``wallet(address:)``)."""

    name: str
    field: str = "address"  # the argument it came in: wallet(address:), wallets(addresses:)
    metered: ClassVar[bool] = True

    async def run(self, services: Services) -> tuple[str, ...]:
        with input_field(self.field):
            return await services.identities.resolve(self.name)


@dataclass(frozen=True, slots=True)
class RefreshNFT(ServiceCall[RefreshAnswer]):
    """``NFTService.refresh_nft``, after taking a token from ``client``'s refresh bucket
    (the mutation costs every provider a call: it is limited per client)."""

    key: NFTKey
    client: str  # the bucket: the caller's API key hash, else its IP

    async def run(self, services: Services) -> RefreshAnswer:
        limiter = services.refresh_limiter
        if limiter is not None:
            wait = await limiter.acquire(f"refresh:{self.client}")
            if wait > 0:
                raise RefreshRateLimited(
                    "refreshNft asked too often; try again later",
                    retry_after=max(1, math.ceil(wait)),
                )
        return await services.nfts.refresh_nft(self.key)

    def reports(self, answer: object) -> ProviderAnswer | None:
        return ProviderAnswer(answer.providers) if isinstance(answer, RefreshAnswer) else None
