"""The .bit adapter: envelope and data mapping on vendor and quirk fixtures, the source
against the sandbox indexer emulator, and .bit name validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.dotbit import DotBitSource, validate_bit_name
from providers.dotbit.mapping import (
    to_account_info,
    to_account_list,
    to_record_addresses,
    to_reverse_record,
    unwrap,
)
from providers.errors import (
    ProviderBadData,
    ProviderBadRequest,
    ProviderLocked,
    ProviderNotFound,
    ProviderUnavailable,
)
from providers.models import DIDType
from providers.sandbox.dotbit import dotbit_emulator
from providers.sandbox.faults import Emulator
from providers.sandbox.identities import GONE_WALLET, LOCKED_WALLET
from providers.sandbox.world import DID_WALLET, EMPTY_WALLET, OTHER_HOLDER, SMALL_WALLET

VENDOR = Path(__file__).parents[1] / "fixtures" / "vendor" / "dotbit"
OWN = Path(__file__).parents[1] / "fixtures" / "dotbit"
BASE_URL = "http://indexer.dotbit.sandbox"


def load(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


# -- mapping: vendor fixtures ------------------------------------------------------------


def test_vendor_empty_reverse_record_means_no_primary_name() -> None:
    assert to_reverse_record(unwrap(load(VENDOR, "das_reverseRecord.example.json"))) is None


def test_vendor_account_list_skips_the_blank_account() -> None:
    assert to_account_list(unwrap(load(VENDOR, "das_accountList.example.json"))) == []


def test_vendor_account_info_gives_owner_manager_and_expiry() -> None:
    info = to_account_info(unwrap(load(VENDOR, "das_accountInfo.example.json")))
    assert info.account == "phone.bit"
    assert info.owner_key == "0x59724739940777947c56c4f2f2c9211cd5130fef"
    assert info.manager_key == "0x59724739940777947c56c4f2f2c9211cd5130fef"
    assert info.expired_at == 1658491542


@pytest.mark.parametrize(
    "name", ["das_accountRecords.example.json", "das_accountRecordsV2.example.json"]
)
def test_vendor_records_yield_the_lower_cased_evm_address_only(name: str) -> None:
    data = unwrap(load(VENDOR, name))
    assert to_record_addresses(data) == ("0x59724739940777947c56c4f2f2c9211cd5130fef",)


def test_vendor_account_not_exist_is_not_found() -> None:
    with pytest.raises(ProviderNotFound, match="20007"):
        unwrap(load(VENDOR, "error.account_not_exist.example.json"))


# -- mapping: quirk fixtures -------------------------------------------------------------


def test_legacy_errno_envelope_is_understood() -> None:
    with pytest.raises(ProviderNotFound) as caught:
        unwrap(load(OWN, "legacy_errno_not_found.json"))
    assert caught.value.provider == "dotbit"
    assert to_reverse_record(unwrap(load(OWN, "legacy_errno_reverse_record.json"))) == "legacy.bit"


def test_json_rpc_envelope_is_unwrapped() -> None:
    assert to_reverse_record(unwrap(load(OWN, "jsonrpc_reverse_record_empty.json"))) is None


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("jsonrpc_account_info_not_found.json", ProviderNotFound),
        ("jsonrpc_params_invalid.json", ProviderBadRequest),
        ("jsonrpc_internal_error.json", ProviderUnavailable),
    ],
)
def test_error_codes_map_to_the_error_tree(name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        unwrap(load(OWN, name))


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (30003, ProviderNotFound),
        (20007, ProviderNotFound),
        (20006, ProviderBadRequest),
        (10001, ProviderBadRequest),
        (500, ProviderUnavailable),
    ],
)
def test_error_code_table(code: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        unwrap({"err_no": code, "err_msg": "x", "data": None})


@pytest.mark.parametrize("body", [None, [], {"data": {}}, {"result": "oops"}])
def test_a_body_without_envelope_is_bad_data(body: Any) -> None:
    with pytest.raises(ProviderBadData):
        unwrap(body)


def test_account_list_tolerates_blank_and_string_fields() -> None:
    accounts = to_account_list(unwrap(load(OWN, "jsonrpc_account_list_mixed.json")))
    assert accounts == [
        ("alice.bit", 1729340687),
        ("sub.alice.bit", 1733000000),
        ("no-expiry.bit", None),
    ]


def test_records_keep_evm_keys_dedupe_and_keep_order() -> None:
    addresses = to_record_addresses(unwrap(load(OWN, "records_mixed_keys.json")))
    assert addresses == (
        "0xabcdef0000000000000000000000000000000001",
        "0x2222222222222222222222222222222222222222",
        "0x3333333333333333333333333333333333333333",
    )


# -- name validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("alice.bit", "alice.bit"),
        ("Alice.BIT", "alice.bit"),
        ("alice-dao.bit", "alice-dao.bit"),
        ("007.bit", "007.bit"),
        ("nft.alice.bit", "nft.alice.bit"),
        ("中文.bit", "中文.bit"),
        ("cafe\u0301.bit", "café.bit"),  # NFC-normalised
        ("a" * 60 + ".bit", "a" * 60 + ".bit"),
        ("🦄.bit", "🦄.bit"),  # emoji: a .bit character set of its own
        ("🐙🌊🐙.bit", "🐙🌊🐙.bit"),
        ("สวัสดี.bit", "สวัสดี.bit"),  # Thai, combining vowels included
        ("한국어.bit", "한국어.bit"),
        ("東京タワー.bit", "東京タワー.bit"),  # kanji and katakana together: Japanese
        ("привет.bit", "привет.bit"),
        ("şeker.bit", "şeker.bit"),
        ("việtnam.bit", "việtnam.bit"),
        ("007🐙.bit", "007🐙.bit"),  # digits and emoji go with any script
    ],
)
def test_validate_bit_name_accepts(name: str, canonical: str) -> None:
    assert validate_bit_name(name) == canonical


@pytest.mark.parametrize(
    "name",
    [
        "alice",
        "alice.eth",
        ".bit",
        "alice..bit",
        "-alice.bit",
        "alice-.bit",
        "al ice.bit",
        " alice.bit",
        "alice\n.bit",
        "al\x00ice.bit",
        "al/ice.bit",
        "al%2fice.bit",
        "al'ice.bit",
        'al"ice.bit',
        "b#alice.bit",
        "al_ice.bit",
        "a" * 61 + ".bit",
        "\u0430lice.bit",  # Cyrillic а among Latin letters
        "ａｌｉｃｅ.bit",  # full-width letters: a compatibility form
        "αβγ.bit",  # Greek: in no .bit character set
        "abc한국.bit",  # two scripts in one label
    ],
)
def test_validate_bit_name_rejects(name: str) -> None:
    with pytest.raises(ValueError, match=r"\.bit name"):
        validate_bit_name(name)


# -- source against the emulator ---------------------------------------------------------


@pytest.fixture
def emulator() -> Emulator:
    return dotbit_emulator()


@pytest.fixture
async def source(emulator: Emulator) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app)) as client:
        yield DotBitSource(client, base_url=BASE_URL)


async def test_did_wallet_has_several_names_and_one_primary(source: DotBitSource) -> None:
    dids = await source.fetch_dids(DID_WALLET)
    by_name = {did.identity: did for did in dids}
    assert set(by_name) == {"alice.bit", "alice-dao.bit", "alice-art.bit"}
    assert [did.identity for did in dids if did.is_primary] == ["alice.bit"]
    assert all(did.type is DIDType.DOTBIT and did.source == "dotbit" for did in dids)
    assert all(did.valid for did in dids)
    alice = by_name["alice.bit"]
    assert [link.identity for link in alice.links] == [SMALL_WALLET, DID_WALLET]
    assert by_name["alice-art.bit"].links == ()


async def test_reverse_record_without_ownership_still_shows_the_primary_name(
    source: DotBitSource,
) -> None:
    dids = await source.fetch_dids(SMALL_WALLET)
    assert [(did.identity, did.is_primary) for did in dids] == [("alice.bit", True)]


async def test_an_expired_name_is_listed_as_invalid(source: DotBitSource) -> None:
    (did,) = await source.fetch_dids(OTHER_HOLDER)
    assert did.identity == "expired.bit"
    assert did.valid is False
    assert did.expires_at is not None


async def test_wallet_without_names_has_no_dids(source: DotBitSource) -> None:
    assert await source.fetch_dids(EMPTY_WALLET) == ()


class RecordsDownTransport(httpx.AsyncBaseTransport):
    """Forwards to the emulator, but every records call gets an internal-error envelope."""

    def __init__(self, emulator: Emulator) -> None:
        self._inner = httpx.ASGITransport(app=emulator.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("method") == "das_accountRecordsV2":
            result = {"err_no": 10002, "err_msg": "db error", "data": None}
            return httpx.Response(200, json={"id": body["id"], "jsonrpc": "2.0", "result": result})
        return await self._inner.handle_async_request(request)


async def test_records_failure_leaves_the_account_without_links(emulator: Emulator) -> None:
    async with httpx.AsyncClient(transport=RecordsDownTransport(emulator)) as client:
        dids = await DotBitSource(client, base_url=BASE_URL).fetch_dids(DID_WALLET)
    assert {did.identity for did in dids} == {"alice.bit", "alice-dao.bit", "alice-art.bit"}
    assert all(did.links == () for did in dids)


async def test_records_failure_fails_resolve(emulator: Emulator) -> None:
    # Resolving to a partial set of wallets would silently show the wrong NFTs.
    async with httpx.AsyncClient(transport=RecordsDownTransport(emulator)) as client:
        with pytest.raises(ProviderUnavailable):
            await DotBitSource(client, base_url=BASE_URL).resolve("alice.bit")


async def test_alice_bit_resolves_to_two_wallets(source: DotBitSource) -> None:
    assert await source.resolve("Alice.bit") == (SMALL_WALLET, DID_WALLET)


async def test_name_without_address_records_resolves_to_its_owner(source: DotBitSource) -> None:
    assert await source.resolve("alice-art.bit") == (DID_WALLET,)


async def test_expired_name_is_not_found(source: DotBitSource) -> None:
    with pytest.raises(ProviderNotFound, match="expired"):
        await source.resolve("expired.bit")


async def test_unknown_name_is_not_found(source: DotBitSource) -> None:
    with pytest.raises(ProviderNotFound):
        await source.resolve("nobody-here.bit")


async def test_malformed_name_is_refused_before_any_call(
    source: DotBitSource, emulator: Emulator
) -> None:
    with pytest.raises(ValueError):
        await source.resolve("al/ice.bit")
    assert emulator.faults.calls == 0


def test_handles_only_bit_names(source: DotBitSource) -> None:
    assert source.handles("alice.bit")
    assert source.handles("Alice.BIT")
    assert not source.handles("alice.eth")
    assert not source.handles("0x" + "1" * 40)


async def test_legacy_envelope_mode_is_understood() -> None:
    emulator = dotbit_emulator(legacy_envelope=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app)) as client:
        source = DotBitSource(client, base_url=BASE_URL)
        assert await source.resolve("alice.bit") == (SMALL_WALLET, DID_WALLET)
        with pytest.raises(ProviderNotFound):
            await source.resolve("nobody-here.bit")


async def test_upstream_outage_is_unavailable(source: DotBitSource, emulator: Emulator) -> None:
    emulator.faults.fail_next(503, times=5)
    with pytest.raises(ProviderUnavailable):
        await source.resolve("alice.bit")


async def test_a_200_that_is_not_json_is_bad_data(source: DotBitSource, emulator: Emulator) -> None:
    emulator.faults.body_override = b"<html>maintenance</html>"
    with pytest.raises(ProviderBadData):
        await source.resolve("alice.bit")


# -- the emulator's own wire contract ----------------------------------------------------


async def rpc(emulator: Emulator, body: Any, path: str = "/") -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app)) as client:
        response = await client.post(BASE_URL + path, json=body)
    assert response.status_code == 200  # the indexer always answers 200
    return response.json()


async def test_emulator_rejects_string_ids_and_bad_params(emulator: Emulator) -> None:
    params = [{"account": "alice.bit"}]
    string_id = await rpc(
        emulator, {"jsonrpc": "2.0", "id": "1", "method": "das_accountInfo", "params": params}
    )
    assert string_id["result"]["err_no"] == 10000
    two_params = await rpc(
        emulator, {"jsonrpc": "2.0", "id": 1, "method": "das_accountInfo", "params": params * 2}
    )
    assert two_params["result"]["err_no"] == 10000
    unknown = await rpc(
        emulator, {"jsonrpc": "2.0", "id": 7, "method": "das_nope", "params": params}
    )
    assert unknown == {
        "id": 7,
        "jsonrpc": "2.0",
        "result": {"err_no": 10001, "err_msg": "method [das_nope] not exits", "data": None},
    }


async def test_emulator_not_found_codes_differ_by_method(emulator: Emulator) -> None:
    params = [{"account": "nobody-here.bit"}]
    info = await rpc(
        emulator, {"jsonrpc": "2.0", "id": 1, "method": "das_accountInfo", "params": params}
    )
    records = await rpc(
        emulator, {"jsonrpc": "2.0", "id": 2, "method": "das_accountRecords", "params": params}
    )
    assert info["result"]["err_no"] == 30003
    assert records["result"]["err_no"] == 20007


async def test_emulator_rest_aliases_use_the_bare_envelope(emulator: Emulator) -> None:
    key = {"type": "blockchain", "key_info": {"coin_type": "60", "key": DID_WALLET}}
    reverse = await rpc(emulator, key, "/v1/reverse/record")
    assert reverse == {
        "err_no": 0,
        "err_msg": "",
        "data": {"account": "alice.bit", "account_alias": "alice.bit", "display_name": "alice.bit"},
    }
    v1 = await rpc(emulator, {"account": "alice.bit"}, "/v1/account/records")
    v2 = await rpc(emulator, {"account": "alice.bit"}, "/v2/account/records")
    assert "address.eth" in [r["key"] for r in v1["data"]["records"]]
    assert "address.60" in [r["key"] for r in v2["data"]["records"]]
    empty = await rpc(
        emulator, {**key, "key_info": {"coin_type": "60", "key": "garbage"}}, "/v1/reverse/record"
    )
    assert empty["err_no"] == 0 and empty["data"]["account"] == ""


# -- the indexer's real reverse-record answers ---------------------------------------------


def key_of(address: str) -> dict[str, Any]:
    return {"type": "blockchain", "key_info": {"coin_type": "60", "key": address}}


@pytest.mark.parametrize(("wallet", "code"), [(GONE_WALLET, 30003), (LOCKED_WALLET, 20008)])
async def test_json_rpc_reverse_record_runs_the_old_handler(
    emulator: Emulator, wallet: str, code: int
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "das_reverseRecord", "params": [key_of(wallet)]}
    assert (await rpc(emulator, body))["result"]["err_no"] == code
    # The REST route runs the current handler: "no reverse record", not an error.
    rest = await rpc(emulator, key_of(wallet), "/v1/reverse/record")
    assert (rest["err_no"], rest["data"]["account"]) == (0, "")


async def test_a_gone_reverse_record_still_lists_every_name(source: DotBitSource) -> None:
    dids = await source.fetch_dids(GONE_WALLET)

    assert {did.identity for did in dids} == {"🦊🦊🦊.bit", "ภูเขา.bit"}
    assert not any(did.is_primary for did in dids)  # no primary, not an error


async def test_a_locked_primary_is_no_primary_and_the_other_names_stay(
    source: DotBitSource,
) -> None:
    dids = await source.fetch_dids(LOCKED_WALLET)

    assert {did.identity for did in dids} == {"locked.bit", "still-here.bit"}
    assert not any(did.is_primary for did in dids)
    locked = next(did for did in dids if did.identity == "locked.bit")
    assert locked.links == ()  # its records answer 20008: unreadable, not fatal


async def test_20008_is_locked_not_an_outage() -> None:
    body = {"err_no": 20008, "err_msg": "account on lock", "data": None}
    with pytest.raises(ProviderLocked) as caught:
        unwrap(body)
    assert caught.value.kind == "locked"
    assert not isinstance(caught.value, ProviderUnavailable)


async def test_a_locked_name_resolves_to_its_owner(source: DotBitSource) -> None:
    assert await source.resolve("locked.bit") == (LOCKED_WALLET,)


class ReverseDownTransport(httpx.AsyncBaseTransport):
    """Forwards to the emulator, but the reverse record fails at the transport."""

    def __init__(self, emulator: Emulator) -> None:
        self._inner = httpx.ASGITransport(app=emulator.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/reverse/record"):
            return httpx.Response(502, text="bad gateway")
        return await self._inner.handle_async_request(request)


async def test_a_failed_reverse_lookup_never_costs_the_other_names(emulator: Emulator) -> None:
    async with httpx.AsyncClient(transport=ReverseDownTransport(emulator)) as client:
        dids = await DotBitSource(client, base_url=BASE_URL).fetch_dids(DID_WALLET)
    assert {did.identity for did in dids} == {"alice.bit", "alice-dao.bit", "alice-art.bit"}
    assert not any(did.is_primary for did in dids)
