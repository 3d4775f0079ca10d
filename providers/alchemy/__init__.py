"""Alchemy NFT API v3: the adapter (:class:`AlchemySource`) and its pure mapping."""

from providers.alchemy.mapping import NETWORKS, network_chain, to_holdings_page, to_nft_record
from providers.alchemy.source import DEFAULT_BASE_URL, AlchemySource

__all__ = [
    "DEFAULT_BASE_URL",
    "NETWORKS",
    "AlchemySource",
    "network_chain",
    "to_holdings_page",
    "to_nft_record",
]
