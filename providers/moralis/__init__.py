"""Moralis Web3 Data API v2.2: the adapter (:class:`MoralisSource`) and its pure mapping.

May import ``providers.base``, ``providers.errors``, ``providers.models``,
``providers.mapping`` and its own modules; never ``gateway`` nor ``providers.sandbox``.
:func:`from_config` is this package's line in the registry (:mod:`providers`).
"""

from __future__ import annotations

from typing import Protocol

import httpx

from providers.base import Secret
from providers.moralis.mapping import (
    CHAINS,
    chain_param,
    is_verified_collection,
    to_floor,
    to_holdings_page,
    to_nft_record,
)
from providers.moralis.source import API_PREFIX, DEFAULT_BASE_URL, MoralisSource

__all__ = [
    "API_PREFIX",
    "CHAINS",
    "DEFAULT_BASE_URL",
    "MoralisConfig",
    "MoralisSource",
    "chain_param",
    "from_config",
    "is_verified_collection",
    "to_floor",
    "to_holdings_page",
    "to_nft_record",
]


class MoralisConfig(Protocol):
    @property
    def moralis_base_url(self) -> str: ...

    @property
    def moralis_api_key(self) -> Secret | None: ...


def from_config(config: MoralisConfig, client: httpx.AsyncClient) -> MoralisSource | None:
    """The adapter when a key is configured (Moralis refuses keyless calls), else ``None``."""
    if config.moralis_api_key is None:
        return None
    return MoralisSource(
        client,
        base_url=config.moralis_base_url,
        api_key=config.moralis_api_key.get_secret_value(),
    )
