"""OpenSea API v2: the adapter (:class:`OpenSeaSource`) and its pure mapping functions."""

from providers.opensea.mapping import (
    chain_from_segment,
    chain_segment,
    owners_quantity,
    to_collection_info,
    to_nft_detail,
    to_nft_record,
)
from providers.opensea.source import OpenSeaSource

__all__ = [
    "OpenSeaSource",
    "chain_from_segment",
    "chain_segment",
    "owners_quantity",
    "to_collection_info",
    "to_nft_detail",
    "to_nft_record",
]
