"""A page's details fetched as soon as its holdings are committed, ahead of the rest of
its answer.

A page of ``size`` holdings at ``offset`` waits for one holding more than it shows (so
that ``hasNextPage`` is exact), and by default for the whole walk (an exact ``total``,
``exact_total_wait``). Its holdings are known earlier: once the walk's committed prefix
covers the page, that prefix only grows (:meth:`WalletWalk.visible
<gateway.nfts.walk.WalletWalk.visible>`). :class:`DetailsAhead` starts the page's detail
wave then, beside the waits, instead of after them: page 1 of a wallet whose first chain
fills it leaves when that chain's lists are in, not the last chain's, and at the default
exact wait a page's details go out during the walk, not after it. A page the wallet does
not fill (the bench's 20-NFT wallet shows 19: one is spam) is known only when every chain
has answered, and waits as before.

The answer uses what was fetched ahead only for the very holdings it shows (the same
objects: a holding that a later page merged into, or that a spam list change judged
again, is a new object); otherwise it enriches its page itself, and what was fetched
ahead is still in the detail cache.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Awaitable, Callable, Sequence

from gateway.nfts.merging import Holding, NsfwFilter, SpamFilter
from gateway.nfts.walk import WalletWalk
from providers.errors import ProviderError

__all__ = ["DetailsAhead"]

Failures = list[tuple[str, ProviderError]]
# What enriches a page: (its holdings, where failed calls go) -> the enriched holdings.
Enrich = Callable[[Sequence[Holding], Failures], Awaitable[list[Holding]]]


class DetailsAhead:
    """The details of holdings ``offset .. offset+size`` of ``walk``'s visible order,
    fetched by ``enrich`` once the walk has committed them (started on creation)."""

    def __init__(
        self,
        walk: WalletWalk,
        window: tuple[int, int],
        filters: tuple[SpamFilter, NsfwFilter],
        enrich: Enrich,
    ) -> None:
        self._page: tuple[Holding, ...] | None = None
        self._failures: Failures = []
        self._task = asyncio.create_task(self._fetch(walk, window, filters, enrich))

    async def _fetch(
        self,
        walk: WalletWalk,
        window: tuple[int, int],
        filters: tuple[SpamFilter, NsfwFilter],
        enrich: Enrich,
    ) -> list[Holding] | None:
        (offset, size), (spam, nsfw) = window, filters
        await walk.wait_for(offset + size, spam, exact_wait=0, nsfw=nsfw)
        page = walk.visible(spam, nsfw)[offset : offset + size]
        if len(page) < size:
            return None  # the walk ended on this page: nothing is gained ahead
        self._page = page
        return await enrich(page, self._failures)

    async def details_for(self, page: Sequence[Holding]) -> tuple[list[Holding], Failures] | None:
        """``page`` enriched and its failed calls, when these are the holdings fetched
        ahead (waiting for that fetch to end); else None, and the fetch ahead is stopped."""
        ahead = self._page
        if ahead is not None and len(ahead) == len(page) and all(map(operator.is_, ahead, page)):
            enriched = await self._task
            if enriched is not None:
                return enriched, self._failures
        self.cancel()
        return None

    def cancel(self) -> None:
        self._task.cancel()
