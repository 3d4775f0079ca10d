"""Alchemy NFT API v3 as an :class:`~providers.base.NFTSource`.

``GET {base_url}/nft/v3/{apiKey}/getNFTsForOwner``, where ``base_url`` names the network
(``https://{network}.g.alchemy.com``; the sandbox uses ``http://{network}.alchemy.sandbox``
or a path prefix such as ``http://127.0.0.1:8001/{network}``).

The API key is a URL path segment, so it is a secret that travels in every URL: no error
raised from here carries it, even when the upstream echoes the path in an error body, and
``repr`` of the source leaves it out.
"""

from __future__ import annotations

from time import time

import httpx

from providers.alchemy.mapping import NETWORKS, PROVIDER, to_holdings_page
from providers.base import fetch_json, redact_key
from providers.errors import ProviderBadRequest, ProviderCursorExpired, ProviderError
from providers.models import Chain, HoldingsPage

__all__ = ["DEFAULT_BASE_URL", "MAX_PAGE_SIZE", "AlchemySource"]

DEFAULT_BASE_URL = "https://{network}.g.alchemy.com"
MAX_PAGE_SIZE = 100  # Alchemy's documented maximum for getNFTsForOwner
# Alchemy's 400 text for a page key past its ~15 minute life (UPSTREAMS.md §2.7, §2.10).
_EXPIRED_MARKER = "not found or expired"


class AlchemySource:
    """Lists a wallet's NFTs on one chain, one Alchemy page (<= 100 NFTs) at a time."""

    name = PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        if "{network}" not in base_url:
            raise ValueError("Alchemy base_url must contain '{network}'")
        if not api_key:
            raise ValueError("Alchemy api_key is empty")
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))

    def __repr__(self) -> str:
        return f"AlchemySource(base_url={self._base_url!r}, page_size={self._page_size})"

    def supports(self, chain: Chain) -> bool:
        return chain in NETWORKS

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage:
        """One ``getNFTsForOwner`` page.

        Raises :class:`ProviderCursorExpired` when Alchemy no longer knows ``cursor`` (restart
        the walk), :class:`ProviderBadRequest` for an unsupported chain, and the other
        :class:`ProviderError` kinds as :func:`providers.base.fetch_json` maps them.
        """
        if chain not in NETWORKS:
            raise ProviderBadRequest(PROVIDER, f"chain {chain} is not supported")
        params: dict[str, str | int] = {
            "owner": owner,
            "withMetadata": "true",
            "pageSize": self._page_size,
        }
        if cursor:
            params["pageKey"] = cursor
        try:
            body = await fetch_json(
                self._client, PROVIDER, "GET", self._url(chain, "getNFTsForOwner"), params=params
            )
        except ProviderError as exc:
            error = self._translate(exc)
        else:
            return to_holdings_page(body, chain, owner, fetched_at=time())
        # Raised outside the handler so the original error is not chained as __context__.
        raise error

    async def refresh_metadata(self, chain: Chain, contract: str, token_id: str) -> None:
        """Ask Alchemy to re-read the token's metadata: ``getNFTMetadata`` with
        ``refreshCache=true`` (the v3 spec's parameter; the vendor's SDK v3
        ``refreshNftMetadata`` makes this same call, and its docs name it the way on every
        network). Alchemy allows one refresh per token every 15 minutes."""
        if chain not in NETWORKS:
            raise ProviderBadRequest(PROVIDER, f"chain {chain} is not supported")
        params = {"contractAddress": contract, "tokenId": token_id, "refreshCache": "true"}
        try:
            await fetch_json(
                self._client, PROVIDER, "GET", self._url(chain, "getNFTMetadata"), params=params
            )
        except ProviderError as exc:
            error = self._translate(exc)
        else:
            return
        raise error

    def _url(self, chain: Chain, method: str) -> str:
        base = self._base_url.format(network=NETWORKS[chain])
        return f"{base}/nft/v3/{self._api_key}/{method}"

    def _translate(self, exc: ProviderError) -> ProviderError:
        """The error to raise instead of ``exc``: key scrubbed (see
        :func:`~providers.base.redact_key`), expired page keys recognised."""
        redacted = redact_key(exc, self._api_key)
        if isinstance(redacted, ProviderBadRequest) and _EXPIRED_MARKER in redacted.message.lower():
            return ProviderCursorExpired(redacted.provider, redacted.message)
        return redacted
