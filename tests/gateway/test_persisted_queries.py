"""Persisted and trusted documents: Apollo's APQ round trip, and allow-listed documents only.

The client half of each round trip does what Apollo Client's persisted-queries link does:
send the hash alone, and on ``PersistedQueryNotFound`` send it again with the query.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.schema.persisted import sha256_hex
from providers.sandbox import Sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.conftest import sandbox_settings

QUERY = "query Total($a: String!) { wallet(address: $a) { address nfts { total } } }"
VARIABLES = {"a": SMALL_WALLET}
OTHER = "{ __typename }"
REDIS_URL = "redis://127.0.0.1:6379/13"


@asynccontextmanager
async def gateway(sandbox: Sandbox, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sandbox_settings(**overrides), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


def persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}


async def post(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> Any:
    response = await client.post("/graphql", json=body, headers=headers)
    return response.json()


async def get(client: httpx.AsyncClient, query: str | None, extensions: dict[str, Any]) -> Any:
    params = {"extensions": json.dumps(extensions), "variables": json.dumps(VARIABLES)}
    if query is not None:
        params["query"] = query
    response = await client.get("/graphql", params=params)
    return response.json()


def code(answer: Any) -> str:
    return str(answer["errors"][0]["extensions"]["code"])


async def test_apq_round_trip_over_post(client: httpx.AsyncClient) -> None:
    hashed = {"variables": VARIABLES, "extensions": persisted(QUERY)}
    miss = await post(client, hashed)
    assert miss == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    registered = await post(client, {"query": QUERY, **hashed})
    assert registered["data"]["wallet"]["address"] == SMALL_WALLET.lower()
    hit = await post(client, hashed)
    assert hit["data"] == registered["data"]


async def test_apq_round_trip_over_get(client: httpx.AsyncClient) -> None:
    extensions = persisted(QUERY)
    assert code(await get(client, None, extensions)) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await get(client, QUERY, extensions)
    assert registered["data"]["wallet"]["nfts"]["total"] > 0
    assert (await get(client, None, extensions))["data"] == registered["data"]


async def test_graphql_response_json_clients_get_a_400_for_a_miss(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        json={"extensions": persisted(OTHER)},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert code(response.json()) == "PERSISTED_QUERY_NOT_FOUND"


async def test_registrations_are_shared_through_redis_with_a_ttl(sandbox: Sandbox) -> None:
    """Another replica (another app on the same Redis) knows a hash one of them registered."""
    namespace = f"nftgw-test-{secrets.token_hex(6)}"
    redis = {
        "redis_url": REDIS_URL,
        "redis_namespace": namespace,
        "graphql_persisted_query_ttl": 600,
    }
    body = {"query": OTHER, "extensions": persisted(OTHER)}
    raw = Redis.from_url(REDIS_URL)
    try:
        async with gateway(sandbox, **redis) as first:
            assert (await post(first, body))["data"] == {"__typename": "Query"}
        async with gateway(sandbox, **redis) as second:
            hit = await post(second, {"extensions": persisted(OTHER)})
        assert hit == {"data": {"__typename": "Query"}}
        keys = [key async for key in raw.scan_iter(match=f"{namespace}:*")]
        assert len(keys) == 1 and sha256_hex(OTHER) in keys[0].decode()
        assert 0 < await raw.ttl(keys[0]) <= 600
    finally:
        keys = [key async for key in raw.scan_iter(match=f"{namespace}:*")]
        if keys:
            await raw.delete(*keys)
        await raw.aclose()


async def test_a_hash_that_does_not_match_its_query_is_refused(client: httpx.AsyncClient) -> None:
    answer = await post(client, {"query": OTHER, "extensions": persisted(QUERY)})
    assert answer["errors"][0] == {
        "message": "provided sha does not match query",
        "extensions": {"code": "BAD_REQUEST"},
    }
    assert code(await post(client, {"extensions": persisted(QUERY)})) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_document_over_the_limits_is_not_registered(client: httpx.AsyncClient) -> None:
    deep = "{" + " a {" * 8 + " b" + " }" * 9  # 9 deep
    answer = await post(client, {"query": deep, "extensions": persisted(deep)})
    assert code(answer) == "QUERY_TOO_DEEP"
    assert code(await post(client, {"extensions": persisted(deep)})) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}},
        {"persistedQuery": "abc"},
    ],
)
async def test_malformed_persisted_queries_are_400(
    client: httpx.AsyncClient, extensions: dict[str, Any]
) -> None:
    response = await client.post("/graphql", json={"extensions": extensions})
    assert response.status_code == 400
    assert code(response.json()) == "BAD_REQUEST"


async def test_apq_turned_off_says_not_supported(sandbox: Sandbox) -> None:
    async with gateway(sandbox, graphql_persisted_queries=False) as client:
        answer = await post(client, {"query": OTHER, "extensions": persisted(OTHER)})
        assert answer == {
            "errors": [
                {
                    "message": "PersistedQueryNotSupported",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
                }
            ]
        }
        assert (await post(client, {"query": OTHER})) == {"data": {"__typename": "Query"}}


# -- trusted documents ---------------------------------------------------------------------


def manifest(tmp_path: Path, *bodies: str) -> Path:
    """An Apollo persisted-query manifest, as generate-persisted-query-manifest writes it."""
    operations = [
        {"id": sha256_hex(body), "name": f"Op{i}", "type": "query", "body": body}
        for i, body in enumerate(bodies)
    ]
    path = tmp_path / "persisted-query-manifest.json"
    path.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    return path


async def test_production_with_an_allow_list_runs_listed_documents_only(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    trusted = manifest(tmp_path, QUERY)
    async with gateway(sandbox, profile="production", graphql_trusted_documents=trusted) as client:
        by_hash = await post(client, {"variables": VARIABLES, "extensions": persisted(QUERY)})
        assert by_hash["data"]["wallet"]["address"] == SMALL_WALLET.lower()
        in_full = await post(client, {"query": QUERY, "variables": VARIABLES})
        assert in_full["data"] == by_hash["data"]

        unknown = await post(client, {"query": OTHER})
        assert unknown["errors"][0]["extensions"] == {"code": "QUERY_NOT_IN_SAFELIST"}
        assert "data" not in unknown
        unknown_hash = await post(client, {"extensions": persisted(OTHER)})
        assert code(unknown_hash) == "PERSISTED_QUERY_NOT_IN_LIST"
        # Nothing can be registered: the APQ retry of an unknown hash is still refused.
        retry = await post(client, {"query": OTHER, "extensions": persisted(OTHER)})
        assert code(retry) == "PERSISTED_QUERY_NOT_IN_LIST"
        assert code(await post(client, {"query": QUERY + " "})) == "QUERY_NOT_IN_SAFELIST"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"format": "something-else", "version": 1, "operations": []}),
        json.dumps({"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}),
        json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{}]}),
    ],
)
def test_a_malformed_manifest_stops_the_start(
    sandbox: Sandbox, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="trusted documents"):
        create_app(sandbox_settings(graphql_trusted_documents=path), transport=sandbox.transport())


def test_a_missing_manifest_stops_the_start(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        create_app(
            sandbox_settings(graphql_trusted_documents=tmp_path / "absent.json"),
            transport=sandbox.transport(),
        )


async def test_a_registration_sent_again_after_its_query_expired_registers_it_again(
    sandbox: Sandbox,
) -> None:
    # The same registration bytes twice: the second must reach the store again (a body
    # that names a persisted query is never answered from what its bytes did before).
    hashed = {"variables": VARIABLES, "extensions": persisted(QUERY)}
    async with gateway(sandbox, graphql_persisted_query_ttl=1) as client:
        assert "data" in await post(client, {"query": QUERY, **hashed})
        await asyncio.sleep(1.1)  # the stored query expires
        assert code(await post(client, hashed)) == "PERSISTED_QUERY_NOT_FOUND"
        assert "data" in await post(client, {"query": QUERY, **hashed})
        hit = await post(client, hashed)
    assert hit.get("data"), hit
