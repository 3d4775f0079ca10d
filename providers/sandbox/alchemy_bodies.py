"""The JSON bodies the Alchemy emulator answers with (NFTs, contracts, ``validAt``).

Split from :mod:`providers.sandbox.alchemy`, which parses requests and pages; this module
only renders world values in Alchemy's wire habits (UPSTREAMS.md §2.3-§2.5): checksummed
addresses, ``openSeaMetadata`` with a capital S, ``balance`` as an exact decimal string,
``raw.error`` on a token the vendor could not read.

Spam fields follow the customer's tier (``spam_tier``), as the vendor's OpenAPI document
says of ``isSpam`` and ``spamClassifications``: "Only available on paid tiers", and spam
classification "is currently supported only on Ethereum Mainnet and Matic Mainnet"
(alchemyplatform/docs ``src/openapi/nft/nft.yaml``, the ``isSpam``/``excludeFilters``
descriptions; ``shared/specs/alchemy-nft-v3.patched.yaml``). So: on ``free`` the two keys
are absent everywhere; on ``paid`` they are present on Ethereum and Polygon only, with
``isSpam`` ``null`` ("not classified") for some honest contracts, as in the vendor's
example. ``openSeaMetadata.safelistRequestStatus`` is OpenSea's safelist status, on every
tier (``null`` when OpenSea does not know the collection).
"""

from __future__ import annotations

import base64
from hashlib import sha256
from typing import Any

from providers.models import Chain
from providers.sandbox.tables import checksum_address
from providers.sandbox.world import SandboxCollection, SandboxNFT

__all__ = [
    "SPAM_NETWORKS",
    "SPAM_TIERS",
    "TIME_LAST_UPDATED",
    "missing_nft",
    "nft_body",
    "owned_base_nft",
    "owned_nft",
    "valid_at",
]

TIME_LAST_UPDATED = "2025-02-03T04:05:06.789Z"
SPAM_TIERS = ("free", "paid")
# Where the paid tier classifies spam ("Ethereum Mainnet and Matic Mainnet", nft.yaml).
SPAM_NETWORKS = frozenset({Chain.ETHEREUM, Chain.POLYGON})
_VALID_AT_BLOCKS = {
    Chain.ETHEREUM: 21_800_000,
    Chain.POLYGON: 67_500_000,
    Chain.BASE: 26_100_000,
    Chain.ARBITRUM: 305_000_000,
    Chain.OPTIMISM: 131_700_000,
}


def owned_base_nft(nft: SandboxNFT, chain: Chain, owner: str) -> dict[str, Any]:
    return {
        "contractAddress": checksum_address(nft.contract),
        "tokenId": nft.token_id,
        "balance": str(nft.holders[owner]),
    }


def owned_nft(nft: SandboxNFT, chain: Chain, owner: str, spam_tier: str) -> dict[str, Any]:
    return {**nft_body(nft, chain, spam_tier), "balance": str(nft.holders[owner])}


def nft_body(nft: SandboxNFT, chain: Chain, spam_tier: str) -> dict[str, Any]:
    """The full v3 NFT object (getNFTMetadata; plus ``balance`` in getNFTsForOwner)."""
    collection = nft.collection
    body: dict[str, Any] = {
        "contract": _contract(collection, classifies_spam(spam_tier, chain)),
        "tokenId": nft.token_id,
        "tokenType": collection.standard.value,
        "name": nft.name,
        "description": nft.description,
        "tokenUri": _gateway_url(_token_uri(nft)),
        "image": _image(nft),
    }
    if nft.animation is not None:
        body["animation"] = {
            "cachedUrl": None,  # the sandbox has no rendition: clients fall back to originalUrl
            "contentType": "video/mp4",
            "size": None,
            "originalUrl": nft.animation,
        }
    body["raw"] = {"tokenUri": _token_uri(nft), "metadata": _raw_metadata(nft), "error": None}
    body["collection"] = _collection_ref(collection)
    body["timeLastUpdated"] = TIME_LAST_UPDATED
    return body


def classifies_spam(spam_tier: str, chain: Chain) -> bool:
    """Whether a key on ``spam_tier`` sees Alchemy's spam fields on ``chain``."""
    return spam_tier == "paid" and chain in SPAM_NETWORKS


