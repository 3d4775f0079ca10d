"""Next.ID adapter: personas and their proofs (wallets, twitter handles...) for an identity."""

from providers.nextid.mapping import PLATFORMS
from providers.nextid.source import NextIDSource

__all__ = ["PLATFORMS", "NextIDSource"]
