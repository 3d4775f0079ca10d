"""AlchemySource against the Alchemy emulator, in process (the emulator alone: see
test_alchemy_emulator.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from providers.alchemy import AlchemySource
from providers.base import NFTSource
from providers.errors import (
    ProviderAuthError,
    ProviderBadData,
    ProviderCursorExpired,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.models import Chain, NFTKey
from providers.sandbox.alchemy import EXPIRED_PAGE_KEY_TEXT, alchemy_emulator
from providers.sandbox.faults import Emulator
from providers.sandbox.transport import SandboxTransport
from providers.sandbox.world import (
    BIG_BALANCE,
    HUGE_BALANCE,
    SMALL_WALLET,
    WHALE_WALLET,
    world,
)

HOST_BASE_URL = "http://{network}.alchemy.sandbox"
PATH_BASE_URL = "http://alchemy.sandbox/{network}"
CANARY_KEY = "canary-KEY-5f3a9c1e7d"


@pytest.fixture
def emulator() -> Emulator:
    return alchemy_emulator()


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = SandboxTransport({"alchemy.sandbox": emulator.app})
    async with httpx.AsyncClient(transport=transport) as http:
        yield http


def source_for(client: httpx.AsyncClient, *, key: str = "test-key", **kwargs: Any) -> AlchemySource:
    kwargs.setdefault("base_url", HOST_BASE_URL)
    return AlchemySource(client, api_key=key, **kwargs)


def alchemy_keys(owner: str, chain: Chain) -> list[NFTKey]:
    """What the world says Alchemy should list for ``owner`` on ``chain``."""
    return [
        NFTKey(chain, n.contract, n.token_id)
        for n in world().holdings(owner, chain)
        if n.in_alchemy
    ]


async def walk(source: AlchemySource, owner: str, chain: Chain) -> tuple[list[NFTKey], set[int]]:
    keys: list[NFTKey] = []
    totals: set[int] = set()
    cursor: str | None = None
    for _ in range(1_000):  # a bound, so a cursor loop fails the test instead of hanging
        page = await source.fetch_holdings_page(owner, chain, cursor)
        keys += [record.key for record in page.records]
        if page.total_count is not None:
            totals.add(page.total_count)
        cursor = page.next_cursor
        if cursor is None:
            return keys, totals
    raise AssertionError("the walk never ended")


# -- paging --------------------------------------------------------------------------


@pytest.mark.parametrize("chain", [Chain.ETHEREUM, Chain.POLYGON])
@pytest.mark.parametrize("page_size", [100, 37])
async def test_whale_walk_yields_every_nft_once(
    client: httpx.AsyncClient, chain: Chain, page_size: int
) -> None:
    source = source_for(client, page_size=page_size)

    keys, totals = await walk(source, WHALE_WALLET, chain)

    expected = alchemy_keys(WHALE_WALLET, chain)
    assert len(expected) > 1_000
    assert keys == expected  # same NFTs, none twice, in Alchemy's order
    assert totals == {len(expected)}


async def test_path_prefix_base_url_reaches_the_emulator(client: httpx.AsyncClient) -> None:
    source = source_for(client, base_url=PATH_BASE_URL, page_size=5)

    keys, totals = await walk(source, SMALL_WALLET, Chain.ETHEREUM)

    assert keys == alchemy_keys(SMALL_WALLET, Chain.ETHEREUM)
    assert totals == {len(keys)}


async def test_small_wallet_records_carry_exact_balances_spam_and_gaps(
    client: httpx.AsyncClient,
) -> None:
    source = source_for(client)

    eth_page = await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
    polygon = (await source.fetch_holdings_page(SMALL_WALLET, Chain.POLYGON, None)).records
    eth = {(r.collection_name, r.token_id): r for r in eth_page.records}

    assert eth_page.next_cursor is None
    assert eth[("Gold Badges", "7")].quantity == BIG_BALANCE
    assert polygon[0].quantity == HUGE_BALANCE  # > 2^64, exact
    # The sandbox key is a free-tier key: no spam classification, the safelist status only.
    assert eth[("FREE AIRDROP CLAIM NOW", "1")].spam_signals is None
    assert eth[("FREE AIRDROP CLAIM NOW", "1")].collection_verified is False
    assert eth[("Sandbox Apes", "4821")].collection_verified is True
    assert eth[("Sandbox Apes", "4821")].collection_opensea_slug == "sandbox-apes"
    assert eth[("Pixel Punks", "1337")].collection_slug is None  # Alchemy lacks this slug
    assert ("Pixel Punks", "42") not in eth  # OpenSea-only NFT
    assert eth[("Sandbox Apes", "7")].animation_url is not None
    assert all(r.owner_addresses == (SMALL_WALLET,) for r in eth.values())
    assert any(t.value.isdigit() for t in eth[("Sandbox Apes", "4821")].traits or ())


async def test_expired_page_key_raises_cursor_expired(client: httpx.AsyncClient) -> None:
    emulator = alchemy_emulator(page_key_ttl=0.0)  # every page key is stale at once
    async with httpx.AsyncClient(
        transport=SandboxTransport({"alchemy.sandbox": emulator.app})
    ) as c:
        source = source_for(c, page_size=10)
        first = await source.fetch_holdings_page(WHALE_WALLET, Chain.ETHEREUM, None)
        assert first.next_cursor is not None

        with pytest.raises(ProviderCursorExpired) as caught:
            await source.fetch_holdings_page(WHALE_WALLET, Chain.ETHEREUM, first.next_cursor)

    assert caught.value.kind == "cursor_expired"


async def test_unknown_page_key_raises_cursor_expired(client: httpx.AsyncClient) -> None:
    with pytest.raises(ProviderCursorExpired):
        await source_for(client).fetch_holdings_page(
            WHALE_WALLET, Chain.ETHEREUM, "00000000-0000-4000-8000-000000000000"
        )


async def test_json_page_key_error_is_recognised_too(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    body = json.dumps({"error": {"message": EXPIRED_PAGE_KEY_TEXT}}).encode()
    emulator.faults.fail_next(400, body=body)

    with pytest.raises(ProviderCursorExpired):
        await source_for(client).fetch_holdings_page(WHALE_WALLET, Chain.ETHEREUM, "stale")


async def test_other_400_is_a_plain_bad_request(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next(400, body=b"Invalid include filters: []", content_type="text/plain")

    with pytest.raises(ProviderError) as caught:
        await source_for(client).fetch_holdings_page(WHALE_WALLET, Chain.ETHEREUM, None)

    assert type(caught.value).__name__ == "ProviderBadRequest"


# -- failures and the key --------------------------------------------------------------


def assert_no_canary(exc: BaseException) -> None:
    assert CANARY_KEY not in str(exc)
    assert CANARY_KEY not in repr(exc)
    assert all(CANARY_KEY not in str(arg) for arg in exc.args)
    assert exc.__context__ is None and exc.__cause__ is None


async def test_wrong_key_is_an_auth_error_without_the_key() -> None:
    emulator = alchemy_emulator(api_keys={"the-right-key"})
    async with httpx.AsyncClient(
        transport=SandboxTransport({"alchemy.sandbox": emulator.app})
    ) as c:
        source = source_for(c, key=CANARY_KEY)
        with pytest.raises(ProviderAuthError) as caught:
            await source.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)
        good = source_for(c, key="the-right-key")
        assert (await good.fetch_holdings_page(SMALL_WALLET, Chain.ETHEREUM, None)).records

    assert "Must be authenticated!" in str(caught.value)
    assert_no_canary(caught.value)
    assert CANARY_KEY not in repr(source)


async def test_rate_limit_carries_retry_after(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_next(
        429, body=b"Too many requests", headers={"Retry-After": "7"}, content_type="text/plain"
    )

    with pytest.raises(ProviderRateLimited) as caught:
        await source_for(client, key=CANARY_KEY).fetch_holdings_page(
            SMALL_WALLET, Chain.ETHEREUM, None
        )

    assert caught.value.retry_after == 7.0
    assert_no_canary(caught.value)


async def test_server_error_is_unavailable(client: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.faults.fail_next(500, body=b"Error fetching nft data", content_type="text/plain")

    with pytest.raises(ProviderUnavailable) as caught:
        await source_for(client, key=CANARY_KEY).fetch_holdings_page(
            SMALL_WALLET, Chain.ETHEREUM, None
        )

    assert_no_canary(caught.value)


async def test_non_json_200_is_bad_data(client: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.faults.body_override = b"<html><body>gateway hiccup</body></html>"

    with pytest.raises(ProviderBadData) as caught:
        await source_for(client, key=CANARY_KEY).fetch_holdings_page(
            SMALL_WALLET, Chain.ETHEREUM, None
        )

    assert_no_canary(caught.value)


async def test_error_body_echoing_the_path_is_redacted(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    echo = f"Cannot GET /nft/v3/{CANARY_KEY}/getNFTsForOwner".encode()
    emulator.faults.fail_next(404, body=echo, content_type="text/html")

    with pytest.raises(ProviderNotFound) as caught:
        await source_for(client, key=CANARY_KEY).fetch_holdings_page(
            SMALL_WALLET, Chain.ETHEREUM, None
        )

    assert "Cannot GET /nft/v3/" in str(caught.value)
    assert_no_canary(caught.value)


async def test_unreachable_host_is_unavailable_without_the_key() -> None:
    async with httpx.AsyncClient(transport=SandboxTransport({})) as c:
        with pytest.raises(ProviderUnavailable) as caught:
            await source_for(c, key=CANARY_KEY).fetch_holdings_page(
                SMALL_WALLET, Chain.ETHEREUM, None
            )

    assert_no_canary(caught.value)


# -- the request the adapter sends -----------------------------------------------------------


async def test_request_shape_matches_the_vendor_contract() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ownedNfts": [], "totalCount": 0, "pageKey": None})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as c:
        source = AlchemySource(c, api_key="k3y", page_size=500)
        await source.fetch_holdings_page(SMALL_WALLET, Chain.ARBITRUM, None)
        await source.fetch_holdings_page(SMALL_WALLET, Chain.OPTIMISM, "pk-1")

    first, second = seen
    assert first.url.host == "arb-mainnet.g.alchemy.com"
    assert first.url.path == "/nft/v3/k3y/getNFTsForOwner"
    assert dict(first.url.params) == {
        "owner": SMALL_WALLET,
        "withMetadata": "true",
        "pageSize": "100",  # capped at Alchemy's maximum
    }
    assert second.url.host == "opt-mainnet.g.alchemy.com"
    assert second.url.params["pageKey"] == "pk-1"


def test_source_is_an_nft_source_for_every_chain(client: httpx.AsyncClient) -> None:
    source = source_for(client)

    assert isinstance(source, NFTSource)
    assert source.name == "alchemy"
    assert all(source.supports(chain) for chain in Chain)


def test_base_url_without_network_placeholder_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="network"):
        AlchemySource(client, base_url="https://eth-mainnet.g.alchemy.com", api_key="k")
