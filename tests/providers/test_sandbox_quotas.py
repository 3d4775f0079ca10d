"""Alchemy's compute units a second and Etherscan's calls a second, as the emulators meter them."""

from __future__ import annotations

import httpx

from providers.sandbox.alchemy import alchemy_emulator
from providers.sandbox.nametag import RATE_LIMITED, nametag_emulator
from providers.sandbox.world import SMALL_WALLET, WHALE_WALLET


async def test_alchemy_free_tier_throttles_past_500_cu_a_second_over_10_s() -> None:
    emulator = alchemy_emulator()
    emulator.faults.quota_tier = "free"  # 5,000 CU per 10 s; a list call costs 100
    transport = httpx.ASGITransport(app=emulator.app)
    url = f"http://x/eth-mainnet/nft/v3/k/getNFTsForOwner?owner={WHALE_WALLET}&pageSize=1"
    async with httpx.AsyncClient(transport=transport) as client:
        answers = [await client.get(url) for _ in range(51)]
        other_key = await client.get(url.replace("/k/", "/k2/"))
    assert [a.status_code for a in answers] == [200] * 50 + [429]
    assert answers[-1].headers["retry-after"] == "1"
    assert "compute units per second" in answers[-1].text
    assert other_key.status_code == 200  # metered per key


async def test_alchemy_unmetered_by_default() -> None:
    emulator = alchemy_emulator()
    transport = httpx.ASGITransport(app=emulator.app)
    url = f"http://x/eth-mainnet/nft/v3/k/getNFTsForOwner?owner={SMALL_WALLET}&pageSize=1"
    async with httpx.AsyncClient(transport=transport) as client:
        answers = [await client.get(url) for _ in range(60)]
    assert {a.status_code for a in answers} == {200}


async def test_etherscan_allows_two_calls_a_second_per_key() -> None:
    emulator = nametag_emulator()
    emulator.faults.quota_tier = "standard"
    transport = httpx.ASGITransport(app=emulator.app)
    params = {
        "chainid": "1",
        "module": "nametag",
        "action": "getaddresstag",
        "address": SMALL_WALLET,
        "apikey": "k",
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        answers = [(await client.get("/v2/api", params=params)).json() for _ in range(3)]
    assert answers[2] == {"status": "0", "message": "NOTOK", "result": RATE_LIMITED}
    assert answers[0]["result"] != RATE_LIMITED
