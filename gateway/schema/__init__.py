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

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from gateway.schema.context import Context
from gateway.schema.fastpath.compiled import CompiledSchema
from gateway.schema.identity import Identity, identity_for, wallet_for_input
from gateway.schema.nfts import Wallet
from gateway.schema.types import BIG_INT_SCALAR, BigInt

__all__ = ["SCHEMA_PATH", "Query", "export_schema", "schema"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"


@strawberry.type
class Query:
    @strawberry.field(
        description="A wallet by its EVM address, or by a name (alice.bit: the name's first "
        "address; identity(name) covers all of them)."
    )
    async def wallet(self, info: Info[Context, None], address: str) -> Wallet:
        return await wallet_for_input(info, address)

    @strawberry.field(
        description="A .bit name, Next.ID persona key or platform:handle (twitter:alice), "
        "the wallets it links and their NFTs as one list."
    )
    async def identity(self, info: Info[Context, None], name: str) -> Identity:
        return await identity_for(info, name)


# CompiledSchema: strawberry.Schema whose executor projects plain object subtrees without
# per-field resolver calls (gateway/schema/fastpath/compiled.py), with parse and validation
# caches.
schema = CompiledSchema(query=Query, config=StrawberryConfig(scalar_map={BigInt: BIG_INT_SCALAR}))


def export_schema() -> str:
    """The schema's SDL, as checked in at ``schema.graphql``."""
    return schema.as_str() + "\n"
