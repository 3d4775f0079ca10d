"""The GraphQL face: the one schema, its HTTP view, and the calls it makes.

- ``Query`` and :data:`schema` (here), the types per domain: :mod:`.types` (NFTs, assets,
  provider statuses, enums), :mod:`.nfts` (wallets), :mod:`.identity` (names and
  identities), :mod:`.dids`, with :mod:`.paging` for every NFT list;
- :mod:`.calls`: the typed service calls resolvers make, the only way to a service;
  :mod:`.context`: what a resolver gets;
- :mod:`.view` (the endpoint), :mod:`.requests` (reading and checking a request),
  :mod:`.limits` (the document's limits), :mod:`.persisted` (persisted queries and trusted
  documents), :mod:`.errors` (client error or ours);
- :mod:`.fastpath`: the speed tricks, and the only place that knows them.

May import: the services (:mod:`gateway.nfts`, :mod:`gateway.identity`), :mod:`gateway.cache`
(persisted queries are stored there), :mod:`gateway.http`,
:mod:`gateway.web`, the leaves (:mod:`gateway.errors`, :mod:`gateway.settings`,
:mod:`gateway.validation`) and :mod:`providers.models`; never another face.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from gateway.schema.context import Context
from gateway.schema.fastpath.compiled import CompiledSchema
from gateway.schema.identity import Identity, identity_for, wallet_for_input
from gateway.schema.nfts import Wallet
from gateway.schema.refresh import Mutation
from gateway.schema.types import BIG_INT_SCALAR, BigInt
from gateway.schema.wallets import Wallets, wallets_for
from gateway.validation import parse_max_age

MAX_AGE_DESCRIPTION = (
    "Seconds: NFT lists read from the providers longer ago than this are read again "
    "(0: always). Without it, the cached walk serves (see NFTGW_SNAPSHOT_TTL)."
)

__all__ = ["SCHEMA_PATH", "Query", "export_schema", "schema"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"


@strawberry.type
class Query:
    @strawberry.field(
        description="A wallet by its EVM address, or by a name (alice.bit: the name's first "
        "address; identity(name) covers all of them)."
    )
    async def wallet(
        self,
        info: Info[Context, None],
        address: str,
        max_age: Annotated[int | None, strawberry.argument(description=MAX_AGE_DESCRIPTION)] = None,
    ) -> Wallet:
        return await wallet_for_input(info, address, parse_max_age(max_age, field="maxAge"))

    @strawberry.field(
        description="A .bit name, Next.ID persona key or platform:handle (twitter:alice), "
        "the wallets it links and their NFTs as one list."
    )
    async def identity(
        self,
        info: Info[Context, None],
        name: str,
        max_age: Annotated[int | None, strawberry.argument(description=MAX_AGE_DESCRIPTION)] = None,
    ) -> Identity:
        return await identity_for(info, name, parse_max_age(max_age, field="maxAge"))

    @strawberry.field(
        description="Several wallets (addresses or names) and their NFTs as one list, paged "
        "like an identity's: each NFT once, with the wallets holding it. At most "
        "NFTGW_MAX_WALLETS wallets (10 by default): more is TOO_MANY_WALLETS."
    )
    async def wallets(
        self,
        info: Info[Context, None],
        addresses: list[str],
        max_age: Annotated[int | None, strawberry.argument(description=MAX_AGE_DESCRIPTION)] = None,
    ) -> Wallets:
        return await wallets_for(info, addresses, parse_max_age(max_age, field="maxAge"))


# CompiledSchema: strawberry.Schema whose executor projects plain object subtrees without
# per-field resolver calls (gateway/schema/fastpath/compiled.py), with parse and validation
# caches.
schema = CompiledSchema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(scalar_map={BigInt: BIG_INT_SCALAR}),
)


def export_schema() -> str:
    """The schema's SDL, as checked in at ``schema.graphql``."""
    return schema.as_str() + "\n"
