"""The GraphQL endpoint against the GraphQL-over-HTTP spec.

The proof is the public audit suite: ``graphql-http``'s server audits (pinned in
``tests/audit/package.json``), run by ``node tests/audit/audit.mjs`` against a real uvicorn
serving a sandbox gateway on a free loopback port. No MUST audit may fail, and no SHOULD
audit may warn unless it is listed in ``ACCEPTED_WARNINGS`` with the reason. The test skips
only when ``node`` or ``tests/audit/node_modules`` is missing (``.ci/run`` installs the
latter with ``npm ci``); under CI a missing ``node_modules`` next to a working ``node`` fails.

The rest checks, without node, each rule the audit led us to fix: ``Accept`` negotiation
by quality values, operation selection (``operationName``), empty documents, variable
coercion errors and the 405 for every other verb.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.sandbox import Sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.live import LiveServer

AUDIT_DIR = Path(__file__).resolve().parents[1] / "audit"
AUDIT_SCRIPT = AUDIT_DIR / "audit.mjs"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
AUDIT_TIMEOUT = 120.0

# SHOULD audits we knowingly fail, by id, with the reason. Empty: the gateway passes all
# of them (POST bodies other than application/json are refused with 415 for CSRF reasons,
# which no audit contradicts: the audits only ever POST application/json).
ACCEPTED_WARNINGS: dict[str, str] = {}


# -- the public audit suite ----------------------------------------------------------------


def _node() -> str:
    """The ``node`` binary, or a skip (a failure under CI) naming what is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the graphql-http audit needs Node.js >= 18")
    if not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        message = "tests/audit/node_modules is missing: run `npm ci --prefix tests/audit`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return node


@contextmanager
def live_gateway() -> Iterator[str]:
    """A sandbox gateway under uvicorn in a thread (the protocol `serve` runs); yields its
    GraphQL URL."""
    server = LiveServer()
    server.start()
    try:
        yield f"{server.url}/graphql"
    finally:
        server.stop()


def run_audit(node: str, url: str) -> dict[str, Any]:
    """The audit script's JSON report (exit 0: all MUSTs pass, 1: some failed)."""
    done = subprocess.run(
        [node, str(AUDIT_SCRIPT), url],
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT,
        check=False,
    )
    if done.returncode not in (0, 1):
        pytest.fail(f"audit.mjs exited with {done.returncode}: {done.stderr.strip()}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _lines(results: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {r['id']} {r['name']}: {r['message']}" for r in results) or "  none"


def test_graphql_http_server_audits_pass() -> None:
    node = _node()
    with live_gateway() as url:
        report = run_audit(node, url)
    results = report["results"]
    errors = [r for r in results if r["status"] == "error"]
    warnings = [r for r in results if r["status"] == "warn"]
    summary = (
        f"graphql-http {report['version']} audits: {report['counts']}\n"
        f"MUST failures:\n{_lines(errors)}\nSHOULD warnings:\n{_lines(warnings)}"
    )
    assert len(results) >= 50, summary  # the suite really ran (61 audits in 1.23.1)
    assert not errors, summary
    unexpected = [r for r in warnings if r["id"] not in ACCEPTED_WARNINGS]
    assert not unexpected, summary


# -- Accept: the highest-quality type we can write -----------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5", GRAPHQL_RESPONSE),  # any q above 0 accepts it
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),  # what the spec advises
        (f"{JSON}, {GRAPHQL_RESPONSE};q=0.9", JSON),  # JSON preferred: JSON
        (f"{GRAPHQL_RESPONSE};q=0.2, */*;q=0.8", JSON),
        (f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),  # a tie: the named, newer type
        (f"{GRAPHQL_RESPONSE};q=0, {JSON}", JSON),
        (f"{GRAPHQL_RESPONSE};q=0.000", JSON),  # refused however q=0 is spelled
        (f"{GRAPHQL_RESPONSE};q=2", JSON),  # a malformed q is ignored
        (f"{GRAPHQL_RESPONSE};charset=utf-16", JSON),  # we only write UTF-8
        (f"{GRAPHQL_RESPONSE}; charset=UTF-8", GRAPHQL_RESPONSE),
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/html", JSON),  # nothing we write: JSON rather than a 406
    ],
)
async def test_accept_picks_the_highest_quality_type(
    client: httpx.AsyncClient, accept: str | None, expected: str
) -> None:
    headers = {"accept": accept} if accept is not None else {}
    response = await client.post("/graphql", json={"query": "{"}, headers=headers)
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"
    # A parse failure: 400 under application/graphql-response+json, 200 under JSON.
    assert response.status_code == (400 if expected == GRAPHQL_RESPONSE else 200)
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


