"""graphql-cop's checks, replayed against the ``production`` profile: no HIGH, no MEDIUM.

graphql-cop (the GraphQL security auditor by Dolev Farhi and Nick Aleks) is not on PyPI
(the name there is an empty placeholder), so it cannot be installed by this project's own
files. Instead each check it runs (its ``lib/tests/``, 12 enabled; "field duplication" is
disabled upstream and replayed here anyway) is written out below as the same request and the
same verdict rule: what it sends, and what in the answer makes it report the finding.
Before any check it asks ``query cop { __typename }`` to decide the endpoint is GraphQL; that
must still work, or a "clean" report would mean nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from providers.sandbox import Sandbox
from tests.conftest import sandbox_settings

HEADERS = {"user-agent": "graphql-cop/1.15"}


@pytest.fixture
async def production(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    # Rate limits are on in production; a scan sends 14 requests, under the burst of 20.
    app = create_app(sandbox_settings(profile="production"), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


async def cop_post(client: httpx.AsyncClient, query: str, *, batch: bool = False) -> Any:
    """graphql-cop's JSON POST: the query with operationName "cop", or ten of them."""
    body: Any = [{"query": query}] * 10 if batch else {"query": query, "operationName": "cop"}
    response = await client.post("/graphql", json=body, headers=HEADERS)
    try:
        return response.json()
    except ValueError:
        return None


def dig(answer: Any, *path: str | int) -> Any:
    """``answer[path...]`` or None: graphql-cop treats any lookup failure as "not found"."""
    for step in path:
        try:
            answer = answer[step]
        except (KeyError, IndexError, TypeError):
            return None
    return answer


Check = Callable[[httpx.AsyncClient], Awaitable[bool]]


async def alias_overloading(client: httpx.AsyncClient) -> bool:  # HIGH
    aliases = " ".join(f"alias{i}:__typename" for i in range(101))
    return bool(dig(await cop_post(client, f"query cop {{ {aliases} }}"), "data", "alias100"))


async def batch_query(client: httpx.AsyncClient) -> bool:  # HIGH
    answer = await cop_post(client, "query cop { __typename }", batch=True)
    return isinstance(answer, list) and len(answer) >= 10


async def directive_overloading(client: httpx.AsyncClient) -> bool:  # HIGH
    answer = await cop_post(client, "query cop { __typename " + "@aa" * 10 + " }")
    errors = dig(answer, "errors")
    return isinstance(errors, list) and len(errors) == 10


async def field_duplication(client: httpx.AsyncClient) -> bool:  # HIGH (disabled upstream)
    answer = await cop_post(client, "query cop { " + "__typename \n" * 500 + "}")
    return bool(dig(answer, "data", "__typename"))


async def introspection(client: httpx.AsyncClient) -> bool:  # HIGH
    answer = await cop_post(client, "query cop { __schema { types { name fields { name } } } }")
    return bool(dig(answer, "data", "__schema", "types"))


async def circular_introspection(client: httpx.AsyncClient) -> bool:  # HIGH
    query = (
        "query cop { __schema { types { fields { type { fields { type { fields { type "
        "{ fields { type { name } } } } } } } } } } }"
    )
    types = dig(await cop_post(client, query), "data", "__schema", "types")
    return isinstance(types, list) and len(types) > 25


async def get_method_support(client: httpx.AsyncClient) -> bool:  # MEDIUM
    response = await client.get(
        "/graphql", params={"query": "query cop {__typename}"}, headers=HEADERS
    )
    return bool(dig(response.json(), "data", "__typename"))


async def get_based_mutation(client: httpx.AsyncClient) -> bool:  # MEDIUM
    response = await client.get(
        "/graphql", params={"query": "mutation cop {__typename}"}, headers=HEADERS
    )
    return bool(dig(response.json(), "data", "__typename"))


async def post_based_csrf(client: httpx.AsyncClient) -> bool:  # MEDIUM
    response = await client.post(
        "/graphql", data={"query": "query cop { __typename }"}, headers=HEADERS
    )
    return bool(dig(response.json(), "data", "__typename"))


async def field_suggestions(client: httpx.AsyncClient) -> bool:  # LOW
    message = dig(await cop_post(client, "query cop { __schema { directive } }"), "errors", 0)
    return "Did you mean" in str(dig(message, "message") or "")


async def graphiql(client: httpx.AsyncClient) -> bool:  # LOW
    response = await client.get("/graphql", headers={**HEADERS, "accept": "text/html"})
    marks = ("graphiql.min.css", "GraphQL Playground", "GraphiQL", "graphql-playground")
    return any(mark in response.text for mark in marks)


async def trace_mode(client: httpx.AsyncClient) -> bool:  # INFO
    answer = await cop_post(client, "query cop { __typename }")
    return bool(dig(answer, "errors", 0, "extensions", "tracing")) or (
        "'extensions': {'tracing':" in str(answer).lower()
    )


async def unhandled_errors(client: httpx.AsyncClient) -> bool:  # INFO
    answer = await cop_post(client, "qwerty cop { abc }")
    return bool(dig(answer, "errors", 0, "extensions", "exception")) or (
        "'extensions': {'exception':" in str(answer).lower()
    )


