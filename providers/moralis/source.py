"""The Moralis Web3 Data API v2.2 adapter: a wallet's NFTs, one cursor page at a time.

``GET {base_url}/api/v2.2/{address}/nft?chain=…&format=decimal&normalizeMetadata=true
&limit=…&cursor=…`` with the key in the ``X-API-Key`` header (the OpenAPI document's
``ApiKeyAuth`` scheme). Statuses per Moralis's "Response Codes" page: 400 malformed
parameters, 401 missing or invalid key, 404 not found, 429 rate limited, 500 their side;
:func:`providers.base.fetch_json` maps them into :mod:`providers.errors`. The key never
appears in a raised error, even when Moralis echoes the request back.
"""

from __future__ import annotations

from time import time
from typing import Any

import httpx

from providers.base import fetch_json, redact_key
from providers.errors import ProviderBadRequest, ProviderError
from providers.mapping import lower_address
from providers.models import Chain, HoldingsPage
from providers.moralis.mapping import CHAINS, PROVIDER, chain_param, to_holdings_page

__all__ = ["API_PREFIX", "DEFAULT_BASE_URL", "MAX_PAGE_SIZE", "MoralisSource"]

DEFAULT_BASE_URL = "https://deep-index.moralis.io"
API_PREFIX = "/api/v2.2"
# The docs' example pages hold 100 items (page_size 100); the gateway never asks for more.
MAX_PAGE_SIZE = 100


class MoralisSource:
    """:class:`~providers.base.NFTSource` over Moralis's ``getWalletNFTs``."""

    name = PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        if not api_key:
            raise ValueError("Moralis api_key is empty")
        self._client = client
        self._api_root = base_url.rstrip("/") + API_PREFIX
        self._api_key = api_key
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._headers = {"accept": "application/json", "X-API-Key": api_key}

    def __repr__(self) -> str:
        return f"MoralisSource(api_root={self._api_root!r}, page_size={self._page_size})"

    def supports(self, chain: Chain) -> bool:
        return chain in CHAINS

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage:
        """One ``getWalletNFTs`` page; ``next_cursor`` is ``None`` on the last page.

        Raises :class:`ProviderBadRequest` for an owner that is not an EVM address or a
        chain Moralis does not serve, and the other :class:`ProviderError` kinds as
        :func:`providers.base.fetch_json` maps them.
        """
        wallet = lower_address(owner)
        if wallet is None:
            raise ProviderBadRequest(PROVIDER, "owner is not an EVM address")
        if chain not in CHAINS:
            raise ProviderBadRequest(PROVIDER, f"chain {chain} is not supported")
        params: dict[str, Any] = {
            "chain": chain_param(chain),
            "format": "decimal",
            "normalizeMetadata": "true",
            "limit": self._page_size,
        }
        if cursor:
            params["cursor"] = cursor  # opaque: passed back verbatim
        try:
            body = await fetch_json(
                self._client,
                PROVIDER,
                "GET",
                f"{self._api_root}/{wallet}/nft",
                params=params,
                headers=self._headers,
            )
        except ProviderError as exc:
            error = redact_key(exc, self._api_key)
        else:
            return to_holdings_page(body, chain, wallet, fetched_at=time())
        # Raised outside the handler so the original error is not chained as __context__.
        raise error

    async def refresh_metadata(self, chain: Chain, contract: str, token_id: str) -> None:
        """Ask Moralis to resync the token's metadata (operation ``reSyncMetadata``,
        ``GET /nft/{address}/{token_id}/metadata/resync``) in its default ``async`` mode:
        202 means queued. ``flag=uri`` re-reads the token URI and then its metadata."""
        if chain not in CHAINS:
            raise ProviderBadRequest(PROVIDER, f"chain {chain} is not supported")
        params = {"chain": chain_param(chain), "flag": "uri", "mode": "async"}
        url = f"{self._api_root}/nft/{contract}/{token_id}/metadata/resync"
        try:
            await fetch_json(
                self._client, PROVIDER, "GET", url, params=params, headers=self._headers
            )
        except ProviderError as exc:
            error = redact_key(exc, self._api_key)
        else:
            return
        raise error
