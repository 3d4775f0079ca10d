"""``wallets(addresses:)``: several wallets at once, their NFTs as one list.

The same union an identity pages over (:mod:`gateway.identity.union`): wallets in the order
given, each NFT once (its first wallet's place) with every wallet that holds it, an exact
``total``, ``nfts`` by page and ``nftConnection`` by cursor. An entry may be a name
(``alice.bit``): it stands for the name's first address, as in ``wallet(address:)``; the
same wallet named twice counts once. Every wallet is read whole, so the number of wallets
per query is bounded (``NFTGW_MAX_WALLETS``, 10 by default): past it the query is refused
with ``TOO_MANY_WALLETS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace

import strawberry
from strawberry.types import Info

from gateway.errors import InvalidInput, TooManyWallets
from gateway.identity.union import LinkedHoldingsSlice
from gateway.schema.calls import IdentityHoldings, ListWindow
from gateway.schema.context import Context
from gateway.schema.identity import (
    IdentityAsset,
    IdentityAssetConnection,
    IdentityAssetEdge,
    IdentityNFTPage,
    wallet_address,
)
from gateway.schema.paging import connection_field, page_field
from gateway.validation import checksum

__all__ = ["Wallets", "wallets_for"]

FIELD = "addresses"


def _wallets_holdings(
    wallets: Wallets, info: Info[Context, None], window: ListWindow
) -> Awaitable[LinkedHoldingsSlice]:
    window = replace(window, max_age=wallets.max_age)
    return info.context.services.call(IdentityHoldings(wallets.lower_addresses, window))


@strawberry.type(description="Several wallets and their NFTs as one list, each NFT once.")
class Wallets:
    addresses: list[str] = strawberry.field(
        description="EIP-55 checksummed, in the order given (names resolved, repeats dropped)."
    )
    lower_addresses: strawberry.Private[tuple[str, ...]]
    max_age: strawberry.Private[int | None]

    nfts: IdentityNFTPage = page_field(
        IdentityNFTPage,
        IdentityAsset.from_domain,
        _wallets_holdings,
        description="The union of the wallets' NFTs by page (1-based).",
    )
    nft_connection: IdentityAssetConnection = connection_field(
        IdentityAssetConnection,
        IdentityAssetEdge,
        IdentityAsset.from_domain,
        _wallets_holdings,
        description="The union of the wallets' NFTs (first/after).",
    )


async def wallets_for(
    info: Info[Context, None], addresses: list[str], max_age: int | None = None
) -> Wallets:
    """``Query.wallets``: bound the list, resolve names, drop repeats, keep the order."""
    bound = info.context.settings.max_wallets
    if not addresses:
        raise InvalidInput("give at least one address or name", field=FIELD)
    if len(addresses) > bound:
        raise TooManyWallets(f"at most {bound} wallets per query", field=FIELD)
    resolved = await asyncio.gather(*(wallet_address(info, a, FIELD) for a in addresses))
    unique = tuple(dict.fromkeys(resolved))
    return Wallets(addresses=[checksum(a) for a in unique], lower_addresses=unique, max_age=max_age)
