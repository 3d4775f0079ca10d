"""DIDs and names: a wallet's DIDs from every DID source, names resolved to wallets, and an
identity's NFTs across its linked wallets.

* :mod:`.service`: :class:`IdentityService` (DIDs, names, linked wallets; the faces' entry).
* :mod:`.union`: an identity's NFTs, the union of its wallets' (via
  :meth:`NFTService.whole_wallet`).
* :mod:`.names`: pure parsers for names and identities (faces call them once, at their
  boundary).

Services here raise :mod:`gateway.errors` errors without client field names.

May import: :mod:`gateway.nfts` (its service and page types), :mod:`providers` (public
names), :mod:`gateway.cache`, :mod:`gateway.resilience`, :mod:`gateway.errors`,
:mod:`gateway.validation`, :mod:`gateway.settings`. Never a face.
"""
