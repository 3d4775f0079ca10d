"""The NameTag adapter slot: public name tags for an address.

"NameTag" has no single upstream (UPSTREAMS.md §5); Etherscan's public name tags are the
reference contract, in :mod:`providers.nametag.source`. Adding another NameTag source is a
one-module change: write ``providers/nametag/<vendor>.py`` with a class that has
``name = "nametag"`` and ``async fetch_dids(address) -> tuple[DID, ...]`` returning
``DIDType.NAMETAG`` DIDs (the :class:`~providers.base.DIDSource` protocol), export it here,
and construct it where the gateway builds its DID sources. Nothing else changes: the gateway
only sees the protocol.
"""

from providers.nametag.source import EtherscanNameTagSource

__all__ = ["EtherscanNameTagSource"]
