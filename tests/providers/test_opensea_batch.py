"""OpenSea's batch routes, adapter and emulator together, and the emulator's read quota."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from providers.errors import (
    ProviderBatchTooLarge,
    ProviderRateLimited,
    ProviderUnsupported,
)
from providers.models import Chain, NFTRecord
from providers.opensea import OpenSeaSource
from providers.sandbox.faults import Emulator
from providers.sandbox.opensea import opensea_emulator
from providers.sandbox.world import BIG_BALANCE, SMALL_WALLET, WHALE_WALLET, world

BASE_URL = "https://opensea.sandbox"
API_KEY = "canary-opensea-key-5f1e2d"


@pytest.fixture
def emulator() -> Emulator:
    return opensea_emulator()


@pytest.fixture
async def source(emulator: Emulator) -> AsyncIterator[OpenSeaSource]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield OpenSeaSource(client, base_url=BASE_URL, api_key=API_KEY)


def held(owner: str, chain: Chain, count: int) -> list[NFTRecord]:
    nfts = [n for n in world().holdings(owner, chain) if n.in_opensea][:count]
    return [NFTRecord("opensea", chain, n.contract, n.token_id) for n in nfts]


async def test_one_call_gives_the_detail_of_every_nft_it_knows(
    source: OpenSeaSource, emulator: Emulator
) -> None:
    records = held(WHALE_WALLET, Chain.ETHEREUM, 20)
    unknown = NFTRecord("opensea", Chain.ETHEREUM, records[0].contract_address, "99999999")
    details = await source.fetch_nft_batch(WHALE_WALLET, Chain.ETHEREUM, [*records, unknown])

    assert emulator.faults.calls == 1
    assert [(d.contract_address, d.token_id) for d in details] == [
        (r.contract_address, r.token_id) for r in records
    ]  # the unknown one is left out, as OpenSea does
    assert all(d.traits is not None and d.owner_addresses == (WHALE_WALLET,) for d in details)


async def test_batch_details_carry_exact_erc1155_balances(source: OpenSeaSource) -> None:
    badge = next(
        n
        for n in world().holdings(SMALL_WALLET, Chain.ETHEREUM)
        if n.collection.slug == "gold-badges"
    )
    record = NFTRecord("opensea", Chain.ETHEREUM, badge.contract, badge.token_id)
    (detail,) = await source.fetch_nft_batch(SMALL_WALLET, Chain.ETHEREUM, [record])
    assert detail.quantity == BIG_BALANCE


async def test_collections_come_back_in_input_order_without_the_unknown(
    source: OpenSeaSource,
) -> None:
    infos = await source.fetch_collection_batch(["gold-badges", "nope", "sandbox-apes"])
    assert [info.slug for info in infos] == ["gold-badges", "sandbox-apes"]
    assert infos[1].ranked is True and infos[0].ranked is False


async def test_a_batch_too_large_is_named_so_the_caller_can_split_it(
    source: OpenSeaSource, emulator: Emulator
) -> None:
    emulator.faults.batch_limit = 5
    with pytest.raises(ProviderBatchTooLarge):
        await source.fetch_nft_batch(
            WHALE_WALLET, Chain.ETHEREUM, held(WHALE_WALLET, Chain.ETHEREUM, 6)
        )
    with pytest.raises(ProviderBatchTooLarge):
        await source.fetch_collection_batch([f"s{i}" for i in range(6)])
    assert (
        len(
            await source.fetch_nft_batch(
                WHALE_WALLET, Chain.ETHEREUM, held(WHALE_WALLET, Chain.ETHEREUM, 5)
            )
        )
        == 5
    )


async def test_a_server_without_batch_routes_says_unsupported(
    source: OpenSeaSource, emulator: Emulator
) -> None:
    emulator.faults.batch_routes = False
    with pytest.raises(ProviderUnsupported):
        await source.fetch_nft_batch(
            WHALE_WALLET, Chain.ETHEREUM, held(WHALE_WALLET, Chain.ETHEREUM, 2)
        )
    with pytest.raises(ProviderUnsupported):
        await source.fetch_collection_batch(["sandbox-apes"])


async def test_owners_pages_list_holders_with_exact_quantities(source: OpenSeaSource) -> None:
    badge = next(
        n
        for n in world().holdings(SMALL_WALLET, Chain.ETHEREUM)
        if n.collection.slug == "gold-badges"
    )
    record = NFTRecord("opensea", Chain.ETHEREUM, badge.contract, badge.token_id)
    holders, cursor = await source.fetch_owners_page(record, None)
    assert dict(holders)[SMALL_WALLET] == BIG_BALANCE
    assert cursor is None


async def test_a_spent_read_quota_answers_429_with_the_reset(
    source: OpenSeaSource, emulator: Emulator
) -> None:
    emulator.faults.quota_limit, emulator.faults.quota_window = 2, 60
    await source.fetch_collection_batch(["sandbox-apes"])
    await source.fetch_collection_batch(["sandbox-apes"])
    with pytest.raises(ProviderRateLimited) as raised:
        await source.fetch_collection_batch(["sandbox-apes"])
    assert raised.value.retry_after is not None and 0 < raised.value.retry_after <= 60


async def test_the_instant_tier_allows_600_reads_an_hour(emulator: Emulator) -> None:
    emulator.faults.quota_tier = "instant"
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        answer = await client.get(
            "/api/v2/collections/sandbox-apes", headers={"x-api-key": API_KEY}
        )
    assert answer.headers["x-ratelimit-limit"] == "600"
    assert answer.headers["x-ratelimit-remaining"] == "599"
