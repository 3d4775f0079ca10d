"""The Next.ID adapter: persona mapping on vendor and quirk fixtures, the source against the
sandbox Proof Service emulator (exact matching, pagination), and the emulator's contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.errors import ProviderBadData, ProviderBadRequest, ProviderUnavailable
from providers.models import DIDType, LinkedAccount
from providers.nextid import PLATFORMS, NextIDSource
from providers.nextid.mapping import error_message, to_personas
from providers.sandbox.faults import Emulator
from providers.sandbox.identities import Identities, Persona, Proof, identities, persona_key
from providers.sandbox.nextid import nextid_emulator
from providers.sandbox.world import DID_WALLET, EMPTY_WALLET, SMALL_WALLET

VENDOR = Path(__file__).parents[1] / "fixtures" / "vendor" / "nextid"
OWN = Path(__file__).parents[1] / "fixtures" / "nextid"
BASE_URL = "http://proof-service.nextid.sandbox"


def load(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


# -- mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["proof_query.example.json", "proof_query.apib.example.json"])
def test_vendor_proof_query_gives_one_did_per_avatar(name: str) -> None:
    dids, next_page = to_personas(load(VENDOR, name), ("twitter", "my_twitter_screen_name"))
    assert next_page == 2
    first, second = dids
    assert first.type is DIDType.NEXTID and first.source == "nextid"
    assert first.identity.startswith("0x04c7cacde73af939")
    assert first.display_name == "my_twitter_screen_name"  # the only twitter proof, stale
    # Validity is per proof: a valid facebook proof does not vouch for the stale twitter one.
    assert first.valid is False
    assert first.links[0] == LinkedAccount("twitter", "my_twitter_screen_name", False, 1643099438)
    # No last_arweave_id / alias / activated_at on the second avatar: still mapped.
    assert second.identity == "0xANOTHER"
    assert second.display_name is None
    assert second.links == (LinkedAccount("ethereum", "0x114514......", True, 1643099438),)


def test_vendor_error_body_message() -> None:
    assert error_message(load(VENDOR, "proof_add.error_400.example.json")) == (
        "Tweet author is not the same as given identity."
    )


def test_quirks_timestamps_invalid_proofs_and_persona_key() -> None:
    queried = ("ethereum", "0x1111111111111111111111111111111111111111")
    dids, next_page = to_personas(load(OWN, "proof_query.quirks.json"), queried)
    assert next_page == 0
    first, second = dids  # the entry with no key at all is dropped
    assert first.identity == "0x02aa11"
    assert first.display_name == "fresh_handle"  # a valid handle beats a stale one
    assert first.links == (
        LinkedAccount("ethereum", "0xabcdef0000000000000000000000000000000001", True, None),
        LinkedAccount("twitter", "stale_handle", False, None),
        LinkedAccount("twitter", "fresh_handle", True, 1700100000),
    )
    assert second.identity == "0x03bb22"
    assert second.valid is False  # its proof of the queried wallet is invalid
    assert first.valid is None  # it holds no proof of the queried wallet at all


def test_each_proof_carries_its_own_validity() -> None:
    # A persona whose wallet proof is stale but whose twitter proof is fresh: the persona
    # is not "valid" for that wallet just because some proof is.
    persona = {
        "persona": "0x02cc33",
        "proofs": [
            {"platform": "ethereum", "identity": "0xAB", "is_valid": False},
            {"platform": "twitter", "identity": "fresh", "is_valid": True},
        ],
    }
    body = {"pagination": {"next": 0}, "ids": [persona]}

    (for_wallet,) = to_personas(body, ("ethereum", "0xab"))[0]
    (for_handle,) = to_personas(body, ("twitter", "FRESH"))[0]

    assert for_wallet.valid is False
    assert for_handle.valid is True
    assert [link.valid for link in for_wallet.links] == [False, True]


def test_empty_answer_and_error_bodies() -> None:
    assert to_personas(load(OWN, "proof_query.empty.json")) == ([], 0)
    with pytest.raises(ProviderBadData, match="Param missing"):
        to_personas(load(OWN, "error.param_missing.json"))


# -- source against the emulator ---------------------------------------------------------


def client_for(emulator: Emulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app))


@pytest.fixture
def emulator() -> Emulator:
    return nextid_emulator()


@pytest.fixture
async def source(emulator: Emulator) -> Any:
    async with client_for(emulator) as client:
        yield NextIDSource(client, base_url=BASE_URL)


async def test_did_wallet_has_both_personas(source: NextIDSource) -> None:
    dids = await source.fetch_dids(DID_WALLET)
    by_key = {did.identity: did for did in dids}
    assert set(by_key) == {persona_key("alice"), persona_key("alice-old")}
    alice = by_key[persona_key("alice")]
    assert alice.display_name == "alice_nft"
    assert alice.valid is True
    wallets = [link.identity for link in alice.links if link.platform == "ethereum"]
    assert wallets == [SMALL_WALLET, DID_WALLET]
    stale = by_key[persona_key("alice-old")]
    assert LinkedAccount("twitter", "alice_old", False, 1_700_000_000) in stale.links


async def test_exact_match_only(source: NextIDSource) -> None:
    # "0x1111" is a substring of SMALL_WALLET; an exact query must not match it.
    assert await source.fetch_dids(SMALL_WALLET[:6] + "0" * 36) == ()
    assert [did.identity for did in await source.fetch_dids(SMALL_WALLET)] == [persona_key("alice")]


async def test_checksummed_address_is_lower_cased(source: NextIDSource) -> None:
    dids = await source.fetch_dids("0x" + "4" * 39 + "4")
    assert len(dids) == 2
    assert await source.fetch_dids(EMPTY_WALLET) == ()


async def test_twitter_handle_lookup(source: NextIDSource) -> None:
    (did,) = await source.fetch_persona("Alice_NFT", "twitter")
    assert did.identity == persona_key("alice")


async def test_identity_with_a_comma_is_refused(source: NextIDSource, emulator: Emulator) -> None:
    with pytest.raises(ValueError):
        await source.fetch_persona("alice_nft,bob", "twitter")
    assert emulator.faults.calls == 0


def crowded_world(count: int) -> Identities:
    """``count`` personas all proving DID_WALLET, each with two proofs."""
    personas = tuple(
        Persona(
            persona_key(f"crowd-{i}"),
            proofs=(
                Proof("ethereum", DID_WALLET, 1_700_000_000 + i, 1_700_100_000),
                Proof("twitter", f"crowd_{i}", 1_700_000_000 + i, 1_700_100_000),
            ),
        )
        for i in range(count)
    )
    return Identities(personas=personas)


async def test_pagination_is_followed_to_the_end() -> None:
    emulator = nextid_emulator(crowded_world(95))  # 95 rows: pages of 40, 40, 15
    async with client_for(emulator) as client:
        dids = await NextIDSource(client, base_url=BASE_URL).fetch_dids(DID_WALLET)
    assert len({did.identity for did in dids}) == len(dids) == 95
    assert emulator.faults.calls == 3


async def test_pagination_stops_at_the_page_cap() -> None:
    emulator = nextid_emulator(crowded_world(1_000))  # 25 pages
    async with client_for(emulator) as client:
        dids = await NextIDSource(client, base_url=BASE_URL).fetch_dids(DID_WALLET)
    assert emulator.faults.calls == 10
    assert len(dids) == 400


async def test_upstream_errors_are_translated(source: NextIDSource, emulator: Emulator) -> None:
    emulator.faults.fail_next(400, body=b'{"message":"Param error"}')
    with pytest.raises(ProviderBadRequest, match="Param error"):
        await source.fetch_dids(DID_WALLET)
    emulator.faults.fail_next(500, body=b'{"message":"db down"}')
    with pytest.raises(ProviderUnavailable):
        await source.fetch_dids(DID_WALLET)


# -- the emulator's own wire contract ----------------------------------------------------


async def get(emulator: Emulator, path: str, **params: str) -> httpx.Response:
    async with client_for(emulator) as client:
        return await client.get(BASE_URL + path, params=params)


async def test_emulator_requires_identity(emulator: Emulator) -> None:
    response = await get(emulator, "/v1/proof", platform="ethereum")
    assert response.status_code == 400
    assert response.json() == {"message": "Param missing"}


async def test_emulator_without_exact_does_a_substring_match(emulator: Emulator) -> None:
    # alice_nft, alice.bit (persona "alice") and alice_old (persona "alice-old"): 3 rows.
    body = (await get(emulator, "/v1/proof", identity="ALICE")).json()
    keys = {item["persona"] for item in body["ids"]}
    assert keys == {persona_key("alice"), persona_key("alice-old")}
    assert body["pagination"] == {"total": 3, "per": 40, "current": 1, "next": 0}
    exact = (await get(emulator, "/v1/proof", identity="ALICE", exact="true")).json()
    assert exact["ids"] == []


async def test_emulator_comma_list_platform_filter_and_string_timestamps(
    emulator: Emulator,
) -> None:
    body = (
        await get(
            emulator, "/v1/proof", identity="alice_nft,alice_old", platform="twitter", exact="true"
        )
    ).json()
    assert len(body["ids"]) == 2
    proof = body["ids"][0]["proofs"][0]
    assert isinstance(proof["created_at"], str) and proof["created_at"].isdigit()
    assert body["ids"][0]["persona"] == body["ids"][0]["avatar"]


async def test_emulator_proof_exists_and_healthz(emulator: Emulator) -> None:
    found = await get(
        emulator,
        "/v1/proof/exists",
        platform="twitter",
        identity="alice_old",
        public_key=persona_key("alice-old"),
    )
    assert found.status_code == 200
    assert found.json()["invalid_reason"] == "tweet not found"
    missing = await get(
        emulator,
        "/v1/proof/exists",
        platform="twitter",
        identity="alice_nft",
        public_key=persona_key("alice-old"),
    )
    assert missing.status_code == 404
    assert "message" in missing.json()
    health = (await get(emulator, "/healthz")).json()
    assert health["hello"] == "proof service"


def test_sandbox_personas_tie_the_wallets_together() -> None:
    data = identities()
    alice = data.persona(persona_key("alice"))
    assert alice is not None
    assert {p.identity for p in alice.proofs if p.platform == "ethereum"} == {
        SMALL_WALLET,
        DID_WALLET,
    }


async def test_the_adapter_accepts_exactly_the_platforms_the_proof_service_lists(
    emulator: Emulator,
) -> None:
    # The emulator's list is written from the vendor's platform.go, not from the adapter.
    async with client_for(emulator) as client:
        listed = (await client.get(f"{BASE_URL}/healthz")).json()["platforms"]
    assert list(PLATFORMS) == listed
