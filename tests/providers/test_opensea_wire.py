"""OpenSeaSource wire quirks over MockTransport, and the emulator's own wire shape."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.errors import (
    ProviderBadData,
    ProviderUnavailable,
)
from providers.models import Chain, NFTRecord
from providers.opensea import OpenSeaSource
from providers.sandbox.faults import Emulator
from providers.sandbox.opensea import opensea_emulator
from providers.sandbox.world import (
    BIG_BALANCE,
    OTHER_HOLDER,
    SMALL_WALLET,
    WHALE_WALLET,
    world,
)

BASE_URL = "https://opensea.sandbox"
API_KEY = "canary-opensea-key-5f1e2d"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "opensea"


@pytest.fixture
def emulator() -> Emulator:
    return opensea_emulator()


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def source(client: httpx.AsyncClient) -> OpenSeaSource:
    return OpenSeaSource(client, base_url=BASE_URL, api_key=API_KEY)


def sandbox_record(chain: Chain, slug: str, token_id: str) -> NFTRecord:
    nft = next(
        n
        for n in world().nfts.values()
        if n.collection.slug == slug and n.token_id == token_id and n.chain is chain
    )
    return NFTRecord(
        source="opensea", chain=chain, contract_address=nft.contract, token_id=token_id
    )


# -- wire quirks over MockTransport -----------------------------------------------------


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def mock_source(handler: Callable[[httpx.Request], httpx.Response]) -> OpenSeaSource:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenSeaSource(client, base_url=BASE_URL + "/", api_key=API_KEY, page_limit=2)


async def test_request_shape_and_cursor_passed_back_url_encoded() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=fixture("list_by_account.upstreams_1_3.json"))

    source = mock_source(handler)
    first = await source.fetch_holdings_page(SMALL_WALLET, Chain.POLYGON, None)
    await source.fetch_holdings_page(SMALL_WALLET, Chain.POLYGON, "+/8tcGs9Mg==")

    assert first.next_cursor == "LXBrPTEyMzQ1Njc4OQ=="
    assert seen[0].url.path == f"/api/v2/chain/polygon/account/{SMALL_WALLET}/nfts"
    assert seen[0].headers["x-api-key"] == API_KEY
    assert dict(seen[0].url.params) == {"limit": "2"}
    assert seen[1].url.params["next"] == "+/8tcGs9Mg=="
    assert b"next=%2B%2F8tcGs9Mg%3D%3D" in seen[1].url.query


@pytest.mark.parametrize(
    "body", [{"nfts": []}, {"nfts": [], "next": None}, {"nfts": [], "next": ""}]
)
async def test_missing_null_or_empty_next_ends_the_walk(body: dict[str, Any]) -> None:
    source = mock_source(lambda request: httpx.Response(200, json=body))
    page = await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    assert page.next_cursor is None


async def test_one_bad_row_does_not_spoil_the_page() -> None:
    body = fixture("list_by_account.quirks.json")
    source = mock_source(lambda request: httpx.Response(200, json=body))
    page = await source.fetch_holdings_page(SMALL_WALLET, Chain.POLYGON, None)
    assert [r.token_id for r in page.records] == ["15", "42", "3100"]


async def test_owners_walk_follows_cursors_to_the_exact_balance() -> None:
    seen: list[httpx.Request] = []
    detail = fixture("get_nft.null_traits_owners.json")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if not request.url.path.endswith("/owners"):
            return httpx.Response(200, json=detail)
        if "next" not in request.url.params:
            return httpx.Response(200, json=fixture("owners.page1.json"))
        return httpx.Response(200, json=fixture("owners.page2_last_empty_next.json"))

    record = NFTRecord("opensea", Chain.ETHEREUM, "0x" + "e" * 40, "8")
    result = await mock_source(handler).fetch_nft_detail(SMALL_WALLET, record)

    assert result.quantity == 2**64 + 7
    assert [r.url.params.get("next") for r in seen] == [None, None, "b3duZXJzOjI="]
    assert seen[1].url.params["limit"] == "100"


async def test_owners_walk_is_bounded_and_gives_up_without_guessing() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if not request.url.path.endswith("/owners"):
            return httpx.Response(200, json=fixture("get_nft.null_traits_owners.json"))
        return httpx.Response(
            200, json={"owners": [{"address": OTHER_HOLDER, "quantity": 1}], "next": f"c{calls}"}
        )

    record = NFTRecord("opensea", Chain.ETHEREUM, "0x" + "e" * 40, "8")
    result = await mock_source(handler).fetch_nft_detail(SMALL_WALLET, record)
    assert result.quantity is None
    assert calls == 1 + 20


async def test_owners_page_without_a_list_is_bad_data() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/owners"):
            return httpx.Response(200, json={"detail": "??"})
        return httpx.Response(200, json=fixture("get_nft.null_traits_owners.json"))

    record = NFTRecord("opensea", Chain.ETHEREUM, "0x" + "e" * 40, "8")
    with pytest.raises(ProviderBadData):
        await mock_source(handler).fetch_nft_detail(SMALL_WALLET, record)


async def test_transport_failure_is_unavailable_and_keyless() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url} with {API_KEY}", request=request)

    with pytest.raises(ProviderUnavailable) as info:
        await mock_source(handler).fetch_collection(Chain.ETHEREUM, "x")
    assert API_KEY not in str(info.value)


# -- the emulator's own wire behaviour --------------------------------------------------


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await client.get(path, params=params, headers={"X-API-KEY": API_KEY})


async def test_emulator_accepts_matic_and_stamps_rate_limit_headers(
    client: httpx.AsyncClient,
) -> None:
    ok = await get(client, f"/api/v2/chain/matic/account/{SMALL_WALLET}/nfts")
    missing = await client.get("/api/v2/collections/sandbox-apes")
    unknown = await get(client, "/api/v2/collections/nope")

    assert ok.status_code == 200 and len(ok.json()["nfts"]) == 2
    assert "next" not in ok.json()
    assert missing.status_code == 401 and missing.json()["errors"]
    assert (unknown.status_code, unknown.json()) == (404, {"errors": ["not found"]})
    for response in (ok, unknown):  # the quota is per key: a keyless call has none
        assert int(response.headers["x-ratelimit-limit"]) >= int(
            response.headers["x-ratelimit-remaining"]
        )
        assert response.headers["x-ratelimit-reset"].isdigit()
    assert int(unknown.headers["x-ratelimit-remaining"]) < int(ok.headers["x-ratelimit-remaining"])


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"/api/v2/chain/klaytn/account/{SMALL_WALLET}/nfts", {}),
        ("/api/v2/chain/ethereum/account/alice.eth/nfts", {}),
        (f"/api/v2/chain/ethereum/account/{SMALL_WALLET}/nfts", {"limit": "0"}),
        (f"/api/v2/chain/ethereum/account/{SMALL_WALLET}/nfts", {"limit": "201"}),
        (f"/api/v2/chain/ethereum/account/{SMALL_WALLET}/nfts", {"limit": "ten"}),
        (f"/api/v2/chain/ethereum/account/{SMALL_WALLET}/nfts", {"next": "not base64!"}),
        (f"/api/v2/chain/ethereum/account/{SMALL_WALLET}/nfts", {"next": "LXBrPTEyMw=="}),
    ],
)
async def test_emulator_rejects_bad_requests_with_an_errors_list(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    response = await get(client, path, **params)
    assert response.status_code == 400
    assert isinstance(response.json()["errors"], list) and response.json()["errors"]


async def test_emulator_in_2024_mode_caps_limit_at_50() -> None:
    emulator = opensea_emulator(limit_max=50)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator.app), base_url=BASE_URL
    ) as client:
        path = f"/api/v2/chain/ethereum/account/{WHALE_WALLET}/nfts"
        assert (await get(client, path, limit=51)).status_code == 400
        default = await get(client, path)
    assert len(default.json()["nfts"]) == 50 and default.json()["next"]


async def test_emulator_detail_wire_shape(client: httpx.AsyncClient) -> None:
    record = sandbox_record(Chain.ETHEREUM, "gold-badges", "7")
    response = await get(
        client, f"/api/v2/chain/ethereum/contract/{record.contract_address}/nfts/7"
    )
    owners = {o["address"]: o for o in response.json()["nft"]["owners"]}

    assert owners[SMALL_WALLET] == {
        "address": SMALL_WALLET,
        "quantity": 2**31 - 1,
        "quantity_string": str(BIG_BALANCE),
    }
    assert owners[OTHER_HOLDER]["quantity_string"] == "3"

    ape = sandbox_record(Chain.ETHEREUM, "sandbox-apes", "4821")
    nft = (
        await get(client, f"/api/v2/chain/ethereum/contract/{ape.contract_address}/nfts/4821")
    ).json()["nft"]
    level = next(t for t in nft["traits"] if t["trait_type"] == "Level")
    assert isinstance(level["value"], int) and level["display_type"] == "number"
    assert set(nft["rarity"]) == {"strategy_id", "strategy_version", "rank"}
    assert nft["is_suspicious"] is False and nft["creator"].startswith("0x")


async def test_emulator_get_contract_names_the_slug(client: httpx.AsyncClient) -> None:
    record = sandbox_record(Chain.ETHEREUM, "pixel-punks", "42")
    response = await get(client, f"/api/v2/chain/ethereum/contract/{record.contract_address}")
    assert response.json()["collection"] == "pixel-punks"
    assert response.json()["contract_standard"] == "erc721"
