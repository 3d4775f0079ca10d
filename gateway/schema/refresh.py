"""``refreshNft``: the one mutation. Asks every provider that can to re-read an NFT's
metadata and drops the gateway's cached detail of it (:mod:`gateway.nfts.refresh`).

It costs every provider a call, so it is limited per client (``NFTGW_REFRESH_PER_MINUTE``,
``NFTGW_REFRESH_BURST``; past it ``RATE_LIMITED``), and, being a mutation, it is refused
over GET (GraphQL over HTTP; see :mod:`gateway.schema.requests`).
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from gateway.errors import input_field
from gateway.schema.calls import RefreshNFT
from gateway.schema.context import Context
from gateway.schema.types import Chain, ProviderStatus
from gateway.validation import checksum, parse_address, parse_token_id
from providers.models import NFTKey

__all__ = ["Mutation", "RefreshResult"]


@strawberry.type(description="What a metadata refresh did.")
class RefreshResult:
    chain: Chain
    contract_address: str = strawberry.field(description="EIP-55 checksummed.")
    token_id: str
    providers: list[ProviderStatus] = strawberry.field(
        description="Each provider asked: ok when it accepted the refresh (upstreams refresh "
        "in the background; ask with maxAge to re-read the listing later)."
    )
    dropped_details: int = strawberry.field(
        description="Cached detail entries of this NFT the gateway dropped."
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Ask every provider that supports it to refresh an NFT's metadata, and "
        "drop the gateway's cached detail of it. Limited per client; POST only."
    )
    async def refresh_nft(
        self, info: Info[Context, None], chain: Chain, contract: str, token_id: str
    ) -> RefreshResult:
        with input_field("contract"):
            address = parse_address(contract)
        with input_field("tokenId"):
            token = parse_token_id(token_id)
        key = NFTKey(chain, address, token)
        answer = await info.context.services.call(RefreshNFT(key, info.context.client))
        return RefreshResult(
            chain=chain,
            contract_address=checksum(address),
            token_id=token,
            providers=[ProviderStatus.from_domain(report) for report in answer.providers],
            dropped_details=answer.dropped_details,
        )
