"""The NameTag adapter slot: public name tags for an address.

"NameTag" has no single upstream (UPSTREAMS.md §5); Etherscan's public name tags are the
reference contract, in :mod:`providers.nametag.source`. Adding another NameTag source is a
one-module change: write ``providers/nametag/<vendor>.py`` with a class that has
``name = "nametag"`` and ``async fetch_dids(address) -> tuple[DID, ...]`` returning
``DIDType.NAMETAG`` DIDs (the :class:`~providers.base.DIDSource` protocol), export it here,
and build it in :func:`from_config`. Nothing else changes: the gateway only sees the
protocol.

May import ``providers.base``, ``providers.errors``, ``providers.models``,
``providers.mapping`` and its own modules; never ``gateway`` nor ``providers.sandbox``.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from providers.base import Secret
from providers.nametag.source import EtherscanNameTagSource

__all__ = ["EtherscanNameTagSource", "NameTagConfig", "from_config"]


class NameTagConfig(Protocol):
    @property
    def nametag_base_url(self) -> str: ...

    @property
    def nametag_api_key(self) -> Secret | None: ...

    @property
    def nametag_not_entitled_ttl(self) -> float: ...


def from_config(config: NameTagConfig, client: httpx.AsyncClient) -> EtherscanNameTagSource | None:
    """The adapter when a key is configured (Etherscan wants one), else ``None``."""
    if config.nametag_api_key is None:
        return None
    return EtherscanNameTagSource(
        client,
        base_url=config.nametag_base_url,
        api_key=config.nametag_api_key.get_secret_value(),
        not_entitled_ttl=config.nametag_not_entitled_ttl,
    )
