"""Alchemy NFT API v3: the adapter (:class:`AlchemySource`) and its pure mapping.

May import ``providers.base``, ``providers.errors``, ``providers.models``,
``providers.mapping`` and its own modules; never ``gateway`` nor ``providers.sandbox``.
:func:`from_config` is this package's line in the registry (:mod:`providers`).
"""

from __future__ import annotations

from typing import Protocol

import httpx

from providers.alchemy.mapping import NETWORKS, network_chain, to_holdings_page, to_nft_record
from providers.alchemy.source import DEFAULT_BASE_URL, AlchemySource
from providers.base import Secret

__all__ = [
    "DEFAULT_BASE_URL",
    "NETWORKS",
    "AlchemyConfig",
    "AlchemySource",
    "from_config",
    "network_chain",
    "to_holdings_page",
    "to_nft_record",
]


class AlchemyConfig(Protocol):
    @property
    def alchemy_base_url(self) -> str: ...

    @property
    def alchemy_api_key(self) -> Secret | None: ...


def from_config(config: AlchemyConfig, client: httpx.AsyncClient) -> AlchemySource | None:
    """The adapter when a key is configured (the key is part of every URL), else ``None``."""
    if config.alchemy_api_key is None:
        return None
    return AlchemySource(
        client,
        base_url=config.alchemy_base_url,
        api_key=config.alchemy_api_key.get_secret_value(),
    )