def _contract(collection: SandboxCollection, with_spam_fields: bool) -> dict[str, Any]:
    seed = _seed(collection.contract)
    contract: dict[str, Any] = {
        "address": checksum_address(collection.contract),
        "name": collection.name,
        "symbol": "".join(word[0] for word in collection.name.split()).upper(),
        "totalSupply": str(collection.total_supply),
        "tokenType": collection.standard.value,
        "contractDeployer": checksum_address(_derived_address("deployer", collection)),
        "deployedBlockNumber": 12_000_000 + seed % 5_000_000,
        "openSeaMetadata": _opensea_metadata(collection, seed),
    }
    if with_spam_fields:
        contract["isSpam"] = _is_spam(collection, seed)
        contract["spamClassifications"] = list(collection.alchemy_classifications)
    return contract


def _opensea_metadata(collection: SandboxCollection, seed: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "floorPrice": None if collection.is_spam else round(0.01 + (seed % 500) / 100, 4),
        "collectionName": collection.name,
    }
    if collection.alchemy_has_slug:
        metadata["collectionSlug"] = collection.slug
    metadata.update(
        {
            "safelistRequestStatus": collection.safelist_status or None,
            "imageUrl": None,
            "description": f"{collection.name}, a sandbox collection.",
            "externalUrl": f"https://{collection.slug}.sandbox.invalid",
            "twitterUsername": None,
            "discordUrl": None,
            "bannerImageUrl": None,
            "lastIngestedAt": "2025-02-01T12:00:00.000Z",
        }
    )
    return metadata


def _is_spam(collection: SandboxCollection, seed: int) -> bool | None:
    if collection.alchemy_classifications:
        return True
    # Like the live API, many honest contracts carry null ("not classified") not false.
    return None if seed % 3 == 0 else False


def _image(nft: SandboxNFT) -> dict[str, Any]:
    # The "cached" media is the world's data: URI, so the gallery renders offline.
    svg = base64.b64decode(nft.image.split(",", 1)[1])
    return {
        "cachedUrl": nft.image,
        "thumbnailUrl": nft.image,
        "pngUrl": nft.image,
        "contentType": "image/svg+xml",
        "size": len(svg),
        "originalUrl": nft.original_image,
    }


def _raw_metadata(nft: SandboxNFT) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if nft.name is not None:
        metadata["name"] = nft.name
    if nft.description is not None:
        metadata["description"] = nft.description
    metadata["image"] = nft.original_image
    if nft.animation is not None:
        metadata["animation_url"] = nft.animation
    # Numbers stay numbers: token JSON in the wild does that.
    metadata["attributes"] = [{"trait_type": kind, "value": value} for kind, value in nft.traits]
    return metadata


def _collection_ref(collection: SandboxCollection) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": collection.name}
    if collection.alchemy_has_slug:
        ref["slug"] = collection.slug
    ref["externalUrl"] = f"https://{collection.slug}.sandbox.invalid"
    ref["bannerImageUrl"] = None
    return ref


def missing_nft(
    contract: str, token_id: str, collection: SandboxCollection | None, with_spam_fields: bool
) -> dict[str, Any]:
    return {
        "contract": _contract(collection, with_spam_fields)
        if collection is not None
        else {"address": checksum_address(contract), "tokenType": "NOT_A_CONTRACT"},
        "tokenId": token_id,
        "tokenType": collection.standard.value if collection is not None else "UNKNOWN",
        "name": None,
        "description": None,
        "tokenUri": None,
        "image": {
            "cachedUrl": None,
            "thumbnailUrl": None,
            "pngUrl": None,
            "contentType": None,
            "size": None,
            "originalUrl": None,
        },
        "raw": {"tokenUri": None, "metadata": {}, "error": "Token does not exist"},
        "timeLastUpdated": TIME_LAST_UPDATED,
    }


def _token_uri(nft: SandboxNFT) -> str:
    return nft.original_image.rsplit(".", 1)[0] + ".json"


def _gateway_url(uri: str) -> str:
    # Alchemy's top-level tokenUri is the resolved (gateway) form of raw.tokenUri.
    if uri.startswith("ipfs://"):
        return "https://ipfs.io/ipfs/" + uri.removeprefix("ipfs://")
    return uri


def valid_at(chain: Chain) -> dict[str, Any]:
    block = _VALID_AT_BLOCKS[chain]
    return {
        "blockNumber": block,
        "blockHash": "0x" + sha256(f"{chain}:{block}".encode()).hexdigest(),
        "blockTimestamp": "2025-02-08T10:00:11Z",
    }


def _seed(text: str) -> int:
    return int(sha256(text.encode()).hexdigest()[:8], 16)


def _derived_address(label: str, collection: SandboxCollection) -> str:
    return "0x" + sha256(f"{label}:{collection.contract}".encode()).hexdigest()[:40]
