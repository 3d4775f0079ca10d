"""Next.ID Proof Service adapter: the personas (and their proofs) behind an address.

Always queries with ``exact=true``: without it the service does a substring match and returns
unrelated personas (UPSTREAMS.md §4.2). Follows ``pagination.next`` until ``0``.
"""

from __future__ import annotations

import httpx

from providers.base import fetch_json
from providers.models import DID
from providers.nextid.mapping import PROVIDER, to_personas

__all__ = ["MAX_PAGES", "NextIDSource"]

# 40 proof rows a page: ten pages is far more than any real persona set for one identity.
MAX_PAGES = 10


class NextIDSource:
    """:class:`~providers.base.DIDSource` for Next.ID personas."""

    name = PROVIDER

    def __init__(self, client: httpx.AsyncClient, *, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/proof"

    async def fetch_dids(self, address: str) -> tuple[DID, ...]:
        """Personas holding a proof for the EVM ``address``."""
        return await self.fetch_persona(address, "ethereum")

    async def fetch_persona(self, identity: str, platform: str) -> tuple[DID, ...]:
        """Personas holding a proof for ``identity`` on ``platform`` (``twitter``, ``ethereum``...).

        Raises :class:`ValueError` for an empty identity or one with a comma (the service
        would read a comma as a list of identities).
        """
        query = identity.strip().lower()
        if not query or "," in query:
            raise ValueError("identity must be non-empty and must not contain ','")
        seen: dict[str, DID] = {}
        page = 1
        for _ in range(MAX_PAGES):
            body = await fetch_json(
                self._client,
                PROVIDER,
                "GET",
                self._url,
                params={"platform": platform, "identity": query, "exact": "true", "page": page},
            )
            personas, next_page = to_personas(body, (platform, query))
            for did in personas:
                # A persona with many matching proofs spans pages: keep its first sighting.
                seen.setdefault(did.identity.lower(), did)
            if next_page <= page:
                break
            page = next_page
        return tuple(seen.values())
