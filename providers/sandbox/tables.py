"""The vendors' own names for chains and platforms, as the emulators answer them.

Written from the vendors' documents (``shared/UPSTREAMS.md`` and ``shared/specs/``), not
from the adapters: an adapter table that drifts from these fails the adapter's tests
against the emulators instead of agreeing with itself on both sides of the wire.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from eth_utils.address import to_checksum_address

from providers.models import Chain

__all__ = [
    "ALCHEMY_NETWORKS",
    "MORALIS_CHAINS",
    "NEXTID_PLATFORMS",
    "OPENSEA_CHAINS",
    "alchemy_chain",
    "checksum_address",
    "moralis_chain",
    "lower_evm_address",
    "opensea_chain",
    "opensea_segment",
]

# OpenSea API v2 ``{chain}`` path segment per chain: the ``ChainIdentifier`` enum of the
# 2026-07 spec (UPSTREAMS.md §1.2 [OS1]; specs/opensea-v2-2026-07.full.json), restricted to
# the EVM chains the sandbox world holds.
OPENSEA_CHAINS: Mapping[Chain, str] = {
    Chain.ETHEREUM: "ethereum",
    Chain.POLYGON: "polygon",
    Chain.BASE: "base",
    Chain.ARBITRUM: "arbitrum",
    Chain.OPTIMISM: "optimism",
}
# Polygon was ``matic`` in the 2024 spec [OS2]; the SDK renamed it on 2025-09-29 [OS3] and
# older clients still send it, so the emulator accepts both (UPSTREAMS.md §1.2, §7 table).
_OPENSEA_LEGACY: Mapping[str, Chain] = {"matic": Chain.POLYGON}

# Alchemy NFT API v3 network (host prefix) per chain: UPSTREAMS.md §2.2 and the §7
# cross-walk [AL1 ``src/openapi/nft/nft.yaml``]; e.g. specs/alchemy-nft-v3.trimmed.yaml
# serves ``https://eth-mainnet.g.alchemy.com``.
ALCHEMY_NETWORKS: Mapping[Chain, str] = {
    Chain.ETHEREUM: "eth-mainnet",
    Chain.POLYGON: "polygon-mainnet",
    Chain.BASE: "base-mainnet",
    Chain.ARBITRUM: "arb-mainnet",
    Chain.OPTIMISM: "opt-mainnet",
}
_ALCHEMY_CHAINS: Mapping[str, Chain] = {name: chain for chain, name in ALCHEMY_NETWORKS.items()}

# Moralis EVM API v2.2 ``chain`` query values: the ``chainList`` enum of its OpenAPI
# document (components.schemas.chainList), which lists each chain by name and by hex chain
# id (``eth`` / ``0x1``); both are accepted, the name is what Moralis's own docs send.
MORALIS_CHAINS: Mapping[str, Chain] = {
    "eth": Chain.ETHEREUM,
    "0x1": Chain.ETHEREUM,
    "polygon": Chain.POLYGON,
    "0x89": Chain.POLYGON,
    "base": Chain.BASE,
    "0x2105": Chain.BASE,
    "arbitrum": Chain.ARBITRUM,
    "0xa4b1": Chain.ARBITRUM,
    "optimism": Chain.OPTIMISM,
    "0xa": Chain.OPTIMISM,
}

# The Next.ID Proof Service's platform values, in the order of its ``types/platform.go``
# (UPSTREAMS.md §4.5 [NID2]); ``/healthz`` lists them. ``facebook`` and ``email`` appear only
# in a README table and are UNCONFIRMED there, so the emulator does not claim them.
NEXTID_PLATFORMS: tuple[str, ...] = (
    "github",
    "nextid",
    "twitter",
    "telegram",
    "tiktok",
    "keybase",
    "ethereum",
    "discord",
    "dotbit",
    "solana",
    "minds",
    "dns",
    "ens",
    "steam",
    "activitypub",
    "slack",
)

_HEX_DIGITS = frozenset("0123456789abcdef")


def opensea_segment(chain: Chain) -> str:
    """The ``{chain}`` segment OpenSea writes in its bodies (current naming)."""
    return OPENSEA_CHAINS[chain]


def opensea_chain(segment: str) -> Chain | None:
    """The chain a request's ``{chain}`` segment names (``matic`` too), else ``None``."""
    segment = segment.strip().lower()
    legacy = _OPENSEA_LEGACY.get(segment)
    if legacy is not None:
        return legacy
    return next((chain for chain, name in OPENSEA_CHAINS.items() if name == segment), None)


def alchemy_chain(network: str) -> Chain | None:
    """The chain of an Alchemy network name (``eth-mainnet``), else ``None``."""
    return _ALCHEMY_CHAINS.get(network)


def moralis_chain(value: str) -> Chain | None:
    """The chain a Moralis ``chain`` value names (``eth``, ``0x1``), else ``None``."""
    return MORALIS_CHAINS.get(value.strip().lower())


def lower_evm_address(value: str) -> str | None:
    """``0x`` and 40 hex digits (any case), lower-cased; else ``None``."""
    if len(value) != 42 or not value.startswith("0x"):
        return None
    lowered = value.lower()
    return lowered if set(lowered[2:]) <= _HEX_DIGITS else None


@functools.lru_cache(maxsize=65_536)
def checksum_address(address: str) -> str:
    """``address`` in EIP-55 form, as Alchemy and Moralis answer it. Remembered: the
    checksum hashes the address (keccak in Python, about 0.1 ms), a world's addresses are
    few and asked again and again, and an emulator busy hashing would make concurrent
    benchmark calls queue behind its CPU the way they never queue at a real upstream."""
    return str(to_checksum_address(address))
