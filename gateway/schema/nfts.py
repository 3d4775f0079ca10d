"""NFT queries: a wallet's NFTs by page (``page``/``size``) and as a cursor connection.

Resolvers are thin: validate, call :class:`~gateway.nfts.service.NFTService`, convert (the paging
itself is :mod:`gateway.schema.paging`, shared with ``Identity``). The per-NFT detail calls
run only when the query selects a field that needs them. The converted objects of a page
the service keeps are reused by its slice key (:mod:`gateway.schema.fastpath.kept`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace

import strawberry
from strawberry.types import Info

from gateway.nfts.pages import HoldingsSlice
from gateway.schema.calls import ListWindow, WalletHoldings
from gateway.schema.context import Context
from gateway.schema.dids import DIDList, wallet_dids
from gateway.schema.paging import Connection, Edge, Page, connection_field, page_field
from gateway.schema.types import Asset
from gateway.validation import checksum

__all__ = ["NFTPage", "Wallet", "AssetConnection", "wallet_for"]


@strawberry.type(description="One page of a wallet's NFTs, in the gateway's stable order.")
class NFTPage(Page[Asset]):
    total: int = strawberry.field(description="Distinct NFTs after dedupe and the spam filter.")
    total_is_exact: bool = strawberry.field(
        description="False while the wallet walk is incomplete, capped, or a provider failed."
    )


@strawberry.type
class AssetEdge(Edge[Asset]):
    pass


@strawberry.type(description="A wallet's NFTs as a Relay-style connection.")
class AssetConnection(Connection[AssetEdge]):
    pass


def _wallet_holdings(
    wallet: Wallet, info: Info[Context, None], window: ListWindow
) -> Awaitable[HoldingsSlice]:
    window = replace(window, max_age=wallet.max_age)
    return info.context.services.call(WalletHoldings(wallet.lower_address, window))


@strawberry.type(description="A wallet and what it holds.")
class Wallet:
    address: str = strawberry.field(description="EIP-55 checksummed address.")
    lower_address: strawberry.Private[str]
    max_age: strawberry.Private[int | None]
    dids: DIDList = strawberry.field(
        resolver=wallet_dids, description="The wallet's DIDs from every DID source."
    )

    nfts: NFTPage = page_field(
        NFTPage,
        Asset.from_domain,
        _wallet_holdings,
        description="NFTs by page number (1-based) and page size.",
    )
    nft_connection: AssetConnection = connection_field(
        AssetConnection,
        AssetEdge,
        Asset.from_domain,
        _wallet_holdings,
        description="NFTs as a cursor connection (first/after).",
    )


def wallet_for(address: str, max_age: int | None = None) -> Wallet:
    # The cached checksum: a keccak per request is a tenth of a warm page's time.
    return Wallet(address=checksum(address), lower_address=address, max_age=max_age)
