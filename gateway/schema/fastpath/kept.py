"""What the GraphQL face made of the pages the service keeps, by slice key.

The NFT service's page cache (:mod:`gateway.nfts.page_cache`) serves one finished page to
many requests and names it with a :data:`~gateway.nfts.pages.SliceKey` (a key names one
exact page content; a page not kept has none). This face keeps, per keyed page, what it
built from it so the next request does not build it again: the converted objects
(:mod:`gateway.schema.paging`: ``Asset``/edge/``ProviderStatus`` objects, which nothing
mutates) and the warm answers read from it (:mod:`gateway.schema.fastpath.replay`).

:class:`KeptPages` is one view's cache, least recently used first out, bounded by the
number of pages the service keeps (``NFTGW_PAGE_CACHE_ENTRIES``): a page the service
dropped stops being asked for and is pushed out by the pages that are.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from gateway.nfts.pages import HoldingsSlice, SliceKey

__all__ = ["KeptPages", "PageMemo"]

DEFAULT_MAX_PAGES = 256


@dataclass(slots=True, eq=False)
class PageMemo:
    """What was built from one kept page (each filled on first need)."""

    items: list[Any] | None = None  # the holdings as GraphQL objects
    edges: list[Any] | None = None  # the same, as connection edges (cursors from its offset)
    providers: list[Any] | None = None  # the reports as ProviderStatus objects
    # Warm answers read from this page, by request key (see replay.AnswerCache).
    answers: OrderedDict[Any, Any] = field(default_factory=OrderedDict)


class KeptPages:
    """A bounded cache of :class:`PageMemo` by slice key."""

    __slots__ = ("_memos", "max_pages")

    def __init__(self, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self.max_pages = max_pages
        self._memos: OrderedDict[SliceKey, PageMemo] = OrderedDict()

    def memo(self, answer: object) -> PageMemo | None:
        """The memo of ``answer`` when it is a kept page (created on first sight); None
        for anything else, which is then built afresh every time."""
        key = slice_key(answer)
        if key is None or self.max_pages <= 0:
            return None
        memo = self._memos.get(key)
        if memo is None:
            memo = self._memos[key] = PageMemo()
            while len(self._memos) > self.max_pages:
                self._memos.popitem(last=False)
        else:
            self._memos.move_to_end(key)
        return memo

    def peek(self, answer: object) -> PageMemo | None:
        """The memo of ``answer`` if there is one; creates nothing."""
        key = slice_key(answer)
        return None if key is None else self._memos.get(key)

    def __len__(self) -> int:
        return len(self._memos)


def slice_key(answer: object) -> SliceKey | None:
    """The key of a kept page; None for anything else."""
    return answer.key if isinstance(answer, HoldingsSlice) else None
