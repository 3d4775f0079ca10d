"""GraphQL abuse: every document limit accepts n and refuses n+1, before any resolver runs.

The unit half measures documents with :mod:`gateway.schema.limits` at the default limits;
the HTTP half shows the same refusals through the view (codes, statuses, media types) and
that a refused document never reaches a provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.schema.limits import GraphQLLimits, QueryRejected, check_document, parse_limited
from providers.sandbox import Sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.conftest import sandbox_settings

LIMITS = GraphQLLimits()
GRAPHQL_RESPONSE = "application/graphql-response+json"
WALLET = f'wallet(address: "{SMALL_WALLET}")'


def measure(query: str, limits: GraphQLLimits = LIMITS) -> None:
    document, tokens = parse_limited(query, limits)
    check_document(document, limits, tokens)


def rejected(query: str, limits: GraphQLLimits = LIMITS) -> QueryRejected:
    with pytest.raises(QueryRejected) as caught:
        measure(query, limits)
    return caught.value


def nested(depth: int) -> str:
    return "{" + "a {" * (depth - 1) + "b" + "}" * depth


# -- the limits at their boundaries (defaults) ---------------------------------------------


def test_tokens_500_accepted_501_refused_without_building_an_ast() -> None:
    measure("{ a(x: [" + " 1" * 491 + "]) }")  # 9 + 491 = 500 tokens
    error = rejected("{ a(x: [" + " 1" * 492 + "]) }")
    assert (error.code, error.limit, error.maximum) == ("QUERY_TOO_LARGE", "tokens", 500)


def test_comments_are_not_tokens() -> None:
    # 500 tokens between comment lines: graphql-core 3.3's deprecated ``max_tokens`` counts
    # comments too, and its parse failed such a document that the token cap had let through.
    measure("# a comment\n{ a(x: [" + " 1\n# another" * 491 + "\n]) }")


def test_comments_do_not_dodge_the_document_byte_cap() -> None:
    body = "{ a }\n"
    measure(body + "#" * (LIMITS.graphql_max_document_bytes - len(body)))
    error = rejected(body + "#" * (LIMITS.graphql_max_document_bytes - len(body) + 1))
    assert (error.code, error.limit) == ("QUERY_TOO_LARGE", "document_bytes")


def test_depth_8_accepted_9_refused() -> None:
    measure(nested(8))
    error = rejected(nested(9))
    assert (error.code, error.limit, error.maximum) == ("QUERY_TOO_DEEP", "depth", 8)


def test_depth_counts_through_fragments() -> None:
    query = "{ a { ...F } } fragment F on T { b { c { d { e { f { g { h { i } } } } } } } }"
    assert rejected(query).limit == "depth"


def test_aliases_15_accepted_16_refused_counted_through_fragments() -> None:
    fragment = "fragment F on Q { " + " ".join(f"x{i}: a" for i in range(5)) + " }"
    measure("{ w { ...F ...F ...F } } " + fragment)  # 3 spreads x 5 aliases = 15
    error = rejected("{ w { y: a ...F ...F ...F } } " + fragment)
    assert (error.code, error.limit, error.maximum) == ("QUERY_TOO_COMPLEX", "aliases", 15)


def test_field_selections_128_accepted_129_refused() -> None:
    measure("{ w {" + " a" * 127 + " } }")  # w + 127 = 128
    error = rejected("{ w {" + " a" * 128 + " } }")
    assert (error.code, error.limit, error.maximum) == ("QUERY_TOO_COMPLEX", "fields", 128)


def test_fields_multiplied_by_fragment_spreads_are_counted() -> None:
    fragment = "fragment F on Q { " + " a" * 40 + " }"
    measure("{ w { ...F ...F ...F } } " + fragment)  # 1 + 120
    assert rejected("{ w { ...F ...F ...F ...F } } " + fragment).limit == "fields"


def test_exponential_fragment_fan_out_is_refused_quickly() -> None:
    fragments = ["fragment F0 on Q { a b }"] + [
        f"fragment F{i} on Q {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 40)
    ]
    error = rejected("{ w { ...F39 } } " + " ".join(fragments))
    assert error.limit == "fields"  # 2**40 selections, counted in linear time


def test_unused_fragments_count_too() -> None:
    error = rejected("{ a } fragment Unused on Q {" + " b" * 128 + " }")
    assert error.limit == "fields"


def test_root_fields_5_accepted_6_refused() -> None:
    measure("{ a b c d e }")
    error = rejected("{ a b c d e f }")
    assert (error.code, error.limit, error.maximum) == ("QUERY_TOO_COMPLEX", "root_fields", 5)


def test_directives_20_accepted_21_refused() -> None:
    measure("{" + " a @skip(if: false)" * 4 + " }")
    flood = "{ w {" + " a @include(if: true)" * 20 + " } }"
    measure(flood)
    error = rejected("{ w {" + " a @include(if: true)" * 21 + " } }")
    assert (error.code, error.limit, error.maximum) == ("QUERY_TOO_COMPLEX", "directives", 20)


@pytest.mark.parametrize(
    "query",
    [
        "{ ...A } fragment A on Q { ...A }",
        "{ ...A } fragment A on Q { b { ...B } } fragment B on Q { ...A }",
        "{ a } fragment A on Q { ...B } fragment B on Q { ...A }",  # unused, still circular
    ],
)
def test_circular_fragments_are_a_clean_error(query: str) -> None:
    assert rejected(query).code == "CIRCULAR_FRAGMENT"


def test_300_levels_deep_is_refused_before_the_parser_can_recurse() -> None:
    roomy = GraphQLLimits(graphql_max_tokens=100_000)
    error = rejected(nested(300), roomy)
    assert (error.code, error.limit) == ("QUERY_TOO_DEEP", "nesting")
    error = rejected("{ a(x: " + "[" * 300 + "]" * 300 + ") }", roomy)
    assert error.limit == "nesting"


def test_syntax_errors_are_parse_failures() -> None:
    assert rejected("{ a ").code == "GRAPHQL_PARSE_FAILED"
    assert rejected('{ a(x: "unterminated) }').code == "GRAPHQL_PARSE_FAILED"
    assert rejected("{ a } }").code == "GRAPHQL_PARSE_FAILED"


# -- through HTTP --------------------------------------------------------------------------


@asynccontextmanager
async def gateway(sandbox: Sandbox, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sandbox_settings(**overrides), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


def upstream_calls(sandbox: Sandbox) -> int:
    return sum(emulator.faults.calls for emulator in sandbox.emulators.values())


async def post(
    client: httpx.AsyncClient, query: str, *, accept: str = GRAPHQL_RESPONSE, **body: Any
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, **body}, headers={"accept": accept})


async def test_a_refused_document_never_reaches_a_resolver_or_a_provider(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    aliases = " ".join(f"p{i}: nfts(page: {i + 1}) {{ total }}" for i in range(16))
    response = await post(client, f"{{ {WALLET} {{ {aliases} }} }}")

    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "aliases",
        "max": 15,
    }
    assert upstream_calls(sandbox) == 0


async def test_duplicated_fields_are_refused_before_validation(client: httpx.AsyncClient) -> None:
    accepted = await post(client, f"{{ {WALLET} {{" + " address" * 127 + " } }")
    assert accepted.status_code == 200
    assert accepted.json()["data"]["wallet"]["address"]
    refused = await post(client, f"{{ {WALLET} {{" + " address" * 128 + " } }")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["limit"] == "fields"


async def test_plain_json_clients_get_200_with_errors_and_no_data(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, nested(9), accept="application/json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert "data" not in response.json()


async def test_each_limit_is_a_setting(sandbox: Sandbox) -> None:
    async with gateway(sandbox, graphql_max_depth=2, graphql_max_root_fields=1) as client:
        assert (await post(client, f"{{ {WALLET} {{ address }} }}")).status_code == 200
        deep = await post(client, f"{{ {WALLET} {{ nfts {{ total }} }} }}")
        assert deep.json()["errors"][0]["extensions"]["max"] == 2
        wide = await post(client, "{ __typename a: __typename }")
        assert wide.json()["errors"][0]["extensions"]["limit"] == "root_fields"


async def test_validation_errors_do_not_suggest_field_names(client: httpx.AsyncClient) -> None:
    response = await post(client, f'{{ walet(address: "{SMALL_WALLET}") {{ adress }} }}')
    assert response.status_code == 400
    messages = [error["message"] for error in response.json()["errors"]]
    assert messages and not any("Did you mean" in message for message in messages)
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_batching_is_off(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    response = await client.post(
        "/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BATCHING_NOT_SUPPORTED"


async def test_get_runs_queries_but_never_a_mutation(client: httpx.AsyncClient) -> None:
    ok = await client.get("/graphql", params={"query": "{ __typename }"})
    assert ok.status_code == 200
    assert ok.json() == {"data": {"__typename": "Query"}}
    for query in ("mutation { __typename }", "mutation M { x } query Q { __typename }"):
        params = {"query": query, "operationName": "M"} if "M" in query else {"query": query}
        response = await client.get("/graphql", params=params)
        assert response.status_code == 405
        assert "POST" in response.headers["allow"]


async def test_other_verbs_are_405_with_allow(client: httpx.AsyncClient) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/graphql")
        assert response.status_code == 405
        assert "POST" in response.headers["allow"] and "GET" in response.headers["allow"]


async def test_variables_are_size_capped(client: httpx.AsyncClient) -> None:
    query = "query ($a: String!) { wallet(address: $a) { address } }"
    base = {"a": SMALL_WALLET, "pad": ""}
    room = LIMITS.graphql_max_variables_bytes - len(orjson.dumps(base))
    accepted = await post(client, query, variables={**base, "pad": "x" * room})
    assert accepted.status_code == 200
    refused = await post(client, query, variables={**base, "pad": "x" * (room + 1)})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "VARIABLES_TOO_LARGE"
    get = await client.get(
        "/graphql", params={"query": "{ __typename }", "variables": "{" + " " * 20_000 + "}"}
    )
    assert get.json()["errors"][0]["extensions"]["code"] == "VARIABLES_TOO_LARGE"


async def test_the_body_is_capped_at_64_kib(client: httpx.AsyncClient) -> None:
    def body(size: int) -> bytes:
        empty = orjson.dumps({"query": "{ __typename }", "extensions": {"pad": ""}})
        return orjson.dumps(
            {"query": "{ __typename }", "extensions": {"pad": "x" * (size - len(empty))}}
        )

    headers = {"content-type": "application/json"}
    accepted = await client.post("/graphql", content=body(64 * 1024), headers=headers)
    assert accepted.status_code == 200
    refused = await client.post("/graphql", content=body(64 * 1024 + 1), headers=headers)
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{ __typename }", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"query=%7B__typename%7D", "application/x-www-form-urlencoded", 415, None),
        (b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x", 415, None),
        (b"{ __typename }", "application/graphql", 415, None),
        (b'{"query": ', "application/json", 400, "BAD_REQUEST"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "BAD_REQUEST"),
        (
            b'{"query": "{ __typename }", "variables": ' + b'{"a":' * 40 + b"1" + b"}" * 41,
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        (b'{"query": 3}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "variables": []}', "application/json", 400, None),
        (b'"just a string"', "application/json", 400, None),
    ],
)
async def test_malformed_posts_are_4xx_graphql_errors(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    content: bytes,
    content_type: str,
    status: int,
    code: str | None,
) -> None:
    response = await client.post(
        "/graphql", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert code is None or error["extensions"]["code"] == code
    assert upstream_calls(sandbox) == 0


async def test_introspection_and_graphiql_are_on_by_default(client: httpx.AsyncClient) -> None:
    response = await post(client, "{ __schema { queryType { name } } }")
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_production_turns_off_introspection_and_graphiql(sandbox: Sandbox) -> None:
    async with gateway(sandbox, profile="production") as client:
        for query in (
            "{ __schema { queryType { name } } }",
            '{ __type(name: "Query") { name } }',
            "{ ...F } fragment F on Query { __schema { types { name } } }",
        ):
            response = await post(client, query)
            assert response.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
        assert (await post(client, "{ __typename }")).json() == {"data": {"__typename": "Query"}}
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code != 200 and "graphiql" not in page.text.lower()
