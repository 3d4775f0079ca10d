"""OpenSea API v2: the adapter (:class:`OpenSeaSource`) and its pure mapping functions.

May import ``providers.base``, ``providers.errors``, ``providers.models``,
``providers.mapping`` and its own modules; never ``gateway`` nor ``providers.sandbox``.
:func:`from_config` is this package's line in the registry (:mod:`providers`).
"""

from __future__ import annotations

from typing import Protocol

import httpx

from providers.base import Secret
from providers.opensea.mapping import (
    chain_from_segment,
    chain_segment,
    owners_quantity,
    to_collection_info,
    to_floor,
    to_nft_detail,
    to_nft_record,
)
from providers.opensea.source import OpenSeaSource

__all__ = [
    "OpenSeaConfig",
    "OpenSeaSource",
    "chain_from_segment",
    "chain_segment",
    "from_config",
    "owners_quantity",
    "to_collection_info",
    "to_floor",
    "to_nft_detail",
    "to_nft_record",
]


class OpenSeaConfig(Protocol):
    @property
    def opensea_base_url(self) -> str: ...

    @property
    def opensea_api_key(self) -> Secret | None: ...


def from_config(config: OpenSeaConfig, client: httpx.AsyncClient) -> OpenSeaSource | None:
    """The adapter when a key is configured (OpenSea refuses keyless calls), else ``None``."""
    if config.opensea_api_key is None:
        return None
    return OpenSeaSource(
        client,
        base_url=config.opensea_base_url,
        api_key=config.opensea_api_key.get_secret_value(),
    )
