"""Recovery after a chain of faults (issue 16): OpenSea down, then Alchemy 429, then OpenSea
slow, then garbage, then every upstream healthy. Every provider must be ``ok`` within one
breaker opening of the recovery (30 s by default).

The breaker's durations are scaled down (open 0.5 s instead of 30 s) so the test runs in
seconds; it waits one opening after the recovery and then asks, so nothing here is timed:
what is asserted is which providers answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from providers.sandbox import Sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.conftest import sandbox_settings

OPEN_SECONDS = 0.5
SCALED = {
    "breaker_open_seconds": OPEN_SECONDS,
    "breaker_min_calls": 4,
    "breaker_window_seconds": 10.0,
    "provider_deadline": 0.3,
    "request_deadline": 2.0,
    "exact_total_wait": 1.5,
    "retry_max": 0,
    "rate_limit": "off",
}
BODY = {"wallet_address": SMALL_WALLET, "page": 1, "size": 20}


def statuses(response: httpx.Response) -> dict[str, str]:
    header = response.headers["x-nftgw-providers"]
    return dict(part.split("=", 1) for part in header.split(", "))


async def phase_for(http: httpx.AsyncClient, seconds: float) -> None:
    """Requests, one after another, for ``seconds``: long enough for the breaker to let
    probes meet the fault (a doubling open time would then grow with every phase)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until:
        await phase(http, 1)
        await asyncio.sleep(0.05)


async def phase(http: httpx.AsyncClient, requests: int = 4) -> list[dict[str, str]]:
    seen = []
    for _ in range(requests):
        response = await http.post("/users/u1/nfts", json=BODY)
        assert response.status_code in (200, 503)
        seen.append(statuses(response))
    return seen


async def test_every_provider_is_ok_within_one_opening_after_chained_faults(
    sandbox: Sandbox,
) -> None:
    opensea, alchemy = sandbox.faults("opensea"), sandbox.faults("alchemy")
    app = create_app(sandbox_settings(**SCALED), transport=sandbox.transport())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            opensea.status = 503  # OpenSea down: its breaker opens
            down = await phase(http)
            assert down[-1]["opensea"].startswith("failed")
            opensea.reset()
            alchemy.status, alchemy.retry_after = 429, "1"  # Alchemy throttles
            await phase_for(http, 2 * OPEN_SECONDS)
            alchemy.reset()
            opensea.latency = 1.0  # OpenSea slow: past the provider deadline
            await phase_for(http, 3 * OPEN_SECONDS)
            opensea.reset()
            opensea.body = "malformed"  # garbage
            await phase_for(http, 3 * OPEN_SECONDS)
            opensea.reset()  # every upstream healthy from here

            await asyncio.sleep(OPEN_SECONDS + 0.1)  # one opening (30 s unscaled)
            after: list[dict[str, str]] = []
            for _ in range(3):  # a wallet asks 5 chains: the first 3 calls are the probes
                after += await phase(http, 1)
                if all(status == "ok" for status in after[-1].values()):
                    break
            assert all(status == "ok" for status in after[-1].values()), after


async def test_a_walk_with_a_failed_provider_is_not_served_again(sandbox: Sandbox) -> None:
    """Failures are never cached: the next request walks again and sees the provider back."""
    overrides: dict[str, Any] = {**SCALED, "breaker_min_calls": 100}  # keep the breaker out
    app = create_app(sandbox_settings(**overrides), transport=sandbox.transport())
    opensea = sandbox.faults("opensea")
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            opensea.status = 503
            partial = await phase(http, 1)
            assert partial[0]["opensea"].startswith("failed")
            opensea.reset()
            again = await phase(http, 1)
            assert again[0]["opensea"] == "ok"


async def test_a_walk_an_upstream_refused_is_served_again_saying_so(sandbox: Sandbox) -> None:
    """A refusal (a 4xx other than 429) answers the same at once: the next request does not
    walk every stream again for it, and still says which provider failed and how."""
    app = create_app(sandbox_settings(**SCALED), transport=sandbox.transport())
    opensea = sandbox.faults("opensea")
    opensea.path_filter, opensea.status = "/chain/polygon/account", 404  # a chain it lacks
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            first = await http.post("/users/u1/nfts", json=BODY)
            again = await http.post("/users/u1/nfts", json=BODY)
    assert statuses(first)["opensea"] == statuses(again)["opensea"] == "partial:not_found"
    assert first.headers["x-nftgw-upstream-calls"] != "0"
    assert again.headers["x-nftgw-upstream-calls"] == "0"  # not walked again
    assert again.json()["assets"] == first.json()["assets"]


async def test_a_walk_every_provider_refused_is_not_walked_again(sandbox: Sandbox) -> None:
    """Keys every provider refuses: the answer is a 503 naming them, and the next request
    answers the same without asking them again (a 503 or a timeout would be asked again)."""
    names = ("opensea", "alchemy", "moralis")
    app = create_app(sandbox_settings(**SCALED), transport=sandbox.transport())
    for name in names:
        sandbox.faults(name).status = 401
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            first = await http.post("/users/u1/nfts", json=BODY)
            asked = sum(sandbox.faults(name).calls for name in names)
            again = await http.post("/users/u1/nfts", json=BODY)
            assert sum(sandbox.faults(name).calls for name in names) == asked
            for name in names:
                sandbox.faults(name).status = 503  # down now: that may answer otherwise
            other = await http.post(
                "/users/u2/nfts", json={**BODY, "wallet_address": "0x" + "7" * 40}
            )
            before = sum(sandbox.faults(name).calls for name in names)
            await http.post("/users/u2/nfts", json={**BODY, "wallet_address": "0x" + "7" * 40})
            walked_again = sum(sandbox.faults(name).calls for name in names) - before
    assert first.status_code == again.status_code == other.status_code == 503
    assert again.json() == first.json()
    assert asked > 0
    assert walked_again > 0