HIGH_AND_MEDIUM: dict[str, Check] = {
    "alias_overloading": alias_overloading,
    "batch_query": batch_query,
    "directive_overloading": directive_overloading,
    "field_duplication": field_duplication,
    "introspection": introspection,
    "circular_query_introspection": circular_introspection,
    "get_method_support": get_method_support,
    "get_based_mutation": get_based_mutation,
    "post_based_csrf": post_based_csrf,
}
LOW_AND_INFO: dict[str, Check] = {
    "field_suggestions": field_suggestions,
    "detect_graphiql": graphiql,
    "trace_mode": trace_mode,
    "unhandled_error_detection": unhandled_errors,
}


async def test_production_has_no_high_or_medium_finding_and_is_still_seen_as_graphql(
    production: httpx.AsyncClient,
) -> None:
    detected = await cop_post(production, "query cop { __typename }")
    assert dig(detected, "data", "__typename") == "Query"
    findings = [name for name, check in HIGH_AND_MEDIUM.items() if await check(production)]
    assert findings == []


async def test_production_has_no_low_or_info_finding_either(
    production: httpx.AsyncClient,
) -> None:
    findings = [name for name, check in LOW_AND_INFO.items() if await check(production)]
    assert findings == []


async def test_the_checks_do_find_what_the_default_profile_allows(
    client: httpx.AsyncClient,
) -> None:
    """The replayed checks can fail: on the default profile (introspection, GraphiQL and GET
    on, for developers) they report exactly those. The circular introspection query is
    refused there by graphql-core's own validation ("Maximum introspection depth
    exceeded")."""
    findings = {
        name for name, check in {**HIGH_AND_MEDIUM, **LOW_AND_INFO}.items() if await check(client)
    }
    assert findings == {
        "introspection",
        "get_method_support",
        "detect_graphiql",
    }


async def test_repeated_directives_are_one_error_before_validation(
    client: httpx.AsyncClient,
) -> None:
    answer = await cop_post(client, "query cop { __typename " + "@aa" * 10 + " }")
    assert answer == {
        "errors": [
            {
                "message": "The directive '@aa' can only be used once at this location.",
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ]
    }


async def test_a_response_carries_at_most_the_configured_number_of_errors(
    sandbox: Sandbox,
) -> None:
    app = create_app(sandbox_settings(graphql_max_errors=3), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            unknown = " ".join(f"x{i}" for i in range(5))  # five validation errors
            answer = (await http.post("/graphql", json={"query": f"{{ {unknown} }}"})).json()
    codes = [error["extensions"]["code"] for error in answer["errors"]]
    assert codes == ["GRAPHQL_VALIDATION_FAILED"] * 3 + ["TOO_MANY_ERRORS"]
    assert answer["errors"][-1]["message"] == "2 more errors not shown"


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"},
        {"apollo-require-preflight": "true"},
        {"x-apollo-operation-name": "cop"},
    ],
)
async def test_production_runs_a_get_that_forces_a_preflight(
    production: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await production.get("/graphql", params={"query": "{ __typename }"}, headers=headers)
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    "headers",
    [{}, {"content-type": "text/plain"}, {"apollo-require-preflight": " "}],
    ids=["none", "simple-type", "blank-header"],
)
async def test_production_refuses_a_get_a_browser_would_send_cross_site(
    production: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await production.get(
        "/graphql",
        params={"query": "{ __typename }"},
        headers={**headers, "accept": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "CSRF_PREFLIGHT_REQUIRED"}
    assert "Apollo-Require-Preflight" in error["message"]


@pytest.mark.parametrize(
    ("overrides", "runs"),
    [
        ({"profile": "production", "graphql_csrf_prevention": "off"}, True),
        ({"graphql_csrf_prevention": "on"}, False),
        ({}, True),
    ],
    ids=["production-off", "default-on", "default-auto"],
)
async def test_csrf_prevention_is_a_setting(
    sandbox: Sandbox, overrides: dict[str, Any], runs: bool
) -> None:
    app = create_app(sandbox_settings(**overrides), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert ("data" in response.json()) is runs


async def test_an_allowed_origin_may_send_the_preflight_headers(sandbox: Sandbox) -> None:
    """A browser app on an allowed origin can use the headers CSRF prevention asks for: the
    preflight allows them, and the GET that follows runs."""
    origin = "https://app.example.com"
    settings = sandbox_settings(profile="production", cors_origins=[origin])
    app = create_app(settings, transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            preflight = await http.options(
                "/graphql",
                headers={
                    "origin": origin,
                    "access-control-request-method": "GET",
                    "access-control-request-headers": "apollo-require-preflight",
                },
            )
            response = await http.get(
                "/graphql",
                params={"query": "{ __typename }"},
                headers={"origin": origin, "apollo-require-preflight": "true"},
            )
    assert preflight.status_code == 200
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "apollo-require-preflight" in allowed
    assert response.json() == {"data": {"__typename": "Query"}}
    assert response.headers["access-control-allow-origin"] == origin
