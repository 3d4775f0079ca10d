"""What every resolver gets: the services and settings, built once in the app lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.identity.service import IdentityService
from gateway.nfts.service import NFTService
from gateway.settings import Settings

__all__ = ["Context"]


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    nft_service: NFTService
    # Optional so a context built for NFT queries alone (a test, a benchmark) stays valid.
    identity_service: IdentityService | None = None

    @property
    def identities(self) -> IdentityService:
        """The identity service; only DID, name and identity resolvers ask for it."""
        if self.identity_service is None:
            raise RuntimeError("this GraphQL context was built without an IdentityService")
        return self.identity_service
