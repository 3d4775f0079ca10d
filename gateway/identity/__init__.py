"""DIDs and names: a wallet's DIDs from every DID source, names resolved to wallets, and an
identity's NFTs across its linked wallets.

May import: :mod:`gateway.nfts` (its service and page types), :mod:`providers` (public
names), :mod:`gateway.cache`, :mod:`gateway.resilience`, :mod:`gateway.errors`,
:mod:`gateway.settings`. Never a face.
"""
