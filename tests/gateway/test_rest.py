"""The REST shim against the sandbox: the documented shape, paging, errors."""

from __future__ import annotations

import httpx
import pytest

from providers.sandbox import Sandbox
from providers.sandbox.world import (
    BIG_BALANCE,
    EMPTY_WALLET,
    HUGE_BALANCE,
    SMALL_WALLET,
    WHALE_WALLET,
    world,
)
from tests.conftest import gateway_client, sandbox_settings

NFT_FIELDS = {
    "blockchain",
    "collection_name",
    "collection_slug",
    "collection_opensea_slug",
    "contract_address",
    "token_id",
    "name",
    "description",
    "image",
    "animation_url",
    "owner_addresses",
    "traits",
    "rarity",
    "is_nsfw",  # additive (issue 12): NSFW is shown and flagged, never hidden as spam
}


async def list_nfts(
    client: httpx.AsyncClient, wallet: str, page: int = 1, size: int = 20
) -> httpx.Response:
    return await client.post(
        "/users/u1/nfts", json={"wallet_address": wallet, "page": page, "size": size}
    )


def by_token(
    assets: list[dict], token_id: str, blockchain: str = "ETH", slug: str | None = None
) -> dict:
    return next(
        a
        for a in assets
        if a["nft"]["token_id"] == token_id
        and a["nft"]["blockchain"] == blockchain
        and slug in (None, a["nft"]["collection_slug"])
    )


async def test_answer_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    response = await list_nfts(client, SMALL_WALLET)

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["total"], int)
    assert body["assets"], "the small sandbox wallet holds NFTs"
    for asset in body["assets"]:
        assert set(asset["nft"]) == NFT_FIELDS
        assert isinstance(asset["quantity"], int)
        assert isinstance(asset["nft"]["traits"], list)
        assert asset["nft"]["blockchain"] in {"ETH", "POLYGON", "BASE", "ARBITRUM", "OPTIMISM"}


async def test_an_nft_both_providers_know_is_listed_once_with_the_best_of_each(
    client: httpx.AsyncClient,
) -> None:
    body = (await list_nfts(client, SMALL_WALLET)).json()
    punks = [a for a in body["assets"] if a["nft"]["token_id"] == "1337"]

    assert len(punks) == 1
    nft = punks[0]["nft"]
    # Alchemy does not know this collection's slug; OpenSea does, and ranks it.
    assert nft["collection_slug"] == "pixel-punks"
    assert nft["collection_opensea_slug"] == "pixel-punks"
    assert nft["collection_name"] == "Pixel Punks"
    assert nft["rarity"]["rank"] >= 1
    assert nft["rarity"]["total"] == 5000
    assert nft["traits"], "traits come from the token metadata"
    assert punks[0]["quantity"] == 1


async def test_single_provider_nfts_are_still_listed(client: httpx.AsyncClient) -> None:
    body = (await list_nfts(client, SMALL_WALLET)).json()
    assert by_token(body["assets"], "42")  # OpenSea only
    assert by_token(body["assets"], "3", "ARBITRUM")  # Alchemy only


async def test_erc1155_balances_beyond_32_and_64_bits_are_exact(client: httpx.AsyncClient) -> None:
    body = (await list_nfts(client, SMALL_WALLET)).json()
    badge = by_token(body["assets"], "7", slug="gold-badges")
    assert badge["quantity"] == BIG_BALANCE
    assert len(badge["nft"]["owner_addresses"]) == 2
    assert by_token(body["assets"], "1", "POLYGON")["quantity"] == HUGE_BALANCE


async def test_addresses_are_checksummed(client: httpx.AsyncClient) -> None:
    body = (await list_nfts(client, SMALL_WALLET)).json()
    for asset in body["assets"]:
        contract = asset["nft"]["contract_address"]
        assert contract.lower() != contract or not any(c.isalpha() for c in contract[2:])
    assert by_token(body["assets"], "4821")["nft"]["owner_addresses"] == ["0x" + "1" * 40]


async def test_ipfs_media_is_rewritten_to_the_gateway(client: httpx.AsyncClient) -> None:
    body = (await list_nfts(client, SMALL_WALLET)).json()
    ape = by_token(body["assets"], "7", slug="sandbox-apes")
    # The sandbox serves this animation only as an ipfs:// URI.
    assert ape["nft"]["animation_url"].startswith("https://ipfs.io/ipfs/bafy")


async def test_spam_is_excluded_and_total_agrees(client: httpx.AsyncClient) -> None:
    body = (await list_nfts(client, SMALL_WALLET, size=100)).json()
    names = [a["nft"]["collection_name"] for a in body["assets"]]
    assert "FREE AIRDROP CLAIM NOW" not in names
    assert body["total"] == len(body["assets"])


async def test_empty_wallet(client: httpx.AsyncClient) -> None:
    body = (await list_nfts(client, EMPTY_WALLET)).json()
    assert body["total"] == 0
    assert body["assets"] == []


async def test_paging_a_big_wallet_yields_every_nft_exactly_once(client: httpx.AsyncClient) -> None:
    first = (await list_nfts(client, WHALE_WALLET, page=1, size=37)).json()
    total = first["total"]
    seen: list[tuple[str, str, str]] = []
    page = 1
    while True:
        body = (await list_nfts(client, WHALE_WALLET, page=page, size=37)).json()
        assert body["total"] == total
        if not body["assets"]:
            break
        seen += [
            (a["nft"]["blockchain"], a["nft"]["contract_address"].lower(), a["nft"]["token_id"])
            for a in body["assets"]
        ]
        page += 1

    expected = {
        (n.chain, n.contract, n.token_id)
        for n in world().nfts.values()
        if WHALE_WALLET in n.holders and not n.collection.is_spam
    }
    assert len(seen) == len(set(seen)) == total == len(expected) >= 2000


