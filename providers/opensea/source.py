"""The OpenSea API v2 adapter: holdings pages, per-NFT detail and collection facts.

Details and collections come in batches (``POST /api/v2/nfts/batch``,
``/collections/batch``; one upstream call each, see
``shared/specs/opensea-v2-2026-07.full.json``); the per-NFT GETs remain for servers
without those routes. Splitting a batch the server refuses is the caller's choice.

Wire contract: UPSTREAMS.md §1. Every call goes through :func:`providers.base.fetch_json`,
so statuses and transport failures arrive as :mod:`providers.errors`; this module adds the
shape checks (a body that is not what the contract promises is :class:`ProviderBadData`)
and keeps the API key out of every exception text, even when the upstream echoes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from time import time
from typing import Any
from urllib.parse import quote

import httpx

from providers.base import fetch_json, open_connections, redact_key
from providers.errors import (
    ProviderBadData,
    ProviderBadRequest,
    ProviderBatchTooLarge,
    ProviderError,
    ProviderNotFound,
    ProviderUnsupported,
)
from providers.mapping import lower_address, mapping
from providers.models import (
    Chain,
    CollectionInfo,
    FloorPrice,
    HoldingsPage,
    NFTRecord,
    OwnersPage,
    TokenStandard,
)
from providers.opensea.mapping import (
    CHAINS,
    SOURCE,
    chain_segment,
    next_cursor,
    to_collection_info,
    to_floor,
    to_nft_detail,
    to_nft_record,
    to_owners_page,
)

__all__ = ["OpenSeaSource"]

# The 2026 spec allows list limits up to 200; the 2024 one capped them at 50. A server that
# refuses our limit (a 400 naming it) gets 50 from then on.
LEGACY_PAGE_LIMIT = 50
OWNERS_PAGE_LIMIT = 100  # the /owners endpoint's maximum
OWNERS_MAX_PAGES = 20  # 2,000 holders: past that the balance stays unknown, not guessed


class OpenSeaSource:
    """:class:`~providers.base.NFTSource` and :class:`~providers.base.NFTDetailSource`
    over OpenSea API v2.

    Raises :class:`~providers.errors.ProviderError` subclasses only: a 400 on
    list-by-account is :class:`ProviderBadRequest` (some clients read it as "empty wallet";
    we do not invent emptiness).
    """

    name = SOURCE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str | None,
        page_limit: int = 200,
    ) -> None:
        self._client = client
        self._api_root = base_url.rstrip("/") + "/api/v2"
        self._api_key = api_key or None
        self._page_limit = page_limit
        self._headers = {"accept": "application/json"}
        if self._api_key is not None:
            self._headers["x-api-key"] = self._api_key

    def supports(self, chain: Chain) -> bool:
        return chain in CHAINS

    async def open_connections(self, count: int) -> None:
        """Open ``count`` connections to the API ahead of a page's detail calls."""
        await open_connections(self._client, self._api_root, count)

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage:
        """One list-by-account page; ``next_cursor`` is ``None`` on the last page."""
        wallet = _wallet(owner)
        path = f"/chain/{chain_segment(chain)}/account/{wallet}/nfts"
        params: dict[str, Any] = {"limit": self._page_limit}
        if cursor:
            params["next"] = cursor  # opaque: passed back verbatim (httpx URL-encodes it)
        try:
            body = await self._get(path, params)
        except ProviderBadRequest as exc:
            if self._page_limit <= LEGACY_PAGE_LIMIT or "limit" not in exc.message.lower():
                raise
            self._page_limit = params["limit"] = LEGACY_PAGE_LIMIT
            body = await self._get(path, params)
        rows = mapping(body).get("nfts")
        if not isinstance(rows, list):
            raise ProviderBadData(SOURCE, "list-by-account body has no 'nfts' list")
        records = (to_nft_record(row, chain, wallet) for row in rows)
        return HoldingsPage(
            records=tuple(record for record in records if record is not None),
            next_cursor=next_cursor(body),
        )

    async def fetch_nft_detail(self, owner: str, record: NFTRecord) -> NFTRecord:
        """Get-NFT for ``record``: traits, rank, owners and ``owner``'s exact quantity."""
        wallet = _wallet(owner)
        path = _nft_path(record)
        raw_nft = mapping(await self._get(path, {})).get("nft")
        detail = to_nft_detail(raw_nft, record.chain, wallet)
        if detail is None:
            raise ProviderBadData(SOURCE, "get-NFT body has no usable 'nft' object")
        needs_owners_walk = (
            mapping(raw_nft).get("owners") is None
            and detail.token_standard is TokenStandard.ERC1155
        )
        if needs_owners_walk:
            detail = await self._with_owners_walk(detail, path, wallet)
        return detail

    async def fetch_nft_batch(
        self, owner: str, chain: Chain, records: Sequence[NFTRecord]
    ) -> tuple[NFTRecord, ...]:
        """``POST /nfts/batch``: the detail of each of ``records`` (all on ``chain``: the
        answer's ``NftDetailed`` objects do not name their chain) OpenSea knows, in one
        call; the ones it does not know are left out, as OpenSea omits them.

        An ERC-1155 with more than 50 holders comes back without ``owner_addresses`` and
        ``quantity`` (``owners: null``): :meth:`fetch_owners_page` finds the balance.
        Raises :class:`ProviderBatchTooLarge` on a 400 that refuses the size and
        :class:`ProviderUnsupported` when the server has no batch route.
        """
        wallet = _wallet(owner)
        if any(record.chain is not chain for record in records):
            raise ProviderBadRequest(SOURCE, "a batch holds NFTs of one chain")
        identifiers = [_identifier(record) for record in records]
        body = await self._post("/nfts/batch", {"identifiers": identifiers}, "identifiers")
        rows = mapping(body).get("nfts")
        if not isinstance(rows, list):
            raise ProviderBadData(SOURCE, "nfts batch body has no 'nfts' list")
        details = (to_nft_detail(row, chain, wallet) for row in rows)
        return tuple(detail for detail in details if detail is not None)

    async def fetch_collection_batch(self, slugs: Sequence[str]) -> tuple[CollectionInfo, ...]:
        """``POST /collections/batch``: the collections OpenSea knows of ``slugs``, one call.

        Raises like :meth:`fetch_nft_batch`.
        """
        body = await self._post("/collections/batch", {"slugs": list(slugs)}, "slugs")
        rows = mapping(body).get("collections")
        if not isinstance(rows, list):
            raise ProviderBadData(SOURCE, "collections batch body has no 'collections' list")
        infos = (to_collection_info(row) for row in rows)
        return tuple(info for info in infos if info is not None)

    async def fetch_owners_page(self, record: NFTRecord, cursor: str | None) -> OwnersPage:
        """One ``/owners`` page of ``record``: ``((address, quantity), ...)`` and the next
        cursor (``None`` on the last page); an empty last page from a server without the
        route (see :meth:`_owners_page`)."""
        found = await self._owners_page(_nft_path(record), cursor)
        return ((), None) if found is None else found

    async def fetch_collection(self, chain: Chain, slug: str) -> CollectionInfo:
        """Get-collection by slug (slugs are global on OpenSea; ``chain`` is not needed)."""
        body = await self._get(f"/collections/{quote(slug, safe='')}", {})
        info = to_collection_info(body)
        if info is None:
            raise ProviderBadData(SOURCE, "get-collection body has no 'collection' slug")
        return info

    async def fetch_floor(self, chain: Chain, slug: str) -> FloorPrice | None:
        """Collection stats (``GET /api/v2/collections/{slug}/stats``): the floor, stamped
        with the time it was read; ``None`` when the collection has none."""
        body = await self._get(f"/collections/{quote(slug, safe='')}/stats", {})
        if not isinstance(mapping(body).get("total"), Mapping):
            raise ProviderBadData(SOURCE, "collection stats body has no 'total' object")
        return to_floor(body, fetched_at=time())

    async def refresh_metadata(self, chain: Chain, contract: str, token_id: str) -> None:
        """Queue a metadata refresh (``POST .../nfts/{identifier}/refresh``, operation
        ``refresh_nft_metadata``). Its 200 body is a bare string in the spec, so any 2xx
        counts as accepted whatever its body."""
        record = NFTRecord(source=SOURCE, chain=chain, contract_address=contract, token_id=token_id)
        try:
            await fetch_json(
                self._client,
                SOURCE,
                "POST",
                self._api_root + _nft_path(record) + "/refresh",
                headers=self._headers,
            )
        except ProviderBadData:
            return  # a 2xx whose body is not JSON: the refresh was queued all the same
        except ProviderError as exc:
            raise redact_key(exc, self._api_key) from None

    async def _with_owners_walk(self, detail: NFTRecord, nft_path: str, wallet: str) -> NFTRecord:
        """``detail`` with holders from ``/owners`` (OpenSea sent ``owners: null``).

        Pages (bounded) until ``wallet`` shows up: its quantity is then exact, and the
        holders seen so far are the whole list only if that was the last page. A partial
        list is marked so (``owners_complete=False``), never passed off as complete.

        ``/owners`` is newer than the rest of API v2 (UPSTREAMS.md 1.5): a server without it
        answers 404, and ``detail`` stands as get-NFT gave it (holders and quantity unknown)
        rather than failing with it.
        """
        holders: dict[str, int | None] = {}
        cursor: str | None = None
        complete = False
        for _ in range(OWNERS_MAX_PAGES):
            found = await self._owners_page(nft_path, cursor)
            if found is None:
                if not holders:
                    return detail
                break  # what the earlier pages told stands, marked partial
            page, next_page = found
            holders.update(page)
            if next_page is None or next_page == cursor:
                complete = next_page is None
                break
            if wallet in holders:
                break
            cursor = next_page
        return replace(
            detail,
            owner_addresses=tuple(holders),
            owners_complete=complete,
            quantity=holders.get(wallet),
        )

    async def _owners_page(self, nft_path: str, cursor: str | None) -> OwnersPage | None:
        """One ``/owners`` page of the NFT at ``nft_path``: its holders and the next cursor;
        ``None`` from a server without the route (a 404: the route is newer than the rest of
        API v2, UPSTREAMS.md 1.5)."""
        params: dict[str, Any] = {"limit": OWNERS_PAGE_LIMIT}
        if cursor:
            params["next"] = cursor
        try:
            body = await self._get(f"{nft_path}/owners", params)
        except ProviderNotFound:
            return None
        if not isinstance(mapping(body).get("owners"), list):
            raise ProviderBadData(SOURCE, "owners body has no 'owners' list")
        return to_owners_page(body)

    async def _post(self, path: str, body: Mapping[str, Any], field: str) -> Any:
        try:
            return await fetch_json(
                self._client,
                SOURCE,
                "POST",
                self._api_root + path,
                headers=self._headers,
                json_body=body,
            )
        except ProviderNotFound:
            # The route itself is missing (a batch answer leaves unknown items out).
            raise ProviderUnsupported(SOURCE, f"no {path} route") from None
        except ProviderBadRequest as exc:
            if exc.message.startswith("HTTP 405"):
                raise ProviderUnsupported(SOURCE, f"no {path} route") from None
            if _refuses_size(exc.message, field):
                raise ProviderBatchTooLarge(
                    SOURCE, redact_key(exc, self._api_key).message
                ) from None
            raise redact_key(exc, self._api_key) from None
        except ProviderError as exc:
            raise redact_key(exc, self._api_key) from None

    async def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        try:
            return await fetch_json(
                self._client,
                SOURCE,
                "GET",
                self._api_root + path,
                params=params,
                headers=self._headers,
            )
        except ProviderError as exc:
            raise redact_key(exc, self._api_key) from None


def _wallet(owner: str) -> str:
    wallet = lower_address(owner)
    if wallet is None:
        raise ProviderBadRequest(SOURCE, "owner is not an EVM address")
    return wallet


def _identifier(record: NFTRecord) -> dict[str, str]:
    _nft_path(record)  # the same checks as a single call's
    return {
        "chain": chain_segment(record.chain),
        "contract_address": record.contract_address.lower(),
        "token_id": record.token_id,
    }


# A 400 refusing a batch names the list and says it is too long (wording not documented).
_SIZE_WORDS = ("too many", "too long", "no more than", "at most", "max", "exceed", "size", "limit")


def _refuses_size(message: str, field: str) -> bool:
    text = message.lower()
    return field in text and any(word in text for word in _SIZE_WORDS)


def _nft_path(record: NFTRecord) -> str:
    contract = lower_address(record.contract_address)
    if contract is None or not (record.token_id.isascii() and record.token_id.isdecimal()):
        raise ProviderBadRequest(SOURCE, "record has no usable contract/token id")
    return f"/chain/{chain_segment(record.chain)}/contract/{contract}/nfts/{record.token_id}"
