"""DID types and the ``Wallet.dids`` resolver.

A wallet's DIDs come from every DID source at once (.bit, Next.ID, NameTag); ``providers``
says which source answered and which failed, exactly like an NFT page. Times are
``DateTime`` (ISO 8601, UTC) because GraphQL's 32-bit ``Int`` cannot hold Unix seconds
past 2038; the REST shim gives the same instants as Unix seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from gateway.identity.service import DIDAnswer
from gateway.schema.calls import WalletDIDs
from gateway.schema.context import Context
from gateway.schema.types import ProviderStatus
from gateway.validation import checksum
from providers.mapping import lower_address
from providers.models import DID as DomainDID
from providers.models import DIDType
from providers.models import LinkedAccount as DomainLinkedAccount

__all__ = ["DID", "DIDList", "DIDType", "LinkedAccount", "unix_time", "wallet_dids"]


strawberry.enum(
    DIDType,
    name="DIDType",
    description="Which kind of DID: a .bit name, a Next.ID persona or a name tag.",
)


@strawberry.type(description="An address or account a DID links to.")
class LinkedAccount:
    platform: str = strawberry.field(description="ethereum, twitter, github, dotbit...")
    identity: str = strawberry.field(description="EIP-55 checksummed when an EVM address.")
    valid: bool | None = strawberry.field(
        description="Whether the proof checked out; null: unknown."
    )
    checked_at: datetime | None = strawberry.field(description="When the proof was last checked.")

    @classmethod
    def from_domain(cls, link: DomainLinkedAccount) -> LinkedAccount:
        address = lower_address(link.identity) if link.platform == "ethereum" else None
        return cls(
            platform=link.platform,
            identity=checksum(address) if address else link.identity,
            valid=link.valid,
            checked_at=unix_time(link.checked_at),
        )


@strawberry.type(description="A decentralised identity of a wallet, as one source reports it.")
class DID:
    type: DIDType
    identity: str = strawberry.field(description="The name, persona public key or tag.")
    display_name: str | None
    is_primary: bool = strawberry.field(description="The wallet's primary (reverse) .bit name.")
    valid: bool | None = strawberry.field(
        description="Not expired (.bit), has a valid proof (Next.ID); null when unknown."
    )
    expires_at: datetime | None
    links: list[LinkedAccount]
    source: str = strawberry.field(description="The DID source that reported it.")

    @classmethod
    def from_domain(cls, did: DomainDID) -> DID:
        return cls(
            type=did.type,
            identity=did.identity,
            display_name=did.display_name,
            is_primary=did.is_primary,
            valid=did.valid,
            expires_at=unix_time(did.expires_at),
            links=[LinkedAccount.from_domain(link) for link in did.links],
            source=did.source,
        )


@strawberry.type(description="A wallet's DIDs from every DID source, and how each source did.")
class DIDList:
    total: int
    dids: list[DID]
    providers: list[ProviderStatus]

    @classmethod
    def from_domain(cls, answer: DIDAnswer) -> DIDList:
        return cls(
            total=len(answer.dids),
            dids=[DID.from_domain(did) for did in answer.dids],
            providers=[ProviderStatus.from_domain(report) for report in answer.providers],
        )


async def wallet_dids(root: Any, info: Info[Context, None]) -> DIDList:
    """``Wallet.dids``: ``root`` is the :class:`~gateway.schema.nfts.Wallet`."""
    answer = await info.context.services.call(WalletDIDs(root.lower_address))
    return DIDList.from_domain(answer)


def unix_time(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)
