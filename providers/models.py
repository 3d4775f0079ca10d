"""The normalised model every adapter maps into.

Adapters produce :class:`NFTRecord` values: one provider's view of one NFT as held by the
queried wallet. The gateway merges records that share an :attr:`NFTRecord.key` into one
holding. Every value here is immutable, so a cached value can be shared safely.

Conventions:

* ``contract_address`` and every address are stored lower-case (comparison form); faces
  render them EIP-55 checksummed.
* ``token_id`` is a decimal string; it is never parsed into a float.
* ``None`` means "this provider does not know"; an empty tuple means "known to be empty".

Spam is not decided here: a record carries the provider-neutral *facts* the gateway's
verdict reads (``gateway.nfts.spam``): the provider's own spam flags as
:class:`SpamSignal` values, whether the collection is verified/safelisted, and what the
provider said about NSFW and trading. An adapter for a new upstream maps its flags into
these fields and the verdict needs no change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Chain(StrEnum):
    """EVM chains the gateway knows, by their normalised name."""

    ETHEREUM = "ethereum"
    POLYGON = "polygon"
    BASE = "base"
    ARBITRUM = "arbitrum"
    OPTIMISM = "optimism"

    @property
    def short_name(self) -> str:
        """The upper-case name the REST shim shows as ``blockchain`` (``ETH``, ``POLYGON``...)."""
        return _SHORT_NAMES[self]


_SHORT_NAMES = {
    Chain.ETHEREUM: "ETH",
    Chain.POLYGON: "POLYGON",
    Chain.BASE: "BASE",
    Chain.ARBITRUM: "ARBITRUM",
    Chain.OPTIMISM: "OPTIMISM",
}


class TokenStandard(StrEnum):
    ERC721 = "ERC721"
    ERC1155 = "ERC1155"


class NFTKey(NamedTuple):
    """Identity of an NFT across providers: ``(chain, lower(contract), token_id)``."""

    chain: Chain
    contract_address: str
    token_id: str


@dataclass(frozen=True, slots=True)
class Trait:
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Rarity:
    rank: int | None = None
    score: float | None = None
    total: int | None = None


class SpamSignal(NamedTuple):
    """One provider's own spam flag on an NFT, as that provider words it.

    ``source`` is the provider (``alchemy``, ``moralis``); ``flag`` its wording
    (``isSpam``, a classification such as ``Erc721TooManyOwners``, ``possible_spam``).
    """

    source: str
    flag: str


@dataclass(frozen=True, slots=True)
class FloorPrice:
    """A collection's floor price as one provider quoted it, and when the gateway read it.

    ``value`` is in ``currency`` (the provider's symbol, upper-cased: ``ETH``, ``MATIC``);
    ``fetched_at`` is Unix seconds. A floor is never shown without both its source and age.
    """

    value: float
    currency: str
    source: str
    fetched_at: float


@dataclass(frozen=True, slots=True)
class NFTRecord:
    """One provider's view of one NFT, as seen in one wallet.

    ``quantity`` is the queried wallet's balance when the provider reports it (Alchemy
    ``balance``, OpenSea detail ``owners[].quantity``), else ``None``.

    ``owners_complete`` says whether ``owner_addresses`` lists every holder (a list row
    names only the queried wallet, which is every holder of an ERC-721 but not of an
    ERC-1155; OpenSea's detail sends ``owners: null`` past 50 holders).

    The verdict's inputs (see the module docstring):

    * ``spam_signals``: ``None`` when the provider classifies nothing here (OpenSea never
      does; Alchemy only on paid tiers, only on Ethereum and Polygon), ``()`` when it
      classified the NFT as not spam, else its flags;
    * ``collection_verified``: ``True`` when the collection is verified or approved
      (OpenSea ``safelist_status``, echoed by Alchemy as ``safelistRequestStatus``, or a
      provider's own "verified collection" fact), ``False`` when the provider knows it is
      not, ``None`` when it does not say;
    * ``is_nsfw`` (not safe for work) and ``trading_disabled`` (OpenSea ``is_disabled``)
      are facts shown to clients, never spam signals.
    """

    source: str
    chain: Chain
    contract_address: str
    token_id: str
    token_standard: TokenStandard | None = None
    name: str | None = None
    description: str | None = None
    image: str | None = None
    animation_url: str | None = None
    collection_name: str | None = None
    collection_slug: str | None = None
    collection_opensea_slug: str | None = None
    traits: tuple[Trait, ...] | None = None
    rarity: Rarity | None = None
    owner_addresses: tuple[str, ...] | None = None
    quantity: int | None = None
    owners_complete: bool | None = None
    spam_signals: tuple[SpamSignal, ...] | None = None
    collection_verified: bool | None = None
    is_nsfw: bool | None = None
    trading_disabled: bool | None = None
    floor: FloorPrice | None = None

    @property
    def key(self) -> NFTKey:
        return NFTKey(self.chain, self.contract_address, self.token_id)


# One page of an NFT's holders: ``((lower address, quantity or None), ...)`` and the next
# cursor (``None`` on the last page).
OwnersPage = tuple[tuple[tuple[str, int | None], ...], str | None]


@dataclass(frozen=True, slots=True)
class HoldingsPage:
    """One upstream page of a wallet's NFTs on one chain.

    ``next_cursor`` is the provider's own cursor (never shown to clients); ``None`` on the
    last page. ``total_count`` is the provider's own count of the wallet's NFTs, if it
    gives one (used as the best-known total while a walk is incomplete).
    """

    records: tuple[NFTRecord, ...]
    next_cursor: str | None = None
    total_count: int | None = None


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """Slow-changing facts about a collection (cached long).

    ``ranked`` says whether the provider ranks the collection's NFTs by rarity (``None``:
    it did not say). It is what tells an unranked collection from a ranked one:
    ``rarity_total`` falls back to the collection's supply either way.
    """

    slug: str
    name: str | None = None
    rarity_total: int | None = None
    ranked: bool | None = None
    floor: FloorPrice | None = None


# -- DIDs -------------------------------------------------------------------------------


class DIDType(StrEnum):
    DOTBIT = "dotbit"
    NEXTID = "nextid"
    NAMETAG = "nametag"


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """Something a DID links to: an address on a chain, or an account on a platform."""

    platform: str
    identity: str
    valid: bool | None = None
    checked_at: int | None = None  # Unix seconds


@dataclass(frozen=True, slots=True)
class DID:
    type: DIDType
    identity: str
    source: str
    display_name: str | None = None
    is_primary: bool = False
    valid: bool | None = None
    expires_at: int | None = None  # Unix seconds
    links: tuple[LinkedAccount, ...] = ()
