"""Etherscan public name tags as the gateway's NameTag source.

Etherscan's key is a query parameter, so every error text leaving this module is scrubbed of
it (``fetch_json`` already keeps URLs out; this also covers a body that echoes the key).

Name tags need Etherscan's Pro Plus plan; any other key is answered ``NOTOK`` "...API Pro
endpoint...". The source remembers that answer for ``not_entitled_ttl`` seconds and, in
that time, raises :class:`~providers.errors.ProviderNotEntitled` without calling: a key
without the plan costs one call per ``not_entitled_ttl``, not one per identity query.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from providers.base import fetch_json, redact_key
from providers.errors import ProviderError, ProviderNotEntitled
from providers.mapping import lower_address
from providers.models import DID
from providers.nametag.mapping import PROVIDER, to_name_tags

__all__ = ["EtherscanNameTagSource"]


class EtherscanNameTagSource:
    """:class:`~providers.base.DIDSource` over Etherscan's ``getaddresstag`` (Pro Plus tier)."""

    name = PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str = "https://api.etherscan.io",
        api_key: str | None = None,
        not_entitled_ttl: float = 6 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v2/api"
        self._api_key = api_key or None
        self._not_entitled_ttl = not_entitled_ttl
        self._clock = clock
        self._not_entitled_until = -float("inf")

    async def fetch_dids(self, address: str) -> tuple[DID, ...]:
        """Public name tags of ``address`` on Ethereum mainnet.

        Returns ``()`` without calling when no key is configured or ``address`` is not an EVM
        address; raises :class:`ProviderNotEntitled` without calling while a "not on the
        plan" answer is remembered.
        """
        owner = lower_address(address)
        if self._api_key is None or owner is None:
            return ()
        if self._clock() < self._not_entitled_until:
            raise ProviderNotEntitled(PROVIDER, "the API key's plan does not include name tags")
        params = {
            "chainid": "1",
            "module": "nametag",
            "action": "getaddresstag",
            "address": owner,
            "apikey": self._api_key,
        }
        try:
            body = await fetch_json(self._client, PROVIDER, "GET", self._url, params=params)
            return to_name_tags(body, owner)
        except ProviderNotEntitled:
            self._not_entitled_until = self._clock() + self._not_entitled_ttl
            raise
        except ProviderError as exc:
            raise redact_key(exc, self._api_key) from None
