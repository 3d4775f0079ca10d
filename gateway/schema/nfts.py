"""NFT queries: a wallet's NFTs by page (``page``/``size``) and as a cursor connection.

Resolvers are thin: validate, call :class:`~gateway.service.NFTService`, convert. The
per-NFT detail calls run only when the query selects a field that needs them. The
converted objects are kept in the slice's ``renderings``: a page the service serves from
its page cache is converted once, not once per request (nothing mutates them).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import strawberry
from graphql import FieldNode, FragmentSpreadNode, SelectionNode
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from gateway.errors import InvalidCursor
from gateway.schema.context import Context
from gateway.schema.dids import DIDList, wallet_dids
from gateway.schema.types import Asset, Chain, ProviderStatus, SpamFilter, checksum
from gateway.service import HoldingsSlice
from gateway.validation import parse_positive_int

__all__ = ["NFTPage", "Wallet", "AssetConnection"]

MAX_CURSOR_LENGTH = 512
# This face's keys in HoldingsSlice.renderings.
_ASSETS, _PROVIDERS, _EDGES = "graphql:assets", "graphql:providers", "graphql:edges"
_CURSOR_PREFIX = "nftgw:v1:"

# Fields whose values come (at least partly) from per-NFT detail or collection calls.
ENRICHED_FIELDS = frozenset(
    {
        "traits",
        "rarity",
        "ownerAddresses",
        "quantity",
        "quantityInt",
        "quantityKnown",
        "collectionName",
        "animationUrl",
        "provenance",
    }
)


@strawberry.type(description="One page of a wallet's NFTs, in the gateway's stable order.")
class NFTPage:
    total: int = strawberry.field(description="Distinct NFTs after dedupe and the spam filter.")
    total_is_exact: bool = strawberry.field(
        description="False while the wallet walk is incomplete, capped, or a provider failed."
    )
    page: int
    size: int
    has_next_page: bool
    assets: list[Asset]
    providers: list[ProviderStatus]
    stale: bool = strawberry.field(
        default=False,
        description="True when every provider failed and this is an older snapshot.",
    )
    stale_age_seconds: int | None = strawberry.field(
        default=None, description="How old the stale snapshot is; null when fresh."
    )


@strawberry.type
class AssetEdge:
    cursor: str
    node: Asset


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="A wallet's NFTs as a Relay-style connection.")
class AssetConnection:
    edges: list[AssetEdge]
    page_info: PageInfo
    total_count: int
    total_is_exact: bool
    providers: list[ProviderStatus]
    stale: bool = strawberry.field(
        default=False,
        description="True when every provider failed and this is an older snapshot.",
    )
    stale_age_seconds: int | None = strawberry.field(
        default=None, description="How old the stale snapshot is; null when fresh."
    )


@strawberry.type(description="A wallet and what it holds.")
class Wallet:
    address: str = strawberry.field(description="EIP-55 checksummed address.")
    lower_address: strawberry.Private[str]
    dids: DIDList = strawberry.field(
        resolver=wallet_dids, description="The wallet's DIDs from every DID source."
    )

    @strawberry.field(description="NFTs by page number (1-based) and page size.")
    async def nfts(
        self,
        info: Info[Context, None],
        page: int = 1,
        size: int = 20,
        chains: list[Chain] | None = None,
        spam: SpamFilter = SpamFilter.EXCLUDE,
    ) -> NFTPage:
        settings = info.context.settings
        page = parse_positive_int(page, field="page", maximum=1_000_000)
        size = parse_positive_int(size, field="size", maximum=settings.max_page_size)
        result = await _list(info, self.lower_address, (page - 1) * size, size, chains, spam)
        return NFTPage(
            total=result.total,
            total_is_exact=result.total_is_exact,
            page=page,
            size=size,
            has_next_page=result.has_more,
            assets=_assets(result),
            providers=_providers(result),
            stale=result.stale,
            stale_age_seconds=result.stale_age_seconds,
        )

    @strawberry.field(description="NFTs as a cursor connection (first/after).")
    async def nft_connection(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        chains: list[Chain] | None = None,
        spam: SpamFilter = SpamFilter.EXCLUDE,
    ) -> AssetConnection:
        settings = info.context.settings
        first = parse_positive_int(first, field="first", maximum=settings.max_page_size)
        offset = 0 if after is None else decode_cursor(after) + 1
        result = await _list(info, self.lower_address, offset, first, chains, spam)
        edges: list[AssetEdge] | None = result.renderings.get(_EDGES)
        if edges is None:  # the slice's offset is the one these cursors count from
            edges = result.renderings[_EDGES] = [
                AssetEdge(cursor=encode_cursor(offset + i), node=asset)
                for i, asset in enumerate(_assets(result))
            ]
        return AssetConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=result.has_more,
                has_previous_page=offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=result.total,
            total_is_exact=result.total_is_exact,
            providers=_providers(result),
            stale=result.stale,
            stale_age_seconds=result.stale_age_seconds,
        )


def _assets(result: HoldingsSlice) -> list[Asset]:
    """The slice's assets as GraphQL objects, converted once per slice."""
    assets: list[Asset] | None = result.renderings.get(_ASSETS)
    if assets is None:
        assets = result.renderings[_ASSETS] = [Asset.from_domain(h) for h in result.holdings]
    return assets


