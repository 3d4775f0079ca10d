"""The HTTP surface against hostile clients: caps, content types, headers, CORS, bad input
(4xx with a stable code and no upstream call), client keys and rate limits, and the
OpenAPI document."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from pydantic import ValidationError

from gateway.app import create_app
from gateway.http.ratelimit import MemoryRateLimiter, RedisRateLimiter
from gateway.settings import Settings
from providers.sandbox import Sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.conftest import sandbox_settings

NFTS = "/users/u1/nfts"
CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # the EIP-55 reference vector


@asynccontextmanager
async def gateway(
    sandbox: Sandbox, *, client_ip: str = "203.0.113.7", **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(sandbox_settings(**overrides), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=(client_ip, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield http


def upstream_calls(sandbox: Sandbox) -> int:
    return sum(emulator.faults.calls for emulator in sandbox.emulators.values())


def sized_body(size: int, **extra: Any) -> bytes:
    """A valid REST body of exactly ``size`` bytes (padded with an ignored field)."""
    base = {"wallet_address": SMALL_WALLET, "page": 1, "size": 1, **extra, "pad": ""}
    room = size - len(orjson.dumps(base))
    return orjson.dumps({**base, "pad": "x" * room})


JSON = {"content-type": "application/json"}


# -- body caps, content types, nesting -----------------------------------------------------


async def test_rest_body_16_kib_accepted_one_more_byte_is_413(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    assert (await client.post(NFTS, content=sized_body(16 * 1024), headers=JSON)).status_code == 200
    calls = upstream_calls(sandbox)
    response = await client.post(NFTS, content=sized_body(16 * 1024 + 1), headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "BODY_TOO_LARGE"
    assert upstream_calls(sandbox) == calls


def nest(levels: int) -> Any:
    """``levels`` lists inside each other."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


async def test_json_nested_32_deep_accepted_33_is_a_400(client: httpx.AsyncClient) -> None:
    # The body object is level 1; "pad" holds the rest.
    ok = await client.post(NFTS, content=sized_body(2048, deep=nest(31)), headers=JSON)
    assert ok.status_code == 200
    deep = await client.post(NFTS, content=sized_body(2048, deep=nest(32)), headers=JSON)
    assert deep.status_code == 400
    assert deep.json()["error"]["code"] == "BAD_REQUEST"
    huge = await client.post(NFTS, content=b"[" * 8_000 + b"]" * 8_000, headers=JSON)
    assert huge.status_code == 400


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "application/jsonp",
        "application/json-patch+json",
    ],
)
async def test_csrf_style_simple_posts_are_415(
    client: httpx.AsyncClient, sandbox: Sandbox, content_type: str
) -> None:
    body = orjson.dumps({"wallet_address": SMALL_WALLET, "page": 1, "size": 1})
    for path in (NFTS, "/graphql"):
        response = await client.post(path, content=body, headers={"content-type": content_type})
        assert response.status_code == 415, path
    assert upstream_calls(sandbox) == 0


async def test_wrong_verbs_are_405_with_allow(client: httpx.AsyncClient) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, NFTS)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


# -- headers -------------------------------------------------------------------------------


async def test_nosniff_everywhere_and_no_store_on_per_user_answers(
    client: httpx.AsyncClient,
) -> None:
    body = {"wallet_address": SMALL_WALLET, "page": 1, "size": 1}
    answers = {
        "rest 200": await client.post(NFTS, json=body),
        "rest 422": await client.post(NFTS, json={**body, "page": 0}),
        "rest 405": await client.get(NFTS),
        "404": await client.get("/nope"),
        "graphql": await client.post("/graphql", json={"query": "{ __typename }"}),
        "graphql 413": await client.post(
            "/graphql", content=b"x" * 70_000, headers={"content-type": "application/json"}
        ),
        "healthz": await client.get("/healthz"),
        "openapi": await client.get("/openapi.json"),
    }
    for name, response in answers.items():
        assert response.headers["x-content-type-options"] == "nosniff", name
    for name in ("rest 200", "rest 422", "graphql"):
        assert answers[name].headers["cache-control"] == "no-store", name
    assert "public" in answers["openapi"].headers["cache-control"]


