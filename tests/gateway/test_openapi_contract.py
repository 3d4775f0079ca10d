"""The REST contract, checked by schemathesis over loopback against a live uvicorn.

Schemathesis generates requests from the OpenAPI document, valid ones and ones that break
it on purpose, and sends them over HTTP to a sandbox gateway served by uvicorn (its
requests transport, no ASGI shortcut, so no event loop is shared with the app): every
answer must be a status the document lists for the route, with a body, content type and
headers that match it; a valid request must not be refused as invalid
(``positive_data_acceptance``) and an invalid one must be (``negative_data_rejection``);
nothing may be a 5xx. The examples are bounded so the test stays well under a minute;
``tests/gateway/test_fuzz.py`` fuzzes more widely in process.

The document is the one the server serves (checked below), built from the same settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from gateway.openapi import decimal_up_to, openapi_document
from tests.conftest import sandbox_settings
from tests.live import LiveServer

EXAMPLES_PER_ROUTE = 300
DOCUMENT = openapi_document(sandbox_settings())
contract = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def contract_server() -> Iterator[LiveServer]:
    server = LiveServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_server_serves_this_document(contract_server: LiveServer) -> None:
    served = httpx.get(f"{contract_server.url}/openapi.json", timeout=10).json()
    assert served == DOCUMENT


@contract.parametrize()
@settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_is_what_the_document_says(
    case: schemathesis.Case, contract_server: LiveServer
) -> None:
    case.call_and_validate(base_url=contract_server.url, timeout=30)


@pytest.mark.parametrize("maximum", [1, 7, 10, 50, 99, 100, 1234, 1_000_000])
def test_the_digit_pattern_accepts_exactly_1_to_the_maximum(maximum: int) -> None:
    pattern = re.compile(decimal_up_to(maximum))
    for number in [*range(min(maximum, 2000) + 50), maximum, maximum + 1, 10 * maximum]:
        assert bool(pattern.fullmatch(str(number))) == (1 <= number <= maximum), number
        assert bool(pattern.fullmatch(f"00{number}")) == (1 <= number <= maximum), number
