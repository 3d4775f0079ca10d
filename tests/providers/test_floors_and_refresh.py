"""Floors (OpenSea stats, Alchemy's openSeaMetadata, Moralis) and metadata refreshes, from the
registry's sources against the emulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from time import time

import httpx
import pytest

from gateway.settings import Settings
from providers import Providers, build_providers
from providers.errors import ProviderNotFound
from providers.models import Chain
from providers.opensea import to_floor
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import SMALL_WALLET, TRIO_WALLET, world

CONFIG = Settings(sandbox="on").upstreams()
# Each upstream's refresh route, as its emulator sees the path.
REFRESH_PATHS = {
    "opensea": "/refresh",
    "alchemy": "/getNFTMetadata",
    "moralis": "/metadata/resync",
}


@pytest.fixture
def sandbox() -> Sandbox:
    return build_sandbox()


@pytest.fixture
async def built(sandbox: Sandbox) -> AsyncIterator[Providers]:
    async with httpx.AsyncClient(transport=sandbox.transport()) as client:
        yield build_providers(CONFIG, client)


def test_every_nft_provider_can_refresh_and_opensea_quotes_floors(built: Providers) -> None:
    assert [r.name for r in built.refreshers] == ["opensea", "alchemy", "moralis"]
    assert [f.name for f in built.floor_sources] == ["opensea"]


async def test_each_refresh_reaches_its_upstream_route_once(
    built: Providers, sandbox: Sandbox
) -> None:
    owls = world().collection_by_slug("night-owls")
    assert owls is not None
    for name, path in REFRESH_PATHS.items():
        sandbox.faults(name).path_filter = path
    for refresher in built.refreshers:
        await refresher.refresh_metadata(Chain.ETHEREUM, owls.contract, "11")
    assert {name: sandbox.faults(name).calls for name in REFRESH_PATHS} == dict.fromkeys(
        REFRESH_PATHS, 1
    )


async def test_a_refresh_of_an_nft_opensea_does_not_know_is_not_found(built: Providers) -> None:
    opensea = next(r for r in built.refreshers if r.name == "opensea")
    with pytest.raises(ProviderNotFound):
        await opensea.refresh_metadata(Chain.ETHEREUM, "0x" + "9" * 40, "1")


async def test_opensea_stats_give_the_floor_with_its_source_and_age(built: Providers) -> None:
    apes = world().collection_by_slug("sandbox-apes")
    assert apes is not None
    before = time()
    floor = await built.floor_sources[0].fetch_floor(Chain.ETHEREUM, apes.slug)
    assert floor is not None
    assert (floor.value, floor.currency, floor.source) == (apes.floor_price, "ETH", "opensea")
    assert before <= floor.fetched_at <= time()
    spam = world().collection_by_slug("free-airdrop-claim")
    assert spam is not None
    assert await built.floor_sources[0].fetch_floor(Chain.ETHEREUM, spam.slug) is None


def test_a_zero_or_missing_stats_floor_is_no_floor() -> None:
    assert to_floor({"total": {"floor_price": 0, "floor_price_symbol": "ETH"}}, 1.0) is None
    assert to_floor({"total": {"floor_price": 1.5}}, 1.0) is None
    assert to_floor({"intervals": []}, 1.0) is None
    floor = to_floor({"total": {"floor_price": 1.5, "floor_price_symbol": "weth"}}, 1.0)
    assert floor is not None and (floor.value, floor.currency) == (1.5, "WETH")


async def test_list_pages_carry_floors_stamped_when_read(built: Providers) -> None:
    by_name = {source.name: source for source in built.nft_sources}
    before = time()
    alchemy = await by_name["alchemy"].fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    moralis = await by_name["moralis"].fetch_holdings_page(TRIO_WALLET, Chain.ETHEREUM, None)
    priced = [r for r in (*alchemy.records, *moralis.records) if r.floor is not None]
    assert {r.source for r in priced} == {"alchemy", "moralis"}
    for record in priced:
        assert record.floor is not None and record.floor.source == record.source
        assert before <= record.floor.fetched_at <= time() and record.floor.value > 0
    spam = [r for r in alchemy.records if r.collection_verified is False]  # spam is unverified
    assert spam and all(r.floor is None for r in spam)
