"""The one GraphQL schema: per-domain query classes merged into ``Query``."""

from __future__ import annotations

from pathlib import Path

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from gateway.schema.context import Context
from gateway.schema.nfts import Wallet, wallet_for
from gateway.schema.types import BIG_INT_SCALAR, BigInt
from gateway.validation import parse_address

__all__ = ["SCHEMA_PATH", "Query", "export_schema", "schema"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"


@strawberry.type
class Query:
    @strawberry.field(description="A wallet by its EVM address.")
    def wallet(self, info: Info[Context, None], address: str) -> Wallet:
        return wallet_for(parse_address(address, field="address"))


schema = strawberry.Schema(
    query=Query, config=StrawberryConfig(scalar_map={BigInt: BIG_INT_SCALAR})
)


def export_schema() -> str:
    """The schema's SDL, as checked in at ``schema.graphql``."""
    return schema.as_str() + "\n"
