"""Names wherever a wallet is accepted, and ``identity(name)``: one identity's wallets and NFTs.

``wallet(address: "alice.bit")`` is the wallet at the name's *first* address (its first
address record; its owner when it has none): a ``Wallet`` is one address. ``identity(name:)``
is the whole identity: every wallet it links (how each is linked) and the NFTs of all of
them as one list, each NFT once and labelled with the wallets holding it, paged like a
wallet (``nfts`` by page, ``nftConnection`` by cursor). The order is documented in
:mod:`gateway.identity.service`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime

import strawberry
from strawberry.types import Info

from gateway.errors import input_field
from gateway.identity.names import IdentityKind, parse_wallet_input
from gateway.identity.service import LinkedIdentity, LinkKind
from gateway.identity.service import LinkedWallet as DomainLinkedWallet
from gateway.identity.union import LinkedHolding, LinkedHoldingsSlice
from gateway.schema.calls import IdentityHoldings, LinkedWallets, ListWindow, NameAddresses
from gateway.schema.context import Context
from gateway.schema.dids import unix_time
from gateway.schema.nfts import Wallet, wallet_for
from gateway.schema.paging import (
    Connection,
    Edge,
    Page,
    connection_field,
    page_field,
    stale_age_field,
    stale_field,
)
from gateway.schema.types import NFT, BigInt, int32_or_none
from gateway.validation import checksum

__all__ = [
    "Identity",
    "IdentityAsset",
    "IdentityAssetConnection",
    "IdentityAssetEdge",
    "IdentityNFTPage",
    "identity_for",
    "wallet_address",
    "wallet_for_input",
]

STALE_DESCRIPTION = (
    "True when every provider failed for a linked wallet and its NFTs are an older snapshot."
)
AGE_DESCRIPTION = "How old the oldest stale snapshot is; null when every wallet's is fresh."


strawberry.enum(IdentityKind, name="IdentityKind", description="What an identity name is.")
strawberry.enum(LinkKind, name="WalletLinkKind", description="How a wallet belongs to an identity.")


@strawberry.type(description="One reason a wallet belongs to the identity.")
class WalletLink:
    kind: LinkKind
    via: str = strawberry.field(description="The .bit name or the Next.ID persona key.")
    checked_at: datetime | None = strawberry.field(description="When Next.ID last checked it.")


@strawberry.type(description="A wallet the identity links, and how.")
class LinkedWallet:
    address: str = strawberry.field(description="EIP-55 checksummed.")
    links: list[WalletLink]
    wallet: Wallet

    @classmethod
    def from_domain(cls, linked: DomainLinkedWallet) -> LinkedWallet:
        links = [
            WalletLink(
                kind=link.kind,
                via=link.via,
                checked_at=unix_time(link.checked_at),
            )
            for link in linked.links
        ]
        wallet = wallet_for(linked.address)
        return cls(address=wallet.address, links=links, wallet=wallet)


@strawberry.type(description="A linked wallet holding an NFT, and how many of it.")
class AssetHolder:
    address: str = strawberry.field(description="EIP-55 checksummed.")
    quantity: BigInt
    quantity_int: int | None
    quantity_known: bool


@strawberry.type(description="An NFT of an identity: the sum over the linked wallets holding it.")
class IdentityAsset:
    nft: NFT
    quantity: BigInt = strawberry.field(description="Summed over the wallets holding it.")
    quantity_int: int | None
    quantity_known: bool = strawberry.field(description="False if any wallet's is unknown.")
    wallets: list[AssetHolder] = strawberry.field(description="In the identity's wallet order.")

    @classmethod
    def from_domain(cls, linked: LinkedHolding) -> IdentityAsset:
        quantity, known = linked.counted_quantity()
        holders = []
        for share in linked.shares:
            value, share_known = share.holding.counted_quantity()
            holders.append(
                AssetHolder(
                    address=checksum(share.address),
                    quantity=BigInt(value),
                    quantity_int=int32_or_none(value),
                    quantity_known=share_known,
                )
            )
        return cls(
            nft=NFT.from_domain(linked.holding),
            quantity=BigInt(quantity),
            quantity_int=int32_or_none(quantity),
            quantity_known=known,
            wallets=holders,
        )


@strawberry.type(description="One page of an identity's NFTs over all its linked wallets.")
class IdentityNFTPage(Page[IdentityAsset]):
    total: int = strawberry.field(description="Distinct NFTs over all linked wallets.")
    stale: bool = stale_field(STALE_DESCRIPTION)
    stale_age_seconds: int | None = stale_age_field(AGE_DESCRIPTION)


@strawberry.type
class IdentityAssetEdge(Edge[IdentityAsset]):
    pass


@strawberry.type(description="An identity's NFTs as a Relay-style connection.")
class IdentityAssetConnection(Connection[IdentityAssetEdge]):
    stale: bool = stale_field(STALE_DESCRIPTION)
    stale_age_seconds: int | None = stale_age_field(AGE_DESCRIPTION)


def _identity_holdings(
    identity: Identity, info: Info[Context, None], window: ListWindow
) -> Awaitable[LinkedHoldingsSlice]:
    window = replace(window, max_age=identity.max_age)
    return info.context.services.call(IdentityHoldings(identity.addresses, window))


@strawberry.type(description="A name or persona, the wallets it links, and their NFTs together.")
class Identity:
    name: str = strawberry.field(description="Canonical: alice.bit, 0x02…, twitter:alice.")
    kind: IdentityKind
    wallets: list[LinkedWallet] = strawberry.field(description="In the order NFTs are merged.")
    addresses: strawberry.Private[tuple[str, ...]]
    max_age: strawberry.Private[int | None]

    nfts: IdentityNFTPage = page_field(
        IdentityNFTPage,
        IdentityAsset.from_domain,
        _identity_holdings,
        description="The union of the linked wallets' NFTs by page (1-based).",
    )
    nft_connection: IdentityAssetConnection = connection_field(
        IdentityAssetConnection,
        IdentityAssetEdge,
        IdentityAsset.from_domain,
        _identity_holdings,
        description="The union of the linked wallets' NFTs (first/after).",
    )

    @classmethod
    def from_domain(cls, identity: LinkedIdentity, max_age: int | None = None) -> Identity:
        return cls(
            name=identity.ref.text,
            kind=identity.ref.kind,
            wallets=[LinkedWallet.from_domain(wallet) for wallet in identity.wallets],
            addresses=identity.addresses,
            max_age=max_age,
        )


async def identity_for(
    info: Info[Context, None], name: str, max_age: int | None = None
) -> Identity:
    """``Query.identity``: validate, find the linked wallets, convert."""
    linked = await info.context.services.call(LinkedWallets(name))
    return Identity.from_domain(linked, max_age)


async def wallet_address(info: Info[Context, None], address: str, field: str) -> str:
    """An address, or a name standing for its first address, as a lower-case address;
    errors name ``field``."""
    with input_field(field):
        target = parse_wallet_input(address)
    if target.name is not None:
        resolved = await info.context.services.call(NameAddresses(target.name, field))
        return resolved[0]
    assert target.address is not None
    return target.address


async def wallet_for_input(
    info: Info[Context, None], address: str, max_age: int | None = None
) -> Wallet:
    """``Query.wallet``: an address, or a name standing for its first address."""
    return wallet_for(await wallet_address(info, address, "address"), max_age)
