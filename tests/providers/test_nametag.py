"""The NameTag adapter (Etherscan public name tags): mapping on vendor and quirk fixtures, the
source against the sandbox Etherscan emulator, and the API key never leaking into errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotEntitled,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.models import DIDType, LinkedAccount
from providers.nametag import EtherscanNameTagSource
from providers.nametag.mapping import to_name_tags
from providers.sandbox.faults import Emulator
from providers.sandbox.nametag import nametag_emulator
from providers.sandbox.world import DID_WALLET, EMPTY_WALLET, WHALE_WALLET

VENDOR = Path(__file__).parents[1] / "fixtures" / "vendor" / "etherscan"
OWN = Path(__file__).parents[1] / "fixtures" / "etherscan"
BASE_URL = "http://api.etherscan.sandbox"
KEY = "sekrit-etherscan-key-123"


def load(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


# -- mapping -----------------------------------------------------------------------------


def test_vendor_tag_becomes_a_nametag_did() -> None:
    (did,) = to_name_tags(load(VENDOR, "getaddresstag.example.json"))
    assert did.type is DIDType.NAMETAG and did.source == "nametag"
    assert did.identity == did.display_name == "Coinbase 10"
    assert did.valid is True and did.is_primary is False
    assert did.links == (LinkedAccount("ethereum", "0xa9d1e08c7793af67e9d92fe308d5697fb81d3e43"),)


def test_vendor_no_records_is_empty() -> None:
    assert to_name_tags(load(VENDOR, "getaddresstag.error_no_records.example.json")) == ()


def test_vendor_rate_limit_text_is_a_rate_limit_not_an_auth_error() -> None:
    # The text mentions "API Key" too; it must still read as a rate limit.
    with pytest.raises(ProviderRateLimited):
        to_name_tags(load(VENDOR, "error.notok_rate_limit.example.json"))


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("error.invalid_api_key.json", ProviderAuthError),
        ("error.not_pro.json", ProviderNotEntitled),
        ("error.missing_chainid.json", ProviderUnavailable),
    ],
)
def test_status_zero_errors(name: str, error: type[ProviderError]) -> None:
    with pytest.raises(error) as caught:
        to_name_tags(load(OWN, name))
    assert caught.value.provider == "nametag"


def test_rows_are_lower_cased_blank_tags_dropped_and_address_falls_back() -> None:
    dids = to_name_tags(load(OWN, "getaddresstag.multi.json"), DID_WALLET)
    assert [(d.identity, d.links[0].identity) for d in dids] == [
        ("Coinbase 10", "0xa9d1e08c7793af67e9d92fe308d5697fb81d3e43"),
        ("No Address Row", DID_WALLET),
    ]


def test_body_without_status_is_bad_data() -> None:
    with pytest.raises(ProviderError, match="no status"):
        to_name_tags({"result": []})


# -- source against the emulator ---------------------------------------------------------


def source_for(client: httpx.AsyncClient, key: str | None = KEY) -> EtherscanNameTagSource:
    return EtherscanNameTagSource(client, base_url=BASE_URL, api_key=key)


@pytest.fixture
def emulator() -> Emulator:
    return nametag_emulator(api_keys={KEY})


@pytest.fixture
async def client(emulator: Emulator) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app)) as client:
        yield client


async def test_whale_is_tagged(emulator: Emulator, client: httpx.AsyncClient) -> None:
    (did,) = await source_for(client).fetch_dids(WHALE_WALLET)
    assert did.display_name == "Sandbox Whale 1"
    assert did.links == (LinkedAccount("ethereum", WHALE_WALLET),)


async def test_did_wallet_is_tagged(emulator: Emulator, client: httpx.AsyncClient) -> None:
    (did,) = await source_for(client).fetch_dids(DID_WALLET)
    assert did.type is DIDType.NAMETAG


async def test_untagged_address_has_no_dids(emulator: Emulator, client: httpx.AsyncClient) -> None:
    assert await source_for(client).fetch_dids(EMPTY_WALLET) == ()


async def test_no_key_means_no_call(emulator: Emulator, client: httpx.AsyncClient) -> None:
    assert await source_for(client, key=None).fetch_dids(WHALE_WALLET) == ()
    assert emulator.faults.calls == 0


async def test_wrong_key_is_an_auth_error_without_the_key(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    wrong = "wrong-key-abcdef"
    with pytest.raises(ProviderAuthError) as caught:
        await source_for(client, key=wrong).fetch_dids(WHALE_WALLET)
    assert wrong not in str(caught.value)


async def test_rate_limit_is_reported(emulator: Emulator, client: httpx.AsyncClient) -> None:
    body = json.dumps(
        {"status": "0", "message": "NOTOK", "result": "Max rate limit reached"}
    ).encode()
    emulator.faults.fail_next(200, body=body)
    with pytest.raises(ProviderRateLimited):
        await source_for(client).fetch_dids(WHALE_WALLET)


async def test_http_429_is_a_rate_limit_with_retry_after(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults.fail_next(429, body=b"slow down", headers={"Retry-After": "2"})
    with pytest.raises(ProviderRateLimited) as caught:
        await source_for(client).fetch_dids(WHALE_WALLET)
    assert caught.value.retry_after == 2.0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"status": "0", "message": "NOTOK", "result": f"Invalid API Key {KEY}"}),
        (200, {"status": "0", "message": "NOTOK", "result": f"Max rate limit for {KEY}"}),
        (500, {"error": f"upstream choked on apikey={KEY}"}),
        (403, {"error": f"apikey={KEY} forbidden"}),
    ],
)
async def test_key_never_appears_in_error_text(
    emulator: Emulator, client: httpx.AsyncClient, status: int, body: Any
) -> None:
    emulator.faults.fail_next(status, body=json.dumps(body).encode())
    with pytest.raises(ProviderError) as caught:
        await source_for(client).fetch_dids(WHALE_WALLET)
    assert KEY not in str(caught.value)
    assert KEY not in caught.value.message
    assert "[redacted]" in caught.value.message


async def test_transport_failure_does_not_show_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        source = EtherscanNameTagSource(client, base_url=BASE_URL, api_key=KEY)
        with pytest.raises(ProviderUnavailable) as caught:
            await source.fetch_dids(WHALE_WALLET)
    assert KEY not in str(caught.value)


# -- the emulator's own wire contract ----------------------------------------------------


async def call(client: httpx.AsyncClient, **params: str) -> Any:
    response = await client.get(BASE_URL + "/v2/api", params=params)
    assert response.status_code == 200
    return response.json()


async def test_emulator_envelopes(client: httpx.AsyncClient) -> None:
    base = {"chainid": "1", "module": "nametag", "action": "getaddresstag"}
    missing_key = await call(client, **base, address=WHALE_WALLET)
    assert missing_key["status"] == "0" and missing_key["message"] == "NOTOK"
    assert "API Key" in missing_key["result"]
    both = await call(client, **base, address=f"{WHALE_WALLET},{DID_WALLET}", apikey=KEY)
    assert [row["nametag"] for row in both["result"]] == ["Sandbox Whale 1", "Alice (alice.bit)"]
    assert both["result"][0]["labels"] == ["Whale"]
    none = await call(client, **base, address=EMPTY_WALLET, apikey=KEY)
    assert none == {"status": "0", "message": "No matching records found", "result": []}
    too_many = await call(client, **base, address=",".join([EMPTY_WALLET] * 101), apikey=KEY)
    assert too_many["status"] == "0" and too_many["message"] == "NOTOK"
    no_chain = await call(
        client, module="nametag", action="getaddresstag", address=EMPTY_WALLET, apikey=KEY
    )
    assert "chainid" in no_chain["result"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_without_the_plan_costs_one_call_per_remembered_period() -> None:
    emulator = nametag_emulator(api_keys={KEY, "free-plan-key"}, pro_plus_keys={KEY})
    clock = FakeClock()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app)) as client:
        source = EtherscanNameTagSource(
            client,
            base_url=BASE_URL,
            api_key="free-plan-key",
            not_entitled_ttl=3600,
            clock=clock,
        )
        for _ in range(3):
            with pytest.raises(ProviderNotEntitled) as caught:
                await source.fetch_dids(WHALE_WALLET)
            assert caught.value.kind == "not_entitled"
            assert "free-plan-key" not in str(caught.value)
        assert emulator.faults.calls == 1  # remembered: no second call within the hour

        clock.now += 3600
        with pytest.raises(ProviderNotEntitled):
            await source.fetch_dids(WHALE_WALLET)
        assert emulator.faults.calls == 2


async def test_a_pro_plus_key_is_answered(emulator: Emulator) -> None:
    entitled = nametag_emulator(api_keys={KEY}, pro_plus_keys={KEY})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=entitled.app)) as client:
        (did,) = await source_for(client).fetch_dids(WHALE_WALLET)
    assert did.display_name == "Sandbox Whale 1"
