"""GraphQL object types, each built from a domain value with ``from_domain``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

import strawberry

from gateway.nfts.merging import Holding, NsfwFilter, SpamFilter
from gateway.nfts.pages import ProviderReport
from gateway.validation import checksum
from providers.models import Chain, FloorPrice, NFTRecord

__all__ = [
    "Asset",
    "BIG_INT_SCALAR",
    "BigInt",
    "Chain",
    "Collection",
    "FieldSource",
    "Floor",
    "NFT",
    "NsfwFilter",
    "ProviderStatus",
    "Rarity",
    "SpamFilter",
    "Trait",
    "int32_or_none",
]

INT32_MAX = 2**31 - 1

BigInt = NewType("BigInt", int)


def int32_or_none(value: int) -> int | None:
    """``value`` for a GraphQL ``Int`` field: null when it does not fit in 32 bits."""
    return value if value <= INT32_MAX else None


BIG_INT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="An exact integer of any size, serialised as a decimal string "
    "(GraphQL Int is 32-bit; ERC-1155 balances are not).",
    serialize=str,
    parse_value=lambda value: int(str(value)),
)


# The GraphQL enums are the domain's own enums (same members, same values): resolvers get
# and give domain values, with no conversion either way.
strawberry.enum(Chain, name="Chain", description="EVM chains the gateway reads.")
strawberry.enum(
    SpamFilter, name="SpamFilter", description="Which NFTs to list by the gateway's spam verdict."
)
strawberry.enum(
    NsfwFilter,
    name="NsfwFilter",
    description="Which NFTs to list by the NSFW fact (NSFW is not spam: listed by default).",
)


@strawberry.type
class Trait:
    type: str
    value: str


@strawberry.type
class Rarity:
    rank: int | None
    score: float | None
    total: int | None


@strawberry.type(description="A collection's floor price as one provider quoted it.")
class Floor:
    value: float = strawberry.field(description="In currency's units (e.g. 0.42 ETH).")
    currency: str = strawberry.field(description="The provider's symbol, upper-case: ETH, POL.")
    source: str = strawberry.field(description="The provider that quoted it.")
    fetched_at: datetime = strawberry.field(description="When the gateway read it.")

    @classmethod
    def from_domain(cls, floor: FloorPrice) -> Floor:
        return cls(
            value=floor.value,
            currency=floor.currency,
            source=floor.source,
            fetched_at=datetime.fromtimestamp(round(floor.fetched_at, 3), UTC),
        )


@strawberry.type(description="The collection an NFT belongs to.")
class Collection:
    name: str | None
    slug: str | None
    opensea_slug: str | None
    floor: Floor | None = strawberry.field(
        description="The floor the merge prefers (see the floor field priority); null when "
        "no provider quotes one. Never without its source and age."
    )


@strawberry.type(description="Which provider supplied a merged field.")
class FieldSource:
    field: str
    provider: str


@strawberry.type(description="An NFT, merged across providers.")
class NFT:
    blockchain: str = strawberry.field(description="Upper-case short chain name, e.g. ETH.")
    chain: Chain
    contract_address: str = strawberry.field(description="EIP-55 checksummed.")
    token_id: str = strawberry.field(description="Decimal string.")
    token_standard: str | None
    name: str | None
    description: str | None
    image: str | None
    animation_url: str | None
    collection_name: str | None
    collection_slug: str | None
    collection_opensea_slug: str | None
    owner_addresses: list[str] | None
    owners_complete: bool = strawberry.field(
        description="True when ownerAddresses lists every holder; false when it may be partial "
        "(an ERC-1155 seen from one wallet, or past the holders a provider pages)."
    )
    traits: list[Trait]
    rarity: Rarity | None
    is_spam: bool = strawberry.field(
        description="The gateway's spam verdict (README: Spam verdict); see spamReasons."
    )
    spam_reasons: list[str] = strawberry.field(
        description="Why it is spam: rules that fired, flag:<provider>:<flag>, or "
        "operator_deny. Empty when it is not spam."
    )
    is_nsfw: bool = strawberry.field(
        description="Not safe for work, as a provider marks it (OpenSea is_nsfw). Not spam."
    )
    trading_disabled: bool | None = strawberry.field(
        description="Disabled for trading on OpenSea (is_disabled); null when no provider says."
    )
    sources: list[str] = strawberry.field(description="Every provider that reported it.")
    provenance: list[FieldSource]
    collection: Collection

    @classmethod
    def from_domain(cls, holding: Holding) -> NFT:
        nft: NFTRecord = holding.nft
        rarity = nft.rarity
        return cls(
            blockchain=nft.chain.short_name,
            chain=nft.chain,
            contract_address=checksum(nft.contract_address),
            token_id=nft.token_id,
            token_standard=nft.token_standard.value if nft.token_standard else None,
            name=nft.name,
            description=nft.description,
            image=nft.image,
            animation_url=nft.animation_url,
            collection_name=nft.collection_name,
            collection_slug=nft.collection_slug,
            collection_opensea_slug=nft.collection_opensea_slug,
            owner_addresses=None
            if nft.owner_addresses is None
            else [checksum(a) for a in nft.owner_addresses],
            traits=[Trait(type=t.type, value=t.value) for t in nft.traits or ()],
            rarity=None
            if rarity is None
            else Rarity(rank=rarity.rank, score=rarity.score, total=rarity.total),
            owners_complete=bool(nft.owners_complete),
            is_spam=holding.is_spam,
            spam_reasons=list(holding.spam_reasons),
            is_nsfw=holding.is_nsfw,
            trading_disabled=nft.trading_disabled,
            sources=list(holding.sources),
            provenance=[FieldSource(field=f, provider=p) for f, p in holding.provenance],
            collection=Collection(
                name=nft.collection_name,
                slug=nft.collection_slug,
                opensea_slug=nft.collection_opensea_slug,
                floor=None if nft.floor is None else Floor.from_domain(nft.floor),
            ),
        )


@strawberry.type(description="An NFT and how many of it the wallet holds.")
class Asset:
    nft: NFT
    quantity: BigInt = strawberry.field(
        description="Exact balance (a decimal string); 1 when unknown, see quantityKnown."
    )
    quantity_int: int | None = strawberry.field(
        description="The balance as an Int when it fits in 32 bits, else null."
    )
    quantity_known: bool

    @classmethod
    def from_domain(cls, holding: Holding) -> Asset:
        value, known = holding.counted_quantity()
        return cls(
            nft=NFT.from_domain(holding),
            quantity=BigInt(value),
            quantity_int=int32_or_none(value),
            quantity_known=known,
        )


@strawberry.type(description="How one provider did for this answer.")
class ProviderStatus:
    provider: str
    status: str = strawberry.field(description="ok, partial or failed.")
    error_kind: str | None
    error_message: str | None
    failed_chains: list[str]

    @classmethod
    def from_domain(cls, report: ProviderReport) -> ProviderStatus:
        return cls(
            provider=report.provider,
            status=report.status,
            error_kind=report.error_kind,
            error_message=report.error_message,
            failed_chains=list(report.failed_chains),
        )
