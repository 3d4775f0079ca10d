"""GraphQL errors: a client's bad input is a client error with its real message; only the
gateway's own faults are masked as INTERNAL."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from graphql import GraphQLError, located_error, parse
from graphql.language import FieldNode, OperationDefinitionNode

from gateway.schema import paging, schema
from gateway.schema.view import GRAPHQL_RESPONSE_TYPE, error_json
from providers.sandbox import Sandbox
from providers.sandbox.world import SMALL_WALLET

WALLET_BY_VARIABLE = "query ($a: String!) { wallet(address: $a) { address } }"
PAGE_BY_VARIABLE = (
    "query ($w: String!, $p: Int) { wallet(address: $w) { nfts(page: $p) { total } } }"
)
CHAINS_BY_VARIABLE = (
    "query ($w: String!, $c: [Chain!]) { wallet(address: $w) { nfts(chains: $c) { total } } }"
)
UNEXPECTED = "unexpected error in a resolver"


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], accept: str
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"accept": accept}
    )


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (WALLET_BY_VARIABLE, {}, "Variable '$a' has invalid value: Expected a value of non-null"),
        (WALLET_BY_VARIABLE, {"a": None}, "Variable '$a' has invalid value: Expected value of"),
        (WALLET_BY_VARIABLE, {"a": 5}, "String cannot represent a non string value: 5"),
        (PAGE_BY_VARIABLE, {"p": 2**40}, "Int cannot represent non 32-bit signed integer"),
        (PAGE_BY_VARIABLE, {"p": "two"}, "Int cannot represent non-integer value: 'two'"),
        (CHAINS_BY_VARIABLE, {"c": ["ETHEREM"]}, "Value 'ETHEREM' does not exist in 'Chain'"),
    ],
    ids=["missing", "null", "wrong-type", "int-range", "not-an-int", "unknown-enum"],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_TYPE])
async def test_a_bad_variable_is_a_client_error_with_its_message(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any],
    message: str,
    accept: str,
) -> None:
    response = await post(client, query, {"w": SMALL_WALLET, **variables}, accept)

    # A request error: nothing ran, so no "data" (and a 400 under the newer media type).
    assert response.status_code == (400 if accept == GRAPHQL_RESPONSE_TYPE else 200)
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert message in error["message"]
    assert "Did you mean" not in error["message"]  # hints leak the schema
    assert {e.faults.calls for e in sandbox.emulators.values()} == {0}
    assert UNEXPECTED not in caplog.text


async def test_null_through_a_defaulted_variable_into_a_required_argument_is_client_error(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = "query ($w: String!, $p: Int = 1) { wallet(address: $w) { nfts(page: $p) { total } } }"
    response = await post(client, query, {"w": SMALL_WALLET, "p": None}, "application/json")

    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith("Argument 'page' has invalid value")
    assert error["path"] == ["wallet", "nfts"]
    assert UNEXPECTED not in caplog.text


# -- what stays INTERNAL ----------------------------------------------------------------------


def field_node() -> FieldNode:
    operation = parse("{ wallet { nfts { total } } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    node = operation.selection_set.selections[0]
    assert isinstance(node, FieldNode)
    return node


def test_an_output_value_that_does_not_serialise_stays_internal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    serialising = GraphQLError("Int cannot represent non 32-bit signed integer value: 2**40")
    error = located_error(serialising, [field_node()], ["wallet", "nfts", "total"])

    payload = error_json(error)
    with caplog.at_level(logging.DEBUG):
        schema.process_errors([error])

    assert payload["message"] == "Internal server error"
    assert payload["extensions"] == {"code": "INTERNAL"}
    [record] = caplog.records
    assert (record.levelno, record.name) == (logging.ERROR, "gateway.schema.errors")
    assert UNEXPECTED in record.getMessage() and record.exc_info is not None


def test_an_exception_in_a_resolver_stays_internal() -> None:
    error = located_error(RuntimeError("a bug"), [field_node()], ["wallet"])
    payload = error_json(error)
    assert payload == {
        "message": "Internal server error",
        "locations": [{"line": 1, "column": 3}],
        "path": ["wallet"],
        "extensions": {"code": "INTERNAL"},
    }


# -- what is logged ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (WALLET_BY_VARIABLE, {"a": 5}),  # a variable of the wrong type
        ('{ wallet(address: "0x12") { address } }', {}),  # GatewayError: bad address
        ('{ wallet(address: "0x12") { adress } }', {}),  # validation
        ("{ wallet(address: ", {}),  # parse (caught by the view's limits first)
        (PAGE_BY_VARIABLE, {"w": SMALL_WALLET, "p": 0}),  # GatewayError in a resolver
        (
            "query ($w: String!, $p: Int = 1) { wallet(address: $w) { nfts(page: $p) { total } } }",
            {"w": SMALL_WALLET, "p": None},
        ),  # BAD_USER_INPUT at execution
    ],
    ids=["variable", "address", "validation", "parse", "page", "null-argument"],
)
async def test_client_errors_are_not_logged_as_errors(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any],
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await post(client, query, variables, "application/json")

    assert response.json()["errors"][0]["extensions"]["code"] != "INTERNAL"
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == []


async def test_an_unexpected_error_is_logged_once_with_its_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(paging, "page_window", broken)
    with caplog.at_level(logging.DEBUG):
        response = await post(client, PAGE_BY_VARIABLE, {"w": SMALL_WALLET}, "application/json")

    [error] = response.json()["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL"}
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (record.levelno, record.name) == (logging.ERROR, "gateway.schema.errors")
    assert record.exc_info is not None and "a bug" in caplog.text