# -- request errors: no data, 200 under JSON, 400 under graphql-response+json ---------------


async def request_error(
    client: httpx.AsyncClient, body: dict[str, Any], *, accept: str
) -> tuple[int, dict[str, Any]]:
    response = await client.post("/graphql", json=body, headers={"accept": accept})
    payload: dict[str, Any] = response.json()
    assert "data" not in payload, payload
    return response.status_code, payload["errors"][0]


def upstream_calls(sandbox: Sandbox) -> int:
    return sum(emulator.faults.calls for emulator in sandbox.emulators.values())


SEVERAL = f'query A {{ __typename }} query B {{ wallet(address: "{SMALL_WALLET}") {{ address }} }}'


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # GetOperation: several operations and no operationName is a request error (Strawberry
        # alone would run the first one).
        ({"query": SEVERAL}, "OPERATION_RESOLUTION_FAILURE"),
        ({"query": SEVERAL, "operationName": "C"}, "OPERATION_RESOLUTION_FAILURE"),
        ({"query": "{ __typename }", "operationName": "A"}, "OPERATION_RESOLUTION_FAILURE"),
        # An empty document is a well-formed request whose document does not parse.
        ({"query": ""}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "  \n "}, "GRAPHQL_PARSE_FAILED"),
        # Variable coercion: the client's input, not a server fault.
        (
            {"query": "query ($a: String!) { wallet(address: $a) { address } }", "variables": {}},
            "BAD_USER_INPUT",
        ),
        (
            {
                "query": "query ($a: String!) { wallet(address: $a) { address } }",
                "variables": {"a": 5},
            },
            "BAD_USER_INPUT",
        ),
    ],
)
@pytest.mark.parametrize(("accept", "status"), [(JSON, 200), (GRAPHQL_RESPONSE, 400)])
async def test_request_errors_follow_the_status_rules(
    client: httpx.AsyncClient,
    sandbox: Sandbox,
    body: dict[str, Any],
    code: str,
    accept: str,
    status: int,
) -> None:
    got_status, error = await request_error(client, body, accept=accept)
    assert (got_status, error["extensions"]["code"]) == (status, code)
    assert upstream_calls(sandbox) == 0  # nothing executed


async def test_a_named_operation_runs_alone(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": SEVERAL, "operationName": "A"},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    assert (response.status_code, response.json()) == (200, {"data": {"__typename": "Query"}})


async def test_variable_coercion_errors_are_the_clients_not_internal(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = "query ($a: String!) { wallet(address: $a) { address } }"
    with caplog.at_level(logging.ERROR):
        _, error = await request_error(client, {"query": query, "variables": {"a": 5}}, accept=JSON)
    assert "$a" in error["message"] and "String" in error["message"]
    # Nothing logged as an unexpected resolver failure (Strawberry's own logger still
    # records every GraphQL error; that is its business).
    assert [r for r in caplog.records if r.name.startswith("gateway")] == []


@pytest.mark.parametrize("query", [None, 5, ["{ __typename }"], {"q": 1}])
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_a_missing_or_non_string_query_is_a_malformed_request(
    client: httpx.AsyncClient, query: Any, accept: str
) -> None:
    body = {} if query is None else {"query": query}
    status, error = await request_error(client, body, accept=accept)
    assert (status, error["extensions"]["code"]) == (400, "BAD_REQUEST")


# -- verbs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_every_other_verb_is_a_graphql_405_with_the_true_allow(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.request(method, "/graphql", headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"  # not HEAD: it is refused too
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    if method != "HEAD":
        code = response.json()["errors"][0]["extensions"]["code"]
        assert code == "METHOD_NOT_ALLOWED"
