"""What every resolver gets: the settings and one typed way to the services.

One :class:`Context` per request, built by the view (:mod:`gateway.schema.view`) with the
request's recording (:mod:`gateway.schema.fastpath.recording`), the document the view
already parsed and the view's cache of what it built from kept pages; a direct
``schema.execute`` (a test, a benchmark) builds one with :meth:`Context.direct`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.identity.service import IdentityService
from gateway.nfts.service import NFTService
from gateway.schema.calls import CallsServices, Services
from gateway.schema.fastpath.documents import ParsedDocument
from gateway.schema.fastpath.kept import KeptPages
from gateway.settings import Settings

__all__ = ["Context"]


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    # The only way from a resolver to a service: ``await services.call(<a typed call>)``.
    services: CallsServices
    # The request's document, parsed and checked by the view: the schema does not parse it
    # again (see gateway.schema.fastpath.documents.DocumentCache).
    parsed: ParsedDocument | None = None
    # What this face built from the pages the service keeps, by slice key (one per view).
    pages: KeptPages = field(default_factory=KeptPages)
    # Who is asking, for per-client limits (refreshNft): a hash of the client's API key,
    # else its IP (see gateway.http.ratelimit.client_bucket).
    client: str = "unknown"

    @classmethod
    def direct(
        cls,
        settings: Settings,
        nft_service: NFTService,
        identity_service: IdentityService | None = None,
    ) -> Context:
        """A context calling the services directly (no recording, nothing pre-parsed)."""
        return cls(settings=settings, services=Services(nft_service, identity_service))
