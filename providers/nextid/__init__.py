"""Next.ID adapter: personas and their proofs (wallets, twitter handles...) for an identity.

May import ``providers.base``, ``providers.errors``, ``providers.models``,
``providers.mapping`` and its own modules; never ``gateway`` nor ``providers.sandbox``.
:func:`from_config` is this package's line in the registry (:mod:`providers`).
"""

from __future__ import annotations

from typing import Protocol

import httpx

from providers.nextid.mapping import PLATFORMS
from providers.nextid.source import NextIDSource

__all__ = ["PLATFORMS", "NextIDConfig", "NextIDSource", "from_config"]


class NextIDConfig(Protocol):
    @property
    def nextid_base_url(self) -> str: ...


def from_config(config: NextIDConfig, client: httpx.AsyncClient) -> NextIDSource:
    """The adapter; the proof service is public, so it is always on."""
    return NextIDSource(client, base_url=config.nextid_base_url)
