"""Introspection: the standard query loads the schema, within bounds of its own.

GraphiQL 3.8.3 (``gateway/static/vendor``) builds its introspection query with graphql-js
16.9's ``getIntrospectionQuery`` and only ``inputValueDeprecation`` and
``schemaDescription`` passed through, both unset: that is graphql-core's
``get_introspection_query()`` with its defaults, the same text. Codegen tools and IDE
plugins turn more options on; the document with every option is sent too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql import build_client_schema, get_introspection_query, print_schema

from gateway.app import create_app
from gateway.schema import schema
from gateway.schema.limits import GraphQLLimits, QueryRejected, check_document, parse_limited
from providers.sandbox import Sandbox
from tests.conftest import sandbox_settings

GRAPHIQL_QUERY = get_introspection_query()
EVERY_OPTION_QUERY = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)
LIMITS = GraphQLLimits()


@asynccontextmanager
async def gateway(sandbox: Sandbox, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sandbox_settings(**overrides), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


def rejected(query: str, limits: GraphQLLimits = LIMITS) -> QueryRejected:
    document, tokens = parse_limited(query, limits)
    with pytest.raises(QueryRejected) as caught:
        check_document(document, limits, tokens)
    return caught.value


@pytest.mark.parametrize("query", [GRAPHIQL_QUERY, EVERY_OPTION_QUERY], ids=["graphiql", "all"])
async def test_the_standard_introspection_query_answers_on_the_default_profile(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": query, "operationName": "IntrospectionQuery"},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    # What GraphiQL does with it: build the client schema; it has our types.
    built = build_client_schema(body["data"])
    assert built.query_type is not None and built.query_type.name == "Query"
    assert {"Wallet", "NFTPage", "Identity"} <= set(built.type_map)
    assert print_schema(built) == print_schema(schema._schema)


def test_the_standard_query_is_far_past_the_data_limits_but_within_its_own() -> None:
    document, tokens = parse_limited(EVERY_OPTION_QUERY, LIMITS)
    stats = check_document(document, LIMITS, tokens)
    # Counted apart: none of it spends the data query's depth, field or root-field budget.
    assert (stats.depth, stats.fields, stats.root_fields) == (0, 0, 0)
    assert stats.introspection_depth == 15 > LIMITS.graphql_max_depth
    assert LIMITS.graphql_max_fields < stats.introspection_fields <= 300


def test_introspection_depth_20_accepted_21_refused() -> None:
    def deep(levels: int) -> str:  # __type + ofType x (levels - 2) + name
        return (
            '{ __type(name: "Q") {'
            + " ofType {" * (levels - 2)
            + " name"
            + " }" * (levels - 1)
            + " }"
        )

    document, tokens = parse_limited(deep(20), LIMITS)
    assert check_document(document, LIMITS, tokens).introspection_depth == 20
    error = rejected(deep(21))
    assert (error.code, error.limit, error.maximum) == ("QUERY_TOO_DEEP", "introspection_depth", 20)


def test_introspection_fields_are_capped_counted_through_fragments() -> None:
    fragment = "fragment T on __Type { " + " ".join(["name kind"] * 25) + " }"  # 50 fields
    spreads = " ".join(["...T"] * 6)  # 300 + __schema + types = 302
    limits = LIMITS.model_copy(update={"graphql_max_tokens": 2000})
    error = rejected(f"{{ __schema {{ types {{ {spreads} }} }} }} {fragment}", limits)
    assert (error.code, error.limit, error.maximum) == (
        "QUERY_TOO_COMPLEX",
        "introspection_fields",
        300,
    )


def test_the_data_part_of_a_mixed_document_keeps_its_limits() -> None:
    data = "w {" + " a {" * 8 + " b" + " }" * 9  # 9 deep
    error = rejected(f"{{ __schema {{ queryType {{ name }} }} {data} }}")
    assert (error.code, error.limit) == ("QUERY_TOO_DEEP", "depth")


def test_aliases_inside_introspection_still_count() -> None:
    aliases = " ".join(f"n{i}: name" for i in range(16))
    error = rejected(f"{{ __schema {{ queryType {{ {aliases} }} }} }}")
    assert (error.code, error.limit) == ("QUERY_TOO_COMPLEX", "aliases")


async def test_production_still_refuses_the_standard_query(sandbox: Sandbox) -> None:
    async with gateway(sandbox, profile="production") as client:
        response = await client.post("/graphql", json={"query": GRAPHIQL_QUERY})
    assert response.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"


async def test_the_introspection_caps_are_settings(sandbox: Sandbox) -> None:
    async with gateway(sandbox, graphql_introspection_max_depth=14) as client:
        response = await client.post("/graphql", json={"query": GRAPHIQL_QUERY})
    assert response.json()["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_DEEP",
        "limit": "introspection_depth",
        "max": 14,
    }
