""".bit (d.id / DAS) adapter: an address's .bit names, and the addresses a .bit name points to.

May import ``providers.base``, ``providers.errors``, ``providers.models``,
``providers.mapping`` and its own modules; never ``gateway`` nor ``providers.sandbox``.
:func:`from_config` is this package's line in the registry (:mod:`providers`).
"""

from __future__ import annotations

from typing import Protocol

import httpx

from providers.dotbit.mapping import validate_bit_name
from providers.dotbit.source import DotBitSource

__all__ = ["DotBitConfig", "DotBitSource", "from_config", "validate_bit_name"]


class DotBitConfig(Protocol):
    @property
    def dotbit_base_url(self) -> str: ...


def from_config(config: DotBitConfig, client: httpx.AsyncClient) -> DotBitSource:
    """The adapter; the indexer is public, so it is always on."""
    return DotBitSource(client, base_url=config.dotbit_base_url)