async def test_a_page_past_the_end_is_empty_with_the_true_total(client: httpx.AsyncClient) -> None:
    body = (await list_nfts(client, SMALL_WALLET, page=50, size=20)).json()
    assert body["assets"] == []
    assert body["total"] > 0


async def test_one_provider_down_costs_only_its_data(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults("alchemy").fail_next(
        500, times=100, body=b"Internal Server Error", content_type="text/plain"
    )

    response = await list_nfts(client, SMALL_WALLET)

    assert response.status_code == 200
    body = response.json()
    assert by_token(body["assets"], "42")  # OpenSea's data is still there
    assert "alchemy=failed:unavailable" in response.headers["x-nftgw-providers"]
    alchemy = next(p for p in body["providers"] if p["provider"] == "alchemy")
    assert alchemy["status"] == "failed"
    assert alchemy["error"]["kind"] == "unavailable"


async def test_every_provider_down_is_a_503_with_retry_after(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    for name in ("opensea", "alchemy", "moralis"):
        sandbox.faults(name).fail_next(503, times=100)

    response = await list_nfts(client, SMALL_WALLET)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert int(response.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"wallet_address": "0x123", "page": 1, "size": 20}, "INVALID_ADDRESS"),
        (
            {"wallet_address": "0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13d", "page": 1, "size": 20},
            "INVALID_ADDRESS",
        ),
        ({"wallet_address": SMALL_WALLET, "page": 0, "size": 20}, "INVALID_PAGINATION"),
        ({"wallet_address": SMALL_WALLET, "page": 1, "size": 0}, "INVALID_PAGINATION"),
        ({"wallet_address": SMALL_WALLET, "page": 1, "size": 1000}, "INVALID_PAGINATION"),
        ({"wallet_address": SMALL_WALLET, "page": "x", "size": 20}, "INVALID_PAGINATION"),
        ({"page": 1, "size": 20}, "MISSING_FIELD"),
        ({"wallet_address": SMALL_WALLET, "size": 20}, "MISSING_FIELD"),
        ({"wallet_address": SMALL_WALLET, "page": 1}, "MISSING_FIELD"),
    ],
)
async def test_bad_input_is_a_422_with_a_code(
    client: httpx.AsyncClient, sandbox: Sandbox, body: dict, code: str
) -> None:
    response = await client.post("/users/u1/nfts", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert sandbox.faults("opensea").calls == sandbox.faults("alchemy").calls == 0


async def test_digit_strings_are_accepted_for_page_and_size(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users/u1/nfts", json={"wallet_address": SMALL_WALLET, "page": "1", "size": "5"}
    )
    assert response.status_code == 200
    assert len(response.json()["assets"]) == 5


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"not json", {"content-type": "application/json"}, 400, "BAD_REQUEST"),
        (b"[1, 2]", {"content-type": "application/json"}, 400, "BAD_REQUEST"),
        (b"[" * 5000 + b"]" * 5000, {"content-type": "application/json"}, 400, "BAD_REQUEST"),
        (b'{"wallet_address": "x"}', {"content-type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (
            b'{"a": "' + b"x" * 20_000 + b'"}',
            {"content-type": "application/json"},
            413,
            "BODY_TOO_LARGE",
        ),
    ],
)
async def test_malformed_bodies_are_4xx_json(
    client: httpx.AsyncClient, content: bytes, headers: dict, status: int, code: str
) -> None:
    response = await client.post("/users/u1/nfts", content=content, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_a_repeated_body_is_checked_against_each_gateways_own_limits(
    sandbox: Sandbox,
) -> None:
    # Checked bodies are kept by their bytes; the limits they were checked against are
    # part of what is kept, so the same bytes can pass on one gateway and fail on another.
    body = {"wallet_address": WHALE_WALLET, "page": 1, "size": 30}
    async with gateway_client(sandbox, sandbox_settings(max_page_size=50)) as roomy:
        first, again = [await roomy.post("/users/u1/nfts", json=body) for _ in range(2)]
    async with gateway_client(sandbox, sandbox_settings(max_page_size=20)) as strict:
        refused, refused_again = [await strict.post("/users/u1/nfts", json=body) for _ in range(2)]

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert len(first.json()["assets"]) == 30
    assert refused.status_code == refused_again.status_code == 422
    assert refused_again.json()["error"]["code"] == "INVALID_PAGINATION"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        " application/json ;x=1",
    ],
)
async def test_the_json_media_type_is_read_as_http_spells_it(
    client: httpx.AsyncClient, content_type: str
) -> None:
    body = b'{"wallet_address": "%s", "page": 1, "size": 2}' % SMALL_WALLET.encode()
    response = await client.post(
        "/users/u1/nfts", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == 200
    assert len(response.json()["assets"]) == 2


async def test_invalid_user_id_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users/bad%20id/nfts", json={"wallet_address": SMALL_WALLET, "page": 1, "size": 1}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_USER_ID"


async def test_wrong_verb_is_405_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/u1/nfts")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["allow"]