async def test_header_and_log_injection_go_nowhere(
    client: httpx.AsyncClient, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.post(
        "/users/u1%0d%0aSet-Cookie:%20x=1/nfts",
        json={"wallet_address": SMALL_WALLET, "page": 1, "size": 1},
    )
    assert response.status_code in (404, 422)
    assert "set-cookie" not in response.headers
    assert upstream_calls(sandbox) == 0

    with caplog.at_level(logging.INFO):
        logging.getLogger("gateway.test").warning("path %s", "/a\r\nFAKE 200 admin login")
    message = caplog.records[-1].getMessage()
    assert "\n" not in message and "\r" not in message and "FAKE" in message


# -- CORS ----------------------------------------------------------------------------------


async def preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options(
        NFTS,
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )


async def test_cors_allows_only_the_configured_origins_never_with_credentials(
    sandbox: Sandbox,
) -> None:
    async with gateway(sandbox, cors_origins="https://app.example") as client:
        allowed = await preflight(client, "https://app.example")
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-credentials" not in allowed.headers
        other = await preflight(client, "https://evil.example")
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
        simple = await client.post(
            NFTS,
            json={"wallet_address": SMALL_WALLET, "page": 1, "size": 1},
            headers={"origin": "https://evil.example", "cookie": "session=1"},
        )
        assert "access-control-allow-origin" not in simple.headers


async def test_without_an_allowlist_there_are_no_cors_headers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        NFTS,
        json={"wallet_address": SMALL_WALLET, "page": 1, "size": 1},
        headers={"origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_a_wildcard_never_comes_with_credentials(sandbox: Sandbox) -> None:
    async with gateway(sandbox, cors_origins="*") as client:
        response = await client.post(
            NFTS,
            json={"wallet_address": SMALL_WALLET, "page": 1, "size": 1},
            headers={"origin": "https://evil.example", "cookie": "session=1"},
        )
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


def test_production_needs_an_explicit_cors_allowlist() -> None:
    with pytest.raises(ValidationError):
        Settings(profile="production", cors_origins="*")
    assert Settings(profile="production", cors_origins="https://a.example").cors_origins == [
        "https://a.example"
    ]


# -- bad input: a 4xx with a stable code, and no upstream call -----------------------------

BAD_INPUT = [
    # addresses
    ({"wallet_address": "0x123"}, "INVALID_ADDRESS"),
    ({"wallet_address": SMALL_WALLET + "1"}, "INVALID_ADDRESS"),
    ({"wallet_address": SMALL_WALLET[2:]}, "INVALID_ADDRESS"),
    ({"wallet_address": "0X" + SMALL_WALLET[2:]}, "INVALID_ADDRESS"),
    ({"wallet_address": "0x" + "g" * 40}, "INVALID_ADDRESS"),
    ({"wallet_address": " " + SMALL_WALLET}, "INVALID_ADDRESS"),
    ({"wallet_address": SMALL_WALLET + "\n"}, "INVALID_ADDRESS"),
    ({"wallet_address": "0x" + "\u0661" * 40}, "INVALID_ADDRESS"),  # Arabic-Indic digits
    ({"wallet_address": CHECKSUMMED.replace("a", "A", 1)}, "INVALID_ADDRESS"),  # bad EIP-55
    ({"wallet_address": 1234}, "INVALID_ADDRESS"),
    ({"wallet_address": [SMALL_WALLET]}, "INVALID_ADDRESS"),
    ({"wallet_address": {"$ne": None}}, "INVALID_ADDRESS"),
    ({"wallet_address": None}, "MISSING_FIELD"),
    ({"wallet_address": ""}, "INVALID_ADDRESS"),
    # names with hostile characters
    ({"wallet_address": "<script>.bit"}, "INVALID_NAME"),
    ({"wallet_address": "alice\u202e.bit"}, "INVALID_NAME"),
    ({"wallet_address": "alice\n.bit"}, "INVALID_NAME"),
    ({"wallet_address": "a" * 300 + ".bit"}, "INVALID_NAME"),
    ({"wallet_address": "../../etc.bit"}, "INVALID_NAME"),
    # page and size
    ({"page": 0}, "INVALID_PAGINATION"),
    ({"page": -1}, "INVALID_PAGINATION"),
    ({"page": 1.5}, "INVALID_PAGINATION"),
    ({"page": True}, "INVALID_PAGINATION"),
    ({"page": "1e3"}, "INVALID_PAGINATION"),
    ({"page": 10**30}, "INVALID_PAGINATION"),
    ({"size": 0}, "INVALID_PAGINATION"),
    ({"size": 101}, "INVALID_PAGINATION"),
    ({"size": "ten"}, "INVALID_PAGINATION"),
    ({"size": [20]}, "INVALID_PAGINATION"),
    ({"size": None}, "MISSING_FIELD"),
]


@pytest.mark.parametrize(("change", "code"), BAD_INPUT)
async def test_bad_rest_input_is_a_4xx_with_a_code_and_no_upstream_call(
    client: httpx.AsyncClient, sandbox: Sandbox, change: dict[str, Any], code: str
) -> None:
    body = {"wallet_address": SMALL_WALLET, "page": 1, "size": 20, **change}
    response = await client.post(NFTS, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert upstream_calls(sandbox) == 0


@pytest.mark.parametrize("user_id", ["a" * 129, "u%20u", "u%00", "%E2%80%AEu", "u;drop", "u%0au"])
async def test_bad_user_ids_are_422(
    client: httpx.AsyncClient, sandbox: Sandbox, user_id: str
) -> None:
    response = await client.post(
        f"/users/{user_id}/nfts", json={"wallet_address": SMALL_WALLET, "page": 1, "size": 1}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_USER_ID"
    assert upstream_calls(sandbox) == 0


async def test_a_valid_checksummed_address_is_accepted(client: httpx.AsyncClient) -> None:
    body = {"wallet_address": CHECKSUMMED, "page": 1, "size": 1}
    assert (await client.post(NFTS, json=body)).status_code == 200


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ('address: "0x123"', "INVALID_ADDRESS"),
        (f'address: "{CHECKSUMMED.replace("a", "A", 1)}"', "INVALID_ADDRESS"),
        (f'address: "{SMALL_WALLET}") {{ nftConnection(after: "{"A" * 513}"', "INVALID_CURSOR"),
        (f'address: "{SMALL_WALLET}") {{ nftConnection(after: "%%%"', "INVALID_CURSOR"),
        (f'address: "{SMALL_WALLET}") {{ nftConnection(after: "bm90LW91cnM="', "INVALID_CURSOR"),
        (f'address: "{SMALL_WALLET}") {{ nftConnection(first: 0', "INVALID_PAGINATION"),
        (f'address: "{SMALL_WALLET}") {{ nfts(page: -1', "INVALID_PAGINATION"),
        (f'address: "{SMALL_WALLET}") {{ nfts(size: 101', "INVALID_PAGINATION"),
    ],
)
async def test_bad_graphql_input_has_a_code_and_no_upstream_call(
    client: httpx.AsyncClient, sandbox: Sandbox, arguments: str, code: str
) -> None:
    if "{" in arguments:  # a nested field with its own arguments
        query = f"{{ wallet({arguments}) {{ totalCount }} }} }}"
        query = query.replace("totalCount", "total" if "nfts(" in arguments else "totalCount")
    else:
        query = f"{{ wallet({arguments}) {{ address }} }}"
    response = await client.post("/graphql", json={"query": query})
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == code, errors
    assert upstream_calls(sandbox) == 0


# -- client keys and rate limits -----------------------------------------------------------


def test_token_bucket_allows_the_burst_then_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(60, 20, clock=lambda: now[0])
    assert [limiter.take("ip:a") for _ in range(20)] == [0.0] * 20
    assert limiter.take("ip:a") == pytest.approx(1.0)
    assert limiter.take("ip:b") == 0.0  # buckets are per client
    now[0] += 1.0
    assert limiter.take("ip:a") == 0.0


async def test_per_ip_limit_is_a_429_with_retry_after(sandbox: Sandbox) -> None:
    async with gateway(sandbox, rate_limit="on", rate_limit_burst=3) as client:
        statuses = [(await client.get("/graphql?query={__typename}")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await client.post(NFTS, json={"wallet_address": SMALL_WALLET})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert (await client.get("/healthz")).status_code == 200  # operations are exempt


async def test_client_keys_are_required_and_limited_per_key(sandbox: Sandbox) -> None:
    keys = "key-alpha-0001,key-bravo-0002"
    async with gateway(sandbox, client_api_keys=keys, rate_limit_burst=2) as client:
        query = "/graphql?query={__typename}"
        missing = await client.get(query)
        assert missing.status_code == 401
        assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
        wrong = await client.get(query, headers={"x-api-key": "key-alpha-0003"})
        assert wrong.status_code == 401
    async with gateway(sandbox, client_api_keys=keys, rate_limit_burst=2) as client:
        alpha = {"x-api-key": "key-alpha-0001"}
        assert (await client.get(query, headers=alpha)).status_code == 200
        assert (await client.get(query, headers=alpha)).status_code == 200
        assert (await client.get(query, headers=alpha)).status_code == 429


async def test_without_keys_or_production_the_default_profile_is_not_limited(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(30):
        assert (await client.get("/graphql?query={__typename}")).status_code == 200


# -- the OpenAPI document ------------------------------------------------------------------


async def test_openapi_documents_the_rest_routes(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    nfts = document["paths"]["/users/{user_id}/nfts"]["post"]
    assert {"200", "400", "413", "415", "422", "429", "503"} <= set(nfts["responses"])
    assert "/users/{user_id}/dids" in document["paths"]


# -- shared buckets through Redis (skipped where no redis-server is installed) -------------


@pytest.fixture
def redis_url(tmp_path: Any) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    socket_path = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [
            server,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if socket_path.exists():
                break
            time.sleep(0.02)
        yield f"unix://{socket_path}"
    finally:
        process.terminate()
        process.wait(timeout=5)


async def test_replicas_share_rate_limits_through_redis(redis_url: str) -> None:
    from redis.asyncio import Redis

    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    try:
        replicas = [RedisRateLimiter(c, per_minute=60, burst=3) for c in clients]
        waits = [await replicas[i % 2].acquire("ip:shared") for i in range(4)]
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert waits[3] > 0  # the fourth request, on either replica, finds the bucket empty
    finally:
        for client in clients:
            await client.aclose()


async def test_a_dead_redis_falls_back_to_local_buckets() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url("unix:///nonexistent/redis.sock")
    try:
        limiter = RedisRateLimiter(client, per_minute=60, burst=1)
        assert await limiter.acquire("ip:x") == 0.0
        assert await limiter.acquire("ip:x") > 0
    finally:
        await client.aclose()
