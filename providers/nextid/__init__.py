"""Next.ID adapter: personas and their proofs (wallets, twitter handles...) for an identity."""

from providers.nextid.source import NextIDSource

__all__ = ["NextIDSource"]
