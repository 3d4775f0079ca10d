"""A wallet's DIDs: three sources in one answer, partial failure as data, caching, both faces."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.cache.codec import decode_dids, encode_dids
from gateway.nfts.pages import ProviderReport, ProviderStatus, combine_reports
from gateway.settings import Settings
from gateway.validation import checksum
from providers.models import DID, DIDType, LinkedAccount
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.identities import FAR_FUTURE, GONE_WALLET, LOCKED_WALLET, persona_key
from providers.sandbox.nametag import nametag_emulator
from providers.sandbox.world import DID_WALLET, EMPTY_WALLET, SMALL_WALLET, WHALE_WALLET
from tests.conftest import gateway_client, sandbox_settings

DID_FIELDS = {
    "type",
    "identity",
    "display_name",
    "is_primary",
    "valid",
    "expires_at",
    "links",
    "source",
}
LINK_FIELDS = {"platform", "identity", "valid", "checked_at"}

DIDS_QUERY = """query ($a: String!) { wallet(address: $a) { dids {
  total
  dids { type identity displayName isPrimary valid expiresAt source
         links { platform identity valid checkedAt } }
  providers { provider status errorKind }
} } }"""


async def list_dids(client: httpx.AsyncClient, wallet: str) -> httpx.Response:
    return await client.post("/users/u1/dids", json={"wallet_address": wallet})


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_identity(dids: list[dict[str, Any]], identity: str) -> dict[str, Any]:
    return next(did for did in dids if did["identity"] == identity)


# -- one answer, three sources ---------------------------------------------------------------


async def test_the_three_sources_answer_together_each_did_with_its_source(
    client: httpx.AsyncClient,
) -> None:
    response = await list_dids(client, DID_WALLET)

    assert response.status_code == 200
    body = response.json()
    assert response.headers["X-NFTGW-Providers"] == "dotbit=ok, nextid=ok, nametag=ok"
    assert [p["provider"] for p in body["providers"]] == ["dotbit", "nextid", "nametag"]
    assert body["total"] == len(body["dids"])
    assert {did["type"] for did in body["dids"]} == {"dotbit", "nextid", "nametag"}
    for did in body["dids"]:
        assert set(did) == DID_FIELDS
        assert did["source"] == did["type"]
        for link in did["links"]:
            assert set(link) == LINK_FIELDS


async def test_dotbit_names_have_the_primary_marked_expiry_and_record_addresses(
    client: httpx.AsyncClient,
) -> None:
    dids = (await list_dids(client, DID_WALLET)).json()["dids"]
    names = [did for did in dids if did["type"] == "dotbit"]

    assert [d["identity"] for d in names if d["is_primary"]] == ["alice.bit"]
    assert {d["identity"] for d in names} == {"alice.bit", "alice-dao.bit", "alice-art.bit"}
    alice = by_identity(dids, "alice.bit")
    assert alice["expires_at"] == FAR_FUTURE and alice["valid"] is True
    assert [link["identity"] for link in alice["links"]] == [
        checksum(SMALL_WALLET),
        checksum(DID_WALLET),
    ]


async def test_personas_carry_their_proofs_including_a_stale_one(
    client: httpx.AsyncClient,
) -> None:
    dids = (await list_dids(client, DID_WALLET)).json()["dids"]
    old = by_identity(dids, persona_key("alice-old"))

    stale = next(link for link in old["links"] if link["platform"] == "twitter")
    assert stale == {
        "platform": "twitter",
        "identity": "alice_old",
        "valid": False,
        "checked_at": 1_700_000_000,
    }
    alice = by_identity(dids, persona_key("alice"))
    assert alice["display_name"] == "alice_nft"
    assert {(link["platform"], link["valid"]) for link in alice["links"]} >= {
        ("ethereum", True),
        ("twitter", True),
    }


async def test_name_tags_for_a_well_known_address(client: httpx.AsyncClient) -> None:
    body = (await list_dids(client, WHALE_WALLET)).json()
    assert [(d["type"], d["identity"]) for d in body["dids"]] == [("nametag", "Sandbox Whale 1")]


async def test_a_wallet_without_dids_is_an_empty_answer(client: httpx.AsyncClient) -> None:
    body = (await list_dids(client, EMPTY_WALLET)).json()
    assert body["total"] == 0 and body["dids"] == []
    assert {p["status"] for p in body["providers"]} == {"ok"}


# -- partial failure -------------------------------------------------------------------------


async def test_one_failing_source_leaves_the_others_and_says_which(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults("nextid").fail_next(500, times=50)

    response = await list_dids(client, DID_WALLET)

    assert response.status_code == 200
    body = response.json()
    assert {did["type"] for did in body["dids"]} == {"dotbit", "nametag"}
    nextid = next(p for p in body["providers"] if p["provider"] == "nextid")
    assert nextid["status"] == "failed" and nextid["error"]["kind"] == "unavailable"
    assert response.headers["X-NFTGW-Providers"].startswith(
        "dotbit=ok, nextid=failed:unavailable, nametag=ok"
    )


async def test_a_slow_source_costs_its_own_deadline_only(sandbox: Sandbox) -> None:
    sandbox.faults("nametag").latency = 2.0
    settings = sandbox_settings(provider_deadline=0.2)
    async with gateway_client(sandbox, settings) as client:
        body = (await list_dids(client, DID_WALLET)).json()

    nametag = next(p for p in body["providers"] if p["provider"] == "nametag")
    assert nametag["status"] == "failed" and nametag["error"]["kind"] == "timeout"
    assert {did["type"] for did in body["dids"]} == {"dotbit", "nextid"}


async def test_every_source_failing_is_a_503(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    for name in ("dotbit", "nextid", "nametag"):
        sandbox.faults(name).body_override = b"<html>down</html>"

    response = await list_dids(client, DID_WALLET)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"


async def test_answers_are_cached_and_failures_are_not(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    nextid = sandbox.faults("nextid")
    nextid.fail_next(500, times=50)
    await list_dids(client, DID_WALLET)
    nextid.reset()

    healed = (await list_dids(client, DID_WALLET)).json()  # nextid is asked again
    assert {p["status"] for p in healed["providers"]} == {"ok"}
    calls = {name: e.faults.calls for name, e in sandbox.emulators.items()}

    again = (await list_dids(client, DID_WALLET)).json()
    assert again == healed
    assert {name: e.faults.calls for name, e in sandbox.emulators.items()} == calls


def test_cached_dids_round_trip_through_json() -> None:
    dids = (
        DID(
            DIDType.DOTBIT,
            "alice.bit",
            "dotbit",
            display_name="alice.bit",
            is_primary=True,
            valid=True,
            expires_at=FAR_FUTURE,
            links=(LinkedAccount("ethereum", SMALL_WALLET),),
        ),
        DID(DIDType.NEXTID, "0x02ab", "nextid", links=(LinkedAccount("twitter", "a", False, 5),)),
    )
    assert decode_dids(encode_dids(dids)) == dids


def test_reports_from_several_wallets_combine_per_provider() -> None:
    ok, failed = ProviderStatus.OK, ProviderStatus.FAILED
    combined = combine_reports(
        [
            (ProviderReport("dotbit", ok), ProviderReport("nextid", ok)),
            (ProviderReport("dotbit", failed, "timeout", "slow"), ProviderReport("nextid", ok)),
        ]
    )
    assert [(r.provider, r.status, r.error_kind) for r in combined] == [
        ("dotbit", "partial", "timeout"),
        ("nextid", "ok", None),
    ]


# -- names and faces -------------------------------------------------------------------------


async def test_a_name_lists_the_dids_of_every_address_it_points_to_each_once(
    client: httpx.AsyncClient,
) -> None:
    body = (await list_dids(client, "alice.bit")).json()
    own = {
        (did["type"], did["identity"])
        for wallet in (SMALL_WALLET, DID_WALLET)
        for did in (await list_dids(client, wallet)).json()["dids"]
    }

    assert body["name"] == {
        "name": "alice.bit",
        "addresses": [checksum(SMALL_WALLET), checksum(DID_WALLET)],
    }
    keys = [(did["type"], did["identity"]) for did in body["dids"]]
    assert len(keys) == len(set(keys)) == body["total"]
    assert set(keys) == own
    # SMALL_WALLET only has alice.bit as its reverse record; DID_WALLET's view adds the expiry.
    assert by_identity(body["dids"], "alice.bit")["expires_at"] == FAR_FUTURE


async def test_graphql_wallet_dids_match_rest(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    rest = (await list_dids(client, DID_WALLET)).json()
    sandbox.faults("nametag").fail_next(500, times=50)  # cached: GraphQL sees the same answer
    body = await graphql(client, DIDS_QUERY, a=DID_WALLET)

    dids = body["data"]["wallet"]["dids"]
    assert dids["total"] == rest["total"]
    assert [(d["type"].lower(), d["identity"], d["source"]) for d in dids["dids"]] == [
        (d["type"], d["identity"], d["source"]) for d in rest["dids"]
    ]
    alice = by_identity(dids["dids"], "alice.bit")
    assert alice["isPrimary"] is True
    assert alice["expiresAt"] == "2100-01-01T00:00:00+00:00"  # beyond GraphQL's 32-bit Int


async def test_graphql_reports_a_failing_source(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults("dotbit").body_override = b"not json"
    body = await graphql(client, DIDS_QUERY, a=DID_WALLET)

    providers = body["data"]["wallet"]["dids"]["providers"]
    assert {p["provider"]: p["status"] for p in providers} == {
        "dotbit": "failed",
        "nextid": "ok",
        "nametag": "ok",
    }
    assert {d["type"] for d in body["data"]["wallet"]["dids"]["dids"]} == {"NEXTID", "NAMETAG"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "MISSING_FIELD"),
        ({"wallet_address": "0x123"}, "INVALID_ADDRESS"),
        ({"wallet_address": 7}, "INVALID_ADDRESS"),
    ],
)
async def test_bad_input_is_a_422_with_no_upstream_call(
    client: httpx.AsyncClient, sandbox: Sandbox, body: dict[str, Any], code: str
) -> None:
    response = await client.post("/users/u1/dids", json=body)
    assert response.status_code == 422 and response.json()["error"]["code"] == code
    assert {e.faults.calls for e in sandbox.emulators.values()} == {0}


async def test_without_a_nametag_key_nametag_is_not_asked(sandbox: Sandbox) -> None:
    settings = Settings(
        sandbox="off",
        opensea_api_key="k",
        opensea_base_url="http://opensea.sandbox",
        dotbit_base_url="http://dotbit.sandbox",
        nextid_base_url="http://nextid.sandbox",
    )
    async with gateway_client(sandbox, settings) as client:
        body = (await list_dids(client, DID_WALLET)).json()

    assert [p["provider"] for p in body["providers"]] == ["dotbit", "nextid"]
    assert sandbox.faults("nametag").calls == 0


def test_sandbox_mode_routes_every_did_source_to_its_emulator() -> None:
    upstream = sandbox_settings(nametag_api_key=None).upstreams()
    assert upstream.dotbit_base_url == "http://dotbit.sandbox"
    assert upstream.nextid_base_url == "http://nextid.sandbox"
    assert upstream.nametag_base_url == "http://nametag.sandbox"
    assert upstream.nametag_api_key is not None


# -- the DID sources as real indexers answer (issue 12) -----------------------------------------


async def test_a_key_without_the_name_tag_plan_is_not_entitled_and_asked_once() -> None:
    sandbox = build_sandbox()
    # The sandbox's key has no Pro Plus plan here: Etherscan answers NOTOK "...API Pro...".
    sandbox.emulators["nametag"] = nametag_emulator(pro_plus_keys={"a-pro-plus-key"})
    async with gateway_client(sandbox, sandbox_settings()) as client:
        first = await list_dids(client, DID_WALLET)
        second = await list_dids(client, WHALE_WALLET)
        third = await list_dids(client, SMALL_WALLET)

    for response in (first, second, third):
        assert response.status_code == 200
        header = response.headers["X-NFTGW-Providers"]
        assert "dotbit=ok" in header and "nextid=ok" in header
        assert "nametag=failed:not_entitled" in header
    assert {d["type"] for d in first.json()["dids"]} == {"dotbit", "nextid"}
    assert sandbox.faults("nametag").calls == 1  # remembered: one call, not one per query


async def test_a_wallet_whose_reverse_record_errors_still_lists_its_names(
    client: httpx.AsyncClient,
) -> None:
    for wallet in (GONE_WALLET, LOCKED_WALLET):
        response = await list_dids(client, wallet)
        assert response.status_code == 200
        assert response.headers["X-NFTGW-Providers"].startswith("dotbit=ok")
        names = [d for d in response.json()["dids"] if d["type"] == "dotbit"]
        assert len(names) == 2 and not any(d["is_primary"] for d in names)
