"""MoralisSource against the Moralis emulator, in process (the wire as the docs state it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from providers.errors import ProviderAuthError, ProviderBadRequest, ProviderRateLimited
from providers.models import Chain, NFTKey
from providers.moralis import MoralisSource
from providers.sandbox.faults import Emulator
from providers.sandbox.moralis import moralis_emulator
from providers.sandbox.transport import SandboxTransport
from providers.sandbox.world import BIG_BALANCE, SMALL_WALLET, TRIO_WALLET, WHALE_WALLET, world

BASE_URL = "http://moralis.sandbox"
KEY = "canary-MORALIS-9b1d"


@pytest.fixture
def emulator() -> Emulator:
    return moralis_emulator(api_keys={KEY})


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = SandboxTransport({"moralis.sandbox": emulator.app})
    async with httpx.AsyncClient(transport=transport) as http:
        yield http


async def test_a_request_is_the_documented_one(emulator: Emulator) -> None:
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"result": [], "cursor": None})

    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as http:
        source = MoralisSource(http, base_url="https://deep-index.moralis.io/", api_key=KEY)
        await source.fetch_holdings_page(SMALL_WALLET.upper().replace("0X", "0x"), Chain.BASE, "c1")
    (request,) = seen
    assert request.url.path == f"/api/v2.2/{SMALL_WALLET}/nft"
    assert dict(request.url.params) == {
        "chain": "base",
        "format": "decimal",
        "normalizeMetadata": "true",
        "limit": "100",
        "cursor": "c1",
    }
    assert request.headers["x-api-key"] == KEY
    assert KEY not in repr(source)


async def test_the_whale_walks_to_the_last_page_with_what_moralis_indexes(
    client: httpx.AsyncClient,
) -> None:
    source = MoralisSource(client, base_url=BASE_URL, api_key=KEY, page_size=40)
    keys: list[NFTKey] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await source.fetch_holdings_page(WHALE_WALLET, Chain.POLYGON, cursor)
        keys += [record.key for record in page.records]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    held = [n for n in world().holdings(WHALE_WALLET, Chain.POLYGON) if n.in_moralis]
    assert sorted(keys) == sorted(NFTKey(Chain.POLYGON, n.contract, n.token_id) for n in held)
    assert pages == -(-len(held) // 40)


async def test_balances_floors_and_the_moralis_only_nft(client: httpx.AsyncClient) -> None:
    source = MoralisSource(client, base_url=BASE_URL, api_key=KEY)
    small = await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    badge = next(r for r in small.records if r.quantity == BIG_BALANCE)
    assert badge.quantity == BIG_BALANCE
    trio = await source.fetch_holdings_page(TRIO_WALLET, Chain.POLYGON, None)
    (ticket,) = trio.records
    assert (ticket.token_id, ticket.quantity) == ("5", 3)
    truth = world().nft(Chain.POLYGON, ticket.contract_address, "5")
    assert truth is not None and not truth.in_opensea and not truth.in_alchemy
    assert ticket.floor is not None and ticket.floor.currency == "POL"
    assert ticket.floor.value == truth.collection.floor_price


async def test_a_wrong_key_is_an_auth_error_without_the_key(client: httpx.AsyncClient) -> None:
    source = MoralisSource(client, base_url=BASE_URL, api_key="wrong-" + KEY)
    with pytest.raises(ProviderAuthError) as caught:
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    assert "Missing or invalid API key" in caught.value.message
    assert KEY not in str(caught.value)


async def test_a_cursor_moralis_cannot_read_is_a_bad_request(client: httpx.AsyncClient) -> None:
    source = MoralisSource(client, base_url=BASE_URL, api_key=KEY)
    with pytest.raises(ProviderBadRequest):
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, "not-a-cursor")


async def test_a_rate_limit_carries_its_retry_after(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next(
        429, body=b'{"message":"Too many requests"}', headers={"Retry-After": "3"}
    )
    source = MoralisSource(client, base_url=BASE_URL, api_key=KEY)
    with pytest.raises(ProviderRateLimited) as caught:
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    assert caught.value.retry_after == 3.0


async def test_the_emulator_speaks_moralis_not_the_adapter(client: httpx.AsyncClient) -> None:
    url = f"{BASE_URL}/api/v2.2/{SMALL_WALLET}/nft"
    headers = {"X-API-Key": KEY}
    hexed = await client.get(url, params={"chain": "0x1", "format": "hex"}, headers=headers)
    assert hexed.status_code == 200
    assert all(item["token_id"].startswith("0x") for item in hexed.json()["result"])
    assert "normalized_metadata" in hexed.json()["result"][0]  # normalizeMetadata default true
    bad_chain = await client.get(url, params={"chain": "solana"}, headers=headers)
    assert (bad_chain.status_code, set(bad_chain.json())) == (400, {"message"})
    keyless = await client.get(url)
    assert keyless.status_code == 401 and "message" in keyless.json()