def _providers(result: HoldingsSlice) -> list[ProviderStatus]:
    providers: list[ProviderStatus] | None = result.renderings.get(_PROVIDERS)
    if providers is None:
        providers = result.renderings[_PROVIDERS] = [
            ProviderStatus.from_domain(r) for r in result.providers
        ]
    return providers


def wallet_for(address: str) -> Wallet:
    # The cached checksum: a keccak per request is a tenth of a warm page's time.
    return Wallet(address=checksum(address), lower_address=address)


async def _list(
    info: Info[Context, None],
    owner: str,
    offset: int,
    limit: int,
    chains: list[Chain] | None,
    spam: SpamFilter,
) -> HoldingsSlice:
    return await info.context.nft_service.list_holdings(
        owner,
        offset=offset,
        limit=limit,
        chains=[c.to_domain() for c in chains] if chains else None,
        spam=spam.to_domain(),
        enrich=_document_selects_any(info, ENRICHED_FIELDS),
    )


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{position}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The position an opaque cursor stands for; :class:`InvalidCursor` if it is not ours."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("cursor is too long", field="after")
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidCursor("cursor is not one this gateway issued", field="after") from None
    position = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not position.isdigit() or len(position) > 9:
        raise InvalidCursor("cursor is not one this gateway issued", field="after")
    return int(position)


def _document_selects_any(info: Info[Context, None], names: frozenset[str]) -> bool:
    """Whether any field in ``names`` is selected anywhere below the resolved field.

    Read from the validated document's nodes (what ``info.selected_fields`` converts on
    every call): the answer depends on the document alone, ``@include``/``@skip`` aside,
    which it ignores the way ``selected_fields`` does (enriching too often is only slower).
    """
    raw = info._raw_info
    fragments = raw.fragments
    seen: set[str] = set()
    stack: list[SelectionNode] = list(raw.field_nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.name.value in names:
            return True  # (the resolved field itself, nfts or nftConnection, never is)
        if isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            if name in seen or fragment is None:
                continue
            seen.add(name)
            stack.extend(fragment.selection_set.selections)
            continue
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return False


def _selects_any(selections: list[Selection] | list[SelectedField], names: frozenset[str]) -> bool:
    """Whether any field in ``names`` is selected anywhere below ``selections``."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name in names:
            return True
        children: Any = getattr(selection, "selections", [])
        if isinstance(selection, FragmentSpread | InlineFragment | SelectedField) and _selects_any(
            children, names
        ):
            return True
    return False
