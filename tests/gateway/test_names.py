"""Names wherever a wallet is accepted: validation (pure), resolution, and its failure modes.

Invalid names must never reach an upstream; unknown or expired names are a 404 with a code;
a resolver outage is a 503 for name input only and never touches plain-address requests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway.errors import (
    InvalidAddress,
    InvalidName,
    NameNotFound,
    UpstreamUnavailable,
    input_field,
)
from gateway.identity.names import IdentityKind, parse_identity, parse_name, parse_wallet_input
from gateway.validation import checksum
from providers.sandbox import Sandbox
from providers.sandbox.identities import persona_key
from providers.sandbox.world import SMALL_WALLET

HOSTILE_NAMES = [
    "al ice.bit",
    " alice.bit",
    "alice.bit\n",
    "al\x00ice.bit",
    "../../etc/passwd.bit",
    "alice%2e.bit",
    "al'ice.bit",
    'al"ice.bit',
    "alice#1.bit",
    "<script>.bit",
    "alice..bit",
    "-alice.bit",
    ".bit",
    "alice\u202e.bit",  # right-to-left override
    "a" * 61 + ".bit",  # 65 characters
    "a" * 10_000 + ".bit",
    "alice.eth",
    "vitalik.eth",
    "alice.bit.com",
]

WALLET_QUERY = "query ($a: String!) { wallet(address: $a) { address nfts(size: 3) { total } } }"
IDENTITY_QUERY = "query ($n: String!) { identity(name: $n) { name nfts(size: 3) { total } } }"


def upstream_calls(sandbox: Sandbox) -> dict[str, int]:
    return {name: emulator.faults.calls for name, emulator in sandbox.emulators.items()}


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_nfts(client: httpx.AsyncClient, wallet: str, size: int = 5) -> httpx.Response:
    return await client.post(
        "/users/u1/nfts", json={"wallet_address": wallet, "page": 1, "size": size}
    )


# -- validation (pure) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("alice.bit", "alice.bit"),
        ("Alice.BIT", "alice.bit"),
        ("nft.alice.bit", "nft.alice.bit"),
        ("cafe\u0301.bit", "caf\u00e9.bit"),  # NFC: the same name, one spelling
        ("0x123.bit", "0x123.bit"),  # a dot makes it a name
    ],
)
def test_valid_names_come_back_canonical(raw: str, canonical: str) -> None:
    assert parse_wallet_input(raw).name == canonical
    assert parse_name(raw) == canonical


@pytest.mark.parametrize("raw", HOSTILE_NAMES)
def test_hostile_names_are_invalid_names(raw: str) -> None:
    with pytest.raises(InvalidName):
        parse_wallet_input(raw)


@pytest.mark.parametrize("raw", ["0x123", "nothing", "", 42, None])
def test_inputs_without_a_dot_stay_address_errors(raw: object) -> None:
    with pytest.raises(InvalidAddress):
        parse_wallet_input(raw)


def test_an_address_stays_an_address() -> None:
    assert parse_wallet_input(checksum(SMALL_WALLET)).address == SMALL_WALLET


@pytest.mark.parametrize(
    ("raw", "kind", "platform", "value"),
    [
        ("Alice.bit", IdentityKind.DOTBIT, None, "alice.bit"),
        (
            persona_key("alice").upper().replace("0X", "0x"),
            IdentityKind.NEXTID_PERSONA,
            None,
            persona_key("alice"),
        ),
        ("nextid:" + persona_key("alice"), IdentityKind.NEXTID_PERSONA, None, persona_key("alice")),
        ("Twitter:Alice_NFT", IdentityKind.PLATFORM, "twitter", "alice_nft"),
        ("ethereum:" + SMALL_WALLET, IdentityKind.PLATFORM, "ethereum", SMALL_WALLET),
        ("dotbit:alice.bit", IdentityKind.PLATFORM, "dotbit", "alice.bit"),
    ],
)
def test_identities_parse_to_a_kind_and_a_canonical_value(
    raw: str, kind: IdentityKind, platform: str | None, value: str
) -> None:
    ref = parse_identity(raw)
    assert (ref.kind, ref.platform, ref.value) == (kind, platform, value)
    assert parse_identity(ref.text) == ref  # the canonical spelling reads back the same


async def test_every_platform_next_id_lists_is_accepted(sandbox: Sandbox) -> None:
    transport = sandbox.transport()
    async with httpx.AsyncClient(transport=transport, base_url="http://nextid.sandbox") as http:
        listed = (await http.get("/healthz")).json()["platforms"]
    handles = {"nextid": persona_key("alice"), "dotbit": "alice.bit", "ethereum": SMALL_WALLET}
    assert "twitter" in listed
    for platform in listed:
        ref = parse_identity(f"{platform}:{handles.get(platform, 'alice')}")
        assert ref.platform == (None if platform == "nextid" else platform)


@pytest.mark.parametrize(
    "raw",
    [
        "alice",
        "myspace:alice",
        "twitter:a,b",  # Next.ID reads a comma as a list
        "twitter:",
        "twitter:al ice",
        "twitter:" + "a" * 200,
        "nextid:0x1234",
        "dotbit:alice.eth",
        "0x02" + "0" * 63,  # one digit short of a persona key
        "x" * 300,
    ],
)
def test_malformed_identities_are_invalid_names(raw: str) -> None:
    with pytest.raises(InvalidName):
        parse_identity(raw)


# -- invalid names never reach an upstream ---------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_invalid_names_are_422_on_every_face_with_no_upstream_call(
    client: httpx.AsyncClient, sandbox: Sandbox, name: str
) -> None:
    nfts = await list_nfts(client, name)
    dids = await client.post("/users/u1/dids", json={"wallet_address": name})
    wallet = await graphql(client, WALLET_QUERY, a=name)
    identity = await graphql(client, IDENTITY_QUERY, n=name)

    assert nfts.status_code == dids.status_code == 422
    assert nfts.json()["error"]["code"] == dids.json()["error"]["code"] == "INVALID_NAME"
    assert nfts.json()["error"]["field"] == dids.json()["error"]["field"] == "wallet_address"
    assert wallet["errors"][0]["extensions"]["code"] == "INVALID_NAME"
    assert identity["errors"][0]["extensions"]["code"] == "INVALID_NAME"
    # each face names its own field: the services and parsers know no field names
    assert wallet["errors"][0]["extensions"]["field"] == "address"
    assert identity["errors"][0]["extensions"]["field"] == "name"
    assert set(upstream_calls(sandbox).values()) == {0}


async def test_a_valid_name_with_bad_paging_makes_no_upstream_call(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    response = await client.post(
        "/users/u1/nfts", json={"wallet_address": "alice.bit", "page": 0, "size": 5}
    )
    assert response.json()["error"]["code"] == "INVALID_PAGINATION"
    assert set(upstream_calls(sandbox).values()) == {0}


# -- unknown and expired names ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["expired.bit", "nobody-registered-this.bit"])
async def test_unknown_or_expired_names_are_404_name_not_found_on_every_face(
    client: httpx.AsyncClient, name: str
) -> None:
    nfts = await list_nfts(client, name)
    dids = await client.post("/users/u1/dids", json={"wallet_address": name})
    wallet = await graphql(client, WALLET_QUERY, a=name)
    identity = await graphql(client, IDENTITY_QUERY, n=name)

    assert nfts.status_code == dids.status_code == 404
    assert nfts.json()["error"]["code"] == dids.json()["error"]["code"] == "NAME_NOT_FOUND"
    assert wallet["data"] is None and identity["data"] is None
    assert wallet["errors"][0]["extensions"]["code"] == "NAME_NOT_FOUND"
    assert identity["errors"][0]["extensions"]["code"] == "NAME_NOT_FOUND"
    assert nfts.json()["error"]["field"] == dids.json()["error"]["field"] == "wallet_address"
    assert wallet["errors"][0]["extensions"]["field"] == "address"
    assert identity["errors"][0]["extensions"]["field"] == "name"


# -- resolution: both faces, cache, outage ---------------------------------------------------


async def test_a_name_resolves_on_both_faces_and_graphql_wallet_takes_its_first_address(
    client: httpx.AsyncClient,
) -> None:
    rest = (await list_nfts(client, "Alice.bit", size=100)).json()
    by_name = await graphql(client, WALLET_QUERY, a="alice.bit")
    by_address = await graphql(client, WALLET_QUERY, a=SMALL_WALLET)

    assert rest["name"]["name"] == "alice.bit"
    assert rest["name"]["addresses"][0] == checksum(SMALL_WALLET)  # the first address record
    assert by_name["data"]["wallet"] == by_address["data"]["wallet"]
    assert by_name["data"]["wallet"]["address"] == checksum(SMALL_WALLET)


async def test_resolution_is_cached(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    assert (await list_nfts(client, "alice.bit")).status_code == 200
    after_first = sandbox.faults("dotbit").calls
    assert after_first > 0

    assert (await list_nfts(client, "alice.bit")).status_code == 200
    assert (await graphql(client, WALLET_QUERY, a="ALICE.bit"))["data"]["wallet"]
    assert sandbox.faults("dotbit").calls == after_first


async def test_a_resolver_outage_is_503_for_names_only_and_is_not_cached(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    dotbit = sandbox.faults("dotbit")
    dotbit.fail_next(503, times=50)

    by_name = await list_nfts(client, "alice.bit")
    assert by_name.status_code == 503
    assert by_name.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert "Retry-After" in by_name.headers
    body = await graphql(client, WALLET_QUERY, a="alice.bit")
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"

    calls = dotbit.calls
    by_address = await list_nfts(client, SMALL_WALLET)
    assert by_address.status_code == 200 and by_address.json()["assets"]
    assert dotbit.calls == calls, "a plain address never asks the resolver"

    dotbit.reset()
    assert (await list_nfts(client, "alice.bit")).status_code == 200  # the failure was not cached


def test_a_face_names_its_field_on_input_errors_only() -> None:
    with pytest.raises(NameNotFound) as unknown, input_field("address"):
        raise NameNotFound("nobody.bit is not registered or has expired")
    with pytest.raises(UpstreamUnavailable) as down, input_field("address"):
        raise UpstreamUnavailable("the dotbit resolver is unavailable")
    assert unknown.value.to_json()["error"] == {
        "code": "NAME_NOT_FOUND",
        "message": "nobody.bit is not registered or has expired",
        "field": "address",
    }
    assert "field" not in down.value.to_json()["error"]  # an outage is not the input's fault


# -- negative cache, character sets, lookalikes (issue 16) -----------------------------------


async def test_twenty_requests_for_an_unknown_name_cost_one_resolver_call(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    dotbit = sandbox.faults("dotbit")
    before = dotbit.calls
    concurrent = await asyncio.gather(*(list_nfts(client, "nobody-at-all.bit") for _ in range(10)))
    one_by_one = [await list_nfts(client, "nobody-at-all.bit") for _ in range(5)]
    body = [await graphql(client, WALLET_QUERY, a="Nobody-At-All.bit") for _ in range(5)]
    assert all(r.status_code == 404 for r in [*concurrent, *one_by_one])
    assert all(b["errors"][0]["extensions"]["code"] == "NAME_NOT_FOUND" for b in body)
    assert dotbit.calls - before <= 1


@pytest.mark.parametrize(
    "name",
    [
        "\u0430lice.bit",  # Cyrillic а
        "\uff41\uff4c\uff49\uff43\uff45.bit",  # full-width alice
        "al\u0131ce.bit",  # dotless ı
        "\u1d00lice.bit",  # small capital A
    ],
)
async def test_lookalike_names_are_invalid_on_both_faces_with_no_upstream_call(
    client: httpx.AsyncClient, sandbox: Sandbox, name: str
) -> None:
    before = upstream_calls(sandbox)
    rest = await list_nfts(client, name)
    body = await graphql(client, WALLET_QUERY, a=name)
    assert rest.status_code == 422 and rest.json()["error"]["code"] == "INVALID_NAME"
    assert body["errors"][0]["extensions"]["code"] == "INVALID_NAME"
    assert (
        "lookalike" in rest.json()["error"]["message"]
        or "character set" in (rest.json()["error"]["message"])
    )
    assert upstream_calls(sandbox) == before


@pytest.mark.parametrize(
    "name", ["🐙🌊🐙.bit", "สวัสดี.bit", "ภาษาไทย.bit", "한국어.bit", "中文.bit", "şeker.bit"]
)
async def test_names_in_the_indexers_character_sets_reach_the_resolver_on_both_faces(
    client: httpx.AsyncClient, sandbox: Sandbox, name: str
) -> None:
    before = sandbox.faults("dotbit").calls
    rest = await list_nfts(client, name)
    body = await graphql(client, WALLET_QUERY, a=name)
    # Valid names: the resolver is asked (these are not registered in the sandbox).
    assert rest.json()["error"]["code"] == "NAME_NOT_FOUND"
    assert body["errors"][0]["extensions"]["code"] == "NAME_NOT_FOUND"
    assert sandbox.faults("dotbit").calls > before
