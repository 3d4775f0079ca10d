"""Property-based fuzzing: the REST shim against its own OpenAPI document, and the
normalisers (adapter mapping + sanitiser) against hostile upstream payloads.

The REST half sends hypothesis-generated requests (well-shaped bodies with hostile values,
arbitrary JSON, raw bytes, odd content types and verbs, hostile user ids) to one app on the
sandbox and holds every answer to ``/openapi.json``: never a 5xx, never a status the
document does not list, never a body that breaks the listed schema. The normaliser half
feeds arbitrary JSON and hostile metadata to the Alchemy and OpenSea mapping functions and
then to :func:`gateway.nfts.sanitize.present_nft`: no exception, and the caps hold.

The counters at the bottom are what the closing report quotes.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.nfts.sanitize import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_TRAITS, present_nft
from gateway.openapi import openapi_document
from providers.alchemy.mapping import to_holdings_page
from providers.alchemy.mapping import to_nft_record as alchemy_record
from providers.errors import ProviderBadData
from providers.models import Chain
from providers.opensea.mapping import to_nft_detail, to_nft_record
from providers.sandbox import build_sandbox
from providers.sandbox.world import EMPTY_WALLET, SMALL_WALLET
from tests.conftest import sandbox_settings

REST_EXAMPLES = 300
PAYLOAD_EXAMPLES = 300
STATS: Counter[str] = Counter()
SETTINGS = sandbox_settings(exact_total_wait=0.5)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# -- one app on the sandbox for every example ----------------------------------------------


@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    """One app for every example of a test (its lifespan spans the whole test)."""
    app = create_app(SETTINGS, transport=build_sandbox().transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


def _inline_refs(node: Any, schemas: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return _inline_refs(schemas[ref.rsplit("/", 1)[1]], schemas)
        return {key: _inline_refs(value, schemas) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, schemas) for item in node]
    return node


DOCUMENT = openapi_document(SETTINGS)
PATHS = _inline_refs(DOCUMENT["paths"], DOCUMENT["components"]["schemas"])


def check_against_the_document(route: str, response: httpx.Response) -> None:
    """The status is listed for the route and the body matches the listed schema."""
    STATS["rest requests"] += 1
    STATS[f"status {response.status_code}"] += 1
    assert response.status_code < 500, response.text
    responses = PATHS[route]["post"]["responses"]
    listed = responses.get(str(response.status_code))
    assert listed is not None, f"{response.status_code} is not documented: {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    schema = listed["content"]["application/json"]["schema"]
    jsonschema.validate(orjson.loads(response.content), schema)
    assert response.headers["x-content-type-options"] == "nosniff"


# -- request strategies --------------------------------------------------------------------

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
addresses = st.one_of(
    st.sampled_from([SMALL_WALLET, EMPTY_WALLET, SMALL_WALLET.upper().replace("0X", "0x")]),
    st.from_regex(r"\A0x[0-9a-fA-F]{40}\Z"),
    st.from_regex(r"\A0x[0-9a-f]{0,45}\Z"),
    st.from_regex(r"\A[a-z0-9\-\u00e9\u202e<>/.]{1,20}\.bit\Z"),
    st.text(max_size=60),
    json_values,
)
page_values = st.one_of(
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=999_990, max_value=1_000_010),
    st.integers(),
    st.text(alphabet="0123456789-+. e", max_size=12),
    json_values,
)
bodies = st.fixed_dictionaries(
    {"wallet_address": addresses, "page": page_values, "size": page_values},
    optional={"extra": json_values, "__proto__": json_values},
)
user_ids = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9._:@-]{1,128}\Z"),
    st.from_regex(r"\A[A-Za-z0-9._:@-]{1,128}\Z"),
    st.text(min_size=1, max_size=140),
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # the standard library: integers of any size


valid_bodies = st.fixed_dictionaries(
    {
        "wallet_address": st.sampled_from([SMALL_WALLET, EMPTY_WALLET])
        | st.from_regex(r"\A0x[0-9a-f]{40}\Z"),
        "page": st.integers(min_value=1, max_value=3),
        "size": st.integers(min_value=1, max_value=100),
    }
)
raw_bodies = st.one_of(
    valid_bodies.map(_encode),
    valid_bodies.map(_encode),
    bodies.map(_encode),
    json_values.map(_encode),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=500).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "application/json\r\nx-injected: 1",
    ]
)


@settings(
    max_examples=REST_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    route=st.sampled_from(sorted(PATHS)),
    user_id=user_ids,
    body=raw_bodies,
    content_type=content_types,
    method=st.sampled_from(["POST"] * 8 + ["GET", "PUT"]),
)
async def test_the_rest_shim_keeps_its_documented_contract(
    gateway: httpx.AsyncClient,
    route: str,
    user_id: str,
    body: bytes,
    content_type: str,
    method: str,
) -> None:
    path = route.replace("{user_id}", urllib.parse.quote(user_id, safe=""))
    headers = {"content-type": content_type.replace("\r\n", " ")} if content_type else {}
    response = await gateway.request(method, path, content=body, headers=headers)
    check_against_the_document(route, response)


# -- hostile upstream payloads through the normalisers -------------------------------------

hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=250, max_size=12_000),
    st.sampled_from(
        [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "data:image/png;base64," + "A" * 70_000,
            "ipfs://../../etc/passwd",
            "https://user:pw@evil.example/x.png",
            "\x1b]0;pwned\x07\u202e",
            "n" * 20_000,
        ]
    ),
)
hostile_metadata = st.fixed_dictionaries(
    {
        "name": hostile_text,
        "description": hostile_text,
        "image": hostile_text,
        "animation_url": hostile_text,
        "attributes": st.lists(
            st.fixed_dictionaries({"trait_type": hostile_text, "value": json_leaf}), max_size=150
        ),
    }
)


def assert_presentable(raw_record: Any) -> None:
    if raw_record is None:
        return
    nft = present_nft(raw_record, SETTINGS)
    for text in (nft.name, nft.collection_name):
        assert text is None or (len(text) <= MAX_NAME_CHARS and not _CONTROL.search(text))
        assert text is None or "\n" not in text
    assert nft.description is None or len(nft.description) <= MAX_DESCRIPTION_CHARS
    assert nft.description is None or not _CONTROL.search(nft.description)
    for url in (nft.image, nft.animation_url):
        assert url is None or url.startswith(
            ("https://", "data:image/", "data:video/", "data:audio/")
        )
        assert url is None or len(url) <= max(2048, SETTINGS.max_data_uri_bytes)
    assert nft.traits is None or len(nft.traits) <= MAX_TRAITS
    STATS["presented records"] += 1


@settings(max_examples=PAYLOAD_EXAMPLES, deadline=None, database=None)
@given(metadata=hostile_metadata, junk=json_values)
def test_hostile_alchemy_payloads_normalise_safely(metadata: dict[str, Any], junk: Any) -> None:
    raw = {
        "contract": {"address": "0x" + "ab" * 20, "tokenType": "ERC1155", "name": metadata["name"]},
        "tokenId": "1",
        "balance": junk,
        "raw": {"metadata": metadata},
        "image": {"originalUrl": metadata["image"]},
    }
    STATS["alchemy payloads"] += 1
    assert_presentable(alchemy_record(raw, Chain.ETHEREUM, SMALL_WALLET))
    for body in ({"ownedNfts": [raw, junk], "pageKey": junk, "totalCount": junk}, junk):
        try:
            page = to_holdings_page(body, Chain.ETHEREUM, SMALL_WALLET)
        except ProviderBadData:
            continue
        for record in page.records:
            assert_presentable(record)


@settings(max_examples=PAYLOAD_EXAMPLES, deadline=None, database=None)
@given(metadata=hostile_metadata, junk=json_values)
def test_hostile_opensea_payloads_normalise_safely(metadata: dict[str, Any], junk: Any) -> None:
    raw = {
        "identifier": "7",
        "contract": "0x" + "cd" * 20,
        "token_standard": "erc721",
        "collection": metadata["name"],
        "name": metadata["name"],
        "description": metadata["description"],
        "image_url": metadata["image"],
        "animation_url": metadata["animation_url"],
        "traits": [
            {"trait_type": a["trait_type"], "value": a["value"]} for a in metadata["attributes"]
        ],
        "owners": junk,
        "rarity": junk,
    }
    STATS["opensea payloads"] += 1
    assert_presentable(to_nft_record(raw, Chain.ETHEREUM, SMALL_WALLET))
    assert_presentable(to_nft_detail(raw, Chain.ETHEREUM, SMALL_WALLET))
    assert_presentable(to_nft_record(junk, Chain.ETHEREUM, SMALL_WALLET))


def test_fuzz_summary() -> None:
    """Runs last in this module: the numbers the closing report quotes."""
    fivexx = sum(n for key, n in STATS.items() if key.startswith("status 5"))
    print("\nfuzz summary:", dict(sorted(STATS.items())))  # shown with -s
    assert fivexx == 0
    if STATS["rest requests"]:  # this module ran in full, not a -k selection
        assert STATS["rest requests"] >= REST_EXAMPLES
