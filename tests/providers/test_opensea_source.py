"""OpenSeaSource against the sandbox emulator (wire quirks: test_opensea_wire.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import pytest

from providers.base import NFTDetailSource, NFTSource
from providers.errors import (
    ProviderAuthError,
    ProviderBadData,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.models import Chain, NFTRecord, TokenStandard, Trait
from providers.opensea import OpenSeaSource
from providers.sandbox.faults import Emulator
from providers.sandbox.labelled import LABELLED_WALLET
from providers.sandbox.opensea import opensea_emulator
from providers.sandbox.world import (
    BIG_BALANCE,
    EMPTY_WALLET,
    HUGE_BALANCE,
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


async def walk(source: OpenSeaSource, owner: str, chain: Chain) -> tuple[list[NFTRecord], int]:
    records: list[NFTRecord] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await source.fetch_holdings_page(owner, chain, cursor)
        pages += 1
        records.extend(page.records)
        assert page.total_count is None  # OpenSea gives no count
        if page.next_cursor is None:
            return records, pages
        cursor = page.next_cursor


def expected_keys(owner: str, chain: Chain) -> list[tuple[Chain, str, str]]:
    return [
        (n.chain, n.contract, n.token_id) for n in world().holdings(owner, chain) if n.in_opensea
    ]


def sandbox_record(chain: Chain, slug: str, token_id: str) -> NFTRecord:
    nft = next(
        n
        for n in world().nfts.values()
        if n.collection.slug == slug and n.token_id == token_id and n.chain is chain
    )
    return NFTRecord(
        source="opensea", chain=chain, contract_address=nft.contract, token_id=token_id
    )


# -- the contract -----------------------------------------------------------------------


def test_source_implements_both_protocols(source: OpenSeaSource) -> None:
    assert isinstance(source, NFTSource) and isinstance(source, NFTDetailSource)
    assert source.name == "opensea"
    assert all(source.supports(chain) for chain in Chain)


# -- holdings ---------------------------------------------------------------------------


@pytest.mark.parametrize("page_limit", [37, 200])
async def test_paging_the_whale_yields_every_opensea_nft_once(
    client: httpx.AsyncClient, page_limit: int
) -> None:
    source = OpenSeaSource(client, base_url=BASE_URL, api_key=API_KEY, page_limit=page_limit)
    records, pages = await walk(source, WHALE_WALLET, Chain.ETHEREUM)

    keys = [record.key for record in records]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted(expected_keys(WHALE_WALLET, Chain.ETHEREUM))
    assert pages == -(-len(keys) // page_limit)
    assert all(r.owner_addresses == (WHALE_WALLET,) for r in records)


async def test_a_server_capping_limit_at_50_is_paged_with_50() -> None:
    legacy = opensea_emulator(limit_max=50)  # the 2024 API: limit 1..50
    transport = httpx.ASGITransport(app=legacy.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        source = OpenSeaSource(client, base_url=BASE_URL, api_key=API_KEY)
        records, pages = await walk(source, WHALE_WALLET, Chain.ETHEREUM)

    assert sorted(r.key for r in records) == sorted(expected_keys(WHALE_WALLET, Chain.ETHEREUM))
    assert pages == -(-len(records) // 50)


async def test_opensea_says_nothing_about_spam(source: OpenSeaSource) -> None:
    records, _ = await walk(source, WHALE_WALLET, Chain.POLYGON)  # its spam lives there
    spam_slugs = {c.slug for c in world().collections.values() if c.is_spam}
    assert any(r.collection_slug in spam_slugs for r in records)
    # No spam field exists on OpenSea: no signal, and spam is not "disabled" or "nsfw".
    assert {(r.spam_signals, r.trading_disabled, r.is_nsfw) for r in records} == {
        (None, False, False)
    }


async def test_nsfw_and_trading_disabled_are_facts_of_verified_collections(
    source: OpenSeaSource,
) -> None:
    records, _ = await walk(source, LABELLED_WALLET, Chain.ETHEREUM)
    truth = {c.slug: c for c in world().collections.values()}

    nsfw = [r for r in records if r.is_nsfw]
    disabled = [r for r in records if r.trading_disabled]
    assert nsfw and all(truth[r.collection_slug or ""].is_nsfw for r in nsfw)
    assert disabled and all(truth[r.collection_slug or ""].trading_disabled for r in disabled)
    verified = {truth[r.collection_slug or ""].safelist_status for r in nsfw + disabled}
    assert verified == {"verified"}


async def test_small_wallet_on_polygon(source: OpenSeaSource) -> None:
    page = await source.fetch_holdings_page(SMALL_WALLET, Chain.POLYGON, None)
    assert [r.key for r in page.records] == expected_keys(SMALL_WALLET, Chain.POLYGON)
    assert {r.chain for r in page.records} == {Chain.POLYGON}
    assert {r.quantity for r in page.records} == {None}  # ERC-1155: unknown until detail


async def test_list_traits_only_where_opensea_fills_them(source: OpenSeaSource) -> None:
    base, _ = await walk(source, SMALL_WALLET, Chain.BASE)  # based-frogs lists traits
    eth, _ = await walk(source, SMALL_WALLET, Chain.ETHEREUM)
    assert base and all(r.traits for r in base)
    assert sorted((r.token_id, r.name) for r in base) == [("100", None), ("99", "Based Frogs #99")]
    assert {r.traits for r in eth} == {None}


async def test_empty_wallet_is_one_empty_last_page(source: OpenSeaSource) -> None:
    page = await source.fetch_holdings_page(EMPTY_WALLET, Chain.ETHEREUM, None)
    assert page.records == () and page.next_cursor is None


async def test_owner_that_is_not_an_address_is_refused_without_a_call(
    source: OpenSeaSource, emulator: Emulator
) -> None:
    with pytest.raises(ProviderBadRequest):
        await source.fetch_holdings_page("alice.eth", Chain.ETHEREUM, None)
    assert emulator.faults.calls == 0


# -- detail -----------------------------------------------------------------------------


async def test_detail_of_the_big_erc1155_balance_is_exact(source: OpenSeaSource) -> None:
    record = sandbox_record(Chain.ETHEREUM, "gold-badges", "7")
    detail = await source.fetch_nft_detail(SMALL_WALLET, record)

    assert detail.token_standard is TokenStandard.ERC1155
    assert detail.quantity == BIG_BALANCE
    assert detail.owner_addresses == (SMALL_WALLET, OTHER_HOLDER)
    assert detail.traits == ()
    assert detail.rarity is None  # the collection is unranked


async def test_detail_beyond_2_pow_64_on_polygon(source: OpenSeaSource) -> None:
    detail = await source.fetch_nft_detail(
        SMALL_WALLET, sandbox_record(Chain.POLYGON, "polygon-gems", "1")
    )
    assert detail.quantity == HUGE_BALANCE


async def test_detail_gives_traits_rank_and_owner(source: OpenSeaSource) -> None:
    record = sandbox_record(Chain.ETHEREUM, "sandbox-apes", "4821")
    nft = world().nft(Chain.ETHEREUM, record.contract_address, "4821")
    assert nft is not None
    detail = await source.fetch_nft_detail(SMALL_WALLET, record)

    assert detail.traits == tuple(Trait(kind, str(value)) for kind, value in nft.traits)
    assert any(t.type == "Level" and t.value.isdigit() for t in detail.traits)
    assert detail.rarity is not None and detail.rarity.rank == nft.rank
    assert detail.owner_addresses == (SMALL_WALLET,)
    assert detail.quantity == 1
    assert detail.collection_slug == "sandbox-apes"
    assert detail.image is not None and detail.image.startswith("data:image/svg+xml")


async def test_detail_walks_owners_when_opensea_sends_null() -> None:
    emulator = opensea_emulator(owners_inline_max=1)  # badge #7 has two holders
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport) as client:
        source = OpenSeaSource(client, base_url=BASE_URL, api_key=API_KEY)
        detail = await source.fetch_nft_detail(
            SMALL_WALLET, sandbox_record(Chain.ETHEREUM, "gold-badges", "7")
        )
    assert detail.quantity == BIG_BALANCE
    # One /owners page held every holder: the list is complete, and says so.
    assert set(detail.owner_addresses or ()) == {SMALL_WALLET, OTHER_HOLDER}
    assert detail.owners_complete is True
    assert emulator.faults.calls == 2  # get-NFT, then one /owners page


async def test_a_server_without_the_owners_route_keeps_the_detail_get_nft_gave() -> None:
    emulator = opensea_emulator(owners_inline_max=1)  # badge #7 has two holders
    emulator.faults.path_filter, emulator.faults.status = "/owners", 404
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport) as client:
        source = OpenSeaSource(client, base_url=BASE_URL, api_key=API_KEY)
        record = sandbox_record(Chain.ETHEREUM, "gold-badges", "7")
        detail = await source.fetch_nft_detail(SMALL_WALLET, record)
        page = await source.fetch_owners_page(record, None)
    # /owners is newer than the rest of API v2: without it the detail stands, holders and
    # quantity unknown (not guessed), and an owners walk sees an empty last page.
    assert detail.name == "Gold Badges #7" and detail.token_standard is TokenStandard.ERC1155
    assert detail.quantity is None and detail.owner_addresses is None
    assert page == ((), None)
    assert emulator.faults.calls == 2  # /owners twice: the detail's walk, then the page


async def test_a_partial_owner_list_is_never_passed_off_as_complete() -> None:
    emulator = opensea_emulator(owners_inline_max=1)
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport) as client:
        source = OpenSeaSource(client, base_url=BASE_URL, api_key=API_KEY)
        with patch("providers.opensea.source.OWNERS_PAGE_LIMIT", 1):
            detail = await source.fetch_nft_detail(
                SMALL_WALLET, sandbox_record(Chain.ETHEREUM, "gold-badges", "7")
            )
    # The wallet sorts first: found on page one, paging stops, a holder is still unseen.
    assert detail.quantity == BIG_BALANCE
    assert detail.owner_addresses == (SMALL_WALLET,)
    assert detail.owners_complete is False
    assert emulator.faults.calls == 2


async def test_detail_of_an_unknown_nft_is_not_found(source: OpenSeaSource) -> None:
    record = sandbox_record(Chain.ETHEREUM, "gold-badges", "7")
    missing = NFTRecord("opensea", Chain.ETHEREUM, record.contract_address, "999999")
    with pytest.raises(ProviderNotFound) as info:
        await source.fetch_nft_detail(SMALL_WALLET, missing)
    assert "not found" in str(info.value)


async def test_detail_of_an_alchemy_only_nft_is_not_found(source: OpenSeaSource) -> None:
    with pytest.raises(ProviderNotFound):
        await source.fetch_nft_detail(
            SMALL_WALLET, sandbox_record(Chain.ETHEREUM, "gold-badges", "8")
        )


# -- collections ------------------------------------------------------------------------


async def test_collection_name_and_rarity_total(source: OpenSeaSource) -> None:
    info = await source.fetch_collection(Chain.ETHEREUM, "sandbox-apes")
    assert (info.slug, info.name, info.rarity_total) == ("sandbox-apes", "Sandbox Apes", 10_000)


async def test_unranked_collection_falls_back_to_total_supply(source: OpenSeaSource) -> None:
    info = await source.fetch_collection(Chain.ETHEREUM, "gold-badges")
    assert (info.name, info.rarity_total) == ("Gold Badges", 100)


async def test_unknown_collection_is_not_found(source: OpenSeaSource) -> None:
    with pytest.raises(ProviderNotFound):
        await source.fetch_collection(Chain.ETHEREUM, "no-such/slug")


# -- errors -----------------------------------------------------------------------------


async def test_missing_key_is_an_auth_error(client: httpx.AsyncClient) -> None:
    source = OpenSeaSource(client, base_url=BASE_URL, api_key=None)
    with pytest.raises(ProviderAuthError):
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)


async def test_wrong_key_is_an_auth_error_that_does_not_show_the_key() -> None:
    emulator = opensea_emulator(api_keys={"the-right-key"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app)) as client:
        source = OpenSeaSource(client, base_url=BASE_URL, api_key=API_KEY)
        with pytest.raises(ProviderAuthError) as info:
            await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    assert API_KEY not in str(info.value)


async def test_429_carries_retry_after(source: OpenSeaSource, emulator: Emulator) -> None:
    body = b'{"detail": "Request was throttled.", "id": "1KQIYV"}'
    emulator.faults.fail_next(429, body=body, headers={"Retry-After": "7"})
    with pytest.raises(ProviderRateLimited) as info:
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    assert info.value.retry_after == 7.0
    # The fault was one answer only: the next call succeeds.
    assert (await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)).records


async def test_599_is_a_rate_limit_too(source: OpenSeaSource, emulator: Emulator) -> None:
    emulator.faults.fail_next(599)
    with pytest.raises(ProviderRateLimited) as info:
        await source.fetch_collection(Chain.ETHEREUM, "sandbox-apes")
    assert info.value.retry_after is None


async def test_500_is_unavailable(source: OpenSeaSource, emulator: Emulator) -> None:
    emulator.faults.fail_next(500, body=b'{"errors": ["internal error"]}')
    with pytest.raises(ProviderUnavailable):
        await source.fetch_collection(Chain.ETHEREUM, "sandbox-apes")


async def test_400_on_list_is_an_error_not_an_empty_wallet(
    source: OpenSeaSource, emulator: Emulator
) -> None:
    emulator.faults.fail_next(400, body=b'{"errors": ["bad request"]}')
    with pytest.raises(ProviderBadRequest):
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)


async def test_non_json_body_is_bad_data(source: OpenSeaSource, emulator: Emulator) -> None:
    emulator.faults.body_override = b"<html>Cloudflare says hi</html>"
    with pytest.raises(ProviderBadData):
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)


CallMaker = Callable[[OpenSeaSource], Any]

CALLS: dict[str, CallMaker] = {
    "list": lambda s: s.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None),
    "detail": lambda s: s.fetch_nft_detail(
        SMALL_WALLET, sandbox_record(Chain.ETHEREUM, "gold-badges", "7")
    ),
    "collection": lambda s: s.fetch_collection(Chain.ETHEREUM, "sandbox-apes"),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    "body", [b"[]", b"null", b'{"nfts": {}}', b'{"nft": null}', b'{"nft": {"identifier": "7"}}']
)
async def test_wrong_shapes_are_bad_data(
    source: OpenSeaSource, emulator: Emulator, call: str, body: bytes
) -> None:
    emulator.faults.body_override = body
    with pytest.raises(ProviderBadData):
        await CALLS[call](source)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
async def test_an_echoed_key_never_reaches_the_exception_text(
    source: OpenSeaSource, emulator: Emulator, status: int
) -> None:
    body = json.dumps({"errors": [f"API key {API_KEY} is not valid"]}).encode()
    emulator.faults.fail_next(status, body=body)
    with pytest.raises(ProviderError) as info:
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value) and API_KEY not in info.value.message
    assert "[redacted]" in str(info.value)
