"""Paging shared by every NFT list: a wallet's and an identity's, by page and by cursor.

``Wallet.nfts``/``Wallet.nftConnection`` and ``Identity.nfts``/``Identity.nftConnection``
differ only in the service they ask and in what one item is (an ``Asset`` or an
``IdentityAsset``): the arguments, their validation, the cursors, the page and
connection objects and the enrichment decision are the same, so they are written once
here. The objects a kept page (one the service's page cache serves to many requests)
turns into are kept by its slice key in the request context's
:class:`~gateway.schema.fastpath.kept.KeptPages`: such a page is converted once, not once
per request (nothing mutates the objects).

Over 400 lines on purpose: the page and connection generics, their wallet and identity
subclasses and the one conversion path they share read best side by side; split, each half
would import the other.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import strawberry
from graphql import FieldNode, FragmentSpreadNode, SelectionNode
from strawberry.types import Info

from gateway.errors import InvalidCursor
from gateway.nfts.pages import ProviderReport
from gateway.schema.calls import ListWindow
from gateway.schema.context import Context
from gateway.schema.fastpath.kept import PageMemo
from gateway.schema.types import Chain, NsfwFilter, ProviderStatus, SpamFilter
from gateway.validation import parse_positive_int

__all__ = [
    "ENRICHED_FIELDS",
    "Connection",
    "Edge",
    "MAX_PAGE",
    "Page",
    "ListHoldings",
    "PageInfo",
    "PagedAnswer",
    "connection_field",
    "connection_of",
    "cursor_window",
    "decode_cursor",
    "encode_cursor",
    "fetched_at_field",
    "list_arguments",
    "page_field",
    "page_of",
    "page_window",
    "stale_age_field",
    "stale_field",
]

MAX_PAGE = 1_000_000
MAX_CURSOR_LENGTH = 512
_CURSOR_PREFIX = "nftgw:v1:"

# Fields whose values come (at least partly) from per-NFT detail or collection calls.
ENRICHED_FIELDS = frozenset(
    {
        "traits",
        "rarity",
        "ownerAddresses",
        "ownersComplete",
        "quantity",
        "quantityInt",
        "quantityKnown",
        "collectionName",
        "animationUrl",
        "provenance",
        "collection",  # its name may need the collection call, its floor OpenSea's stats
    }
)

T = TypeVar("T")
E = TypeVar("E", bound="Edge[Any]")
P = TypeVar("P", bound="Page[Any]")
C = TypeVar("C", bound="Connection[Any]")


class PagedAnswer(Protocol):
    """What both services answer for a slice of a (wallet's or identity's) NFT list."""

    @property
    def holdings(self) -> Sequence[Any]: ...
    @property
    def total(self) -> int: ...
    @property
    def total_is_exact(self) -> bool: ...
    @property
    def has_more(self) -> bool: ...
    @property
    def providers(self) -> Sequence[ProviderReport]: ...
    @property
    def stale(self) -> bool: ...
    @property
    def stale_age_seconds(self) -> int | None: ...
    @property
    def fetched_at(self) -> float | None: ...


def stale_field(
    description: str = "True when every provider failed and this is an older snapshot.",
) -> Any:
    """The ``stale`` field every NFT list has."""
    return strawberry.field(default=False, description=description)


def stale_age_field(description: str = "How old the stale snapshot is; null when fresh.") -> Any:
    """The ``staleAgeSeconds`` field every NFT list has."""
    return strawberry.field(default=None, description=description)


FETCHED_AT_DESCRIPTION = (
    "When the providers were read for this list (the oldest wallet's, over several); "
    "ask for fresher data with maxAge."
)


def fetched_at_field(description: str = FETCHED_AT_DESCRIPTION) -> Any:
    """The ``fetchedAt`` field every NFT list has."""
    return strawberry.field(default=None, description=description)


# How an owner type (Wallet, Identity) lists its NFTs: (root, info, window) -> the slice.
ListHoldings = Callable[[Any, Info[Context, None], ListWindow], Awaitable[Any]]


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


# -- the generic list types --------------------------------------------------------------
# Each schema type subclasses one of these with its item type and its own name (the SDL
# names stay NFTPage, AssetConnection...), redeclaring a field only to give it its own
# description. Instances are always of the named subclass: the compiled projection
# (gateway.schema.fastpath.compiled) recognises objects by their exact class.


@strawberry.type
class Page(Generic[T]):
    """One page of an NFT list: ``page``/``size``, items in ``assets``."""

    total: int
    total_is_exact: bool
    page: int
    size: int
    has_next_page: bool
    assets: list[T]
    providers: list[ProviderStatus]
    stale: bool = stale_field()
    stale_age_seconds: int | None = stale_age_field()
    fetched_at: datetime | None = fetched_at_field()


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[E]):
    """An NFT list as a Relay-style connection of ``E`` edges (an :class:`Edge` subclass)."""

    edges: list[E]
    page_info: PageInfo
    total_count: int
    total_is_exact: bool
    providers: list[ProviderStatus]
    stale: bool = stale_field()
    stale_age_seconds: int | None = stale_age_field()
    fetched_at: datetime | None = fetched_at_field()


# -- the two fields every NFT owner type has ---------------------------------------------


def page_field(
    page_type: type[Page[Any]],
    item: Callable[[Any], Any],
    list_holdings: ListHoldings,
    *,
    description: str,
) -> Any:
    """``nfts(page, size, chains, spam, nsfw)`` answering ``page_type`` of ``item(holding)``."""

    async def nfts(
        root: Any,
        info: Info[Context, None],
        page: int = 1,
        size: int = 20,
        chains: list[Chain] | None = None,
        spam: SpamFilter = SpamFilter.EXCLUDE,
        nsfw: NsfwFilter = NsfwFilter.INCLUDE,
    ) -> Any:
        page, size = page_window(info, page, size)
        window = list_arguments(info, (page - 1) * size, size, chains, (spam, nsfw))
        result = await list_holdings(root, info, window)
        memo = info.context.pages.memo(result)
        return page_of(page_type, result, item, page=page, size=size, memo=memo)

    nfts.__annotations__["return"] = page_type  # the GraphQL type strawberry reads
    return strawberry.field(resolver=nfts, description=description)


def connection_field(
    connection_type: type[Connection[Any]],
    edge_type: type[Edge[Any]],
    item: Callable[[Any], Any],
    list_holdings: ListHoldings,
    *,
    description: str,
) -> Any:
    """``nftConnection(first, after, chains, spam, nsfw)`` answering ``connection_type``."""

    async def nft_connection(
        root: Any,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        chains: list[Chain] | None = None,
        spam: SpamFilter = SpamFilter.EXCLUDE,
        nsfw: NsfwFilter = NsfwFilter.INCLUDE,
    ) -> Any:
        offset, limit = cursor_window(info, first, after)
        window = list_arguments(info, offset, limit, chains, (spam, nsfw))
        result = await list_holdings(root, info, window)
        memo = info.context.pages.memo(result)
        return connection_of(connection_type, edge_type, result, item, offset=offset, memo=memo)

    nft_connection.__annotations__["return"] = connection_type
    return strawberry.field(resolver=nft_connection, description=description)


# -- arguments ----------------------------------------------------------------------------


def page_window(info: Info[Context, None], page: int, size: int) -> tuple[int, int]:
    """``page`` and ``size`` validated (1-based page, size up to the configured maximum)."""
    page = parse_positive_int(page, field="page", maximum=MAX_PAGE)
    size = parse_positive_int(size, field="size", maximum=info.context.settings.max_page_size)
    return page, size


def cursor_window(info: Info[Context, None], first: int, after: str | None) -> tuple[int, int]:
    """The offset and limit that ``first`` and ``after`` ask for, validated."""
    first = parse_positive_int(first, field="first", maximum=info.context.settings.max_page_size)
    offset = 0 if after is None else decode_cursor(after) + 1
    return offset, first


def list_arguments(
    info: Info[Context, None],
    offset: int,
    limit: int,
    chains: list[Chain] | None,
    filters: tuple[SpamFilter, NsfwFilter],
) -> ListWindow:
    """The window, the filters and whether the query needs the per-NFT details."""
    spam, nsfw = filters
    return ListWindow(
        offset=offset,
        limit=limit,
        chains=tuple(chains) if chains else None,
        spam=spam,
        nsfw=nsfw,
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


# -- answers ------------------------------------------------------------------------------


def page_of(
    page_type: type[P],
    result: PagedAnswer,
    item: Callable[[Any], Any],
    *,
    page: int,
    size: int,
    memo: PageMemo | None = None,
) -> P:
    """One page object (``NFTPage``, ``IdentityNFTPage``) of ``result``'s items; the
    converted objects come from (and go to) ``memo`` when the page is a kept one."""
    return page_type(
        total=result.total,
        total_is_exact=result.total_is_exact,
        page=page,
        size=size,
        has_next_page=result.has_more,
        assets=_items(result, item, memo),
        providers=_providers(result, memo),
        stale=result.stale,
        stale_age_seconds=result.stale_age_seconds,
        fetched_at=_when(result.fetched_at),
    )


def connection_of(
    connection_type: type[C],
    edge_type: type[Edge[Any]],
    result: PagedAnswer,
    item: Callable[[Any], Any],
    *,
    offset: int,
    memo: PageMemo | None = None,
) -> C:
    """A Relay connection (``AssetConnection``, ``IdentityAssetConnection``) of ``result``;
    ``offset`` is the slice's, the position its cursors count from."""
    edges = None if memo is None else memo.edges
    if edges is None:
        nodes = _items(result, item, memo)
        edges = [edge_type(cursor=encode_cursor(offset + i), node=n) for i, n in enumerate(nodes)]
        if memo is not None:
            memo.edges = edges
    return connection_type(
        edges=edges,
        page_info=PageInfo(
            has_next_page=result.has_more,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=result.total,
        total_is_exact=result.total_is_exact,
        providers=_providers(result, memo),
        stale=result.stale,
        stale_age_seconds=result.stale_age_seconds,
        fetched_at=_when(result.fetched_at),
    )


def _when(unix_seconds: float | None) -> datetime | None:
    """A Unix time as an aware UTC datetime, to the millisecond (GraphQL ``DateTime``)."""
    if unix_seconds is None:
        return None
    return datetime.fromtimestamp(round(unix_seconds, 3), UTC)


def _items(result: PagedAnswer, item: Callable[[Any], Any], memo: PageMemo | None) -> list[Any]:
    """The slice's holdings as GraphQL objects, converted once per kept page."""
    items = None if memo is None else memo.items
    if items is None:
        items = [item(h) for h in result.holdings]
        if memo is not None:
            memo.items = items
    return items


def _providers(result: PagedAnswer, memo: PageMemo | None) -> list[ProviderStatus]:
    providers = None if memo is None else memo.providers
    if providers is None:
        providers = [ProviderStatus.from_domain(r) for r in result.providers]
        if memo is not None:
            memo.providers = providers
    return providers


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
