"""``python -m bench.quota``: what client traffic costs in OpenSea reads (issue 11).

Two figures, on the embedded sandbox in process (upstream calls are counted by the
emulators themselves, so the figures hold for any gateway version with the same routes):

1. **OpenSea reads per 1,000 client requests** under a Zipf(1.1) mix over 100,000 wallets
   of realistic sizes. Sizes are simulated: most wallets hold a handful of NFTs, a few hold
   thousands (a log-normal with median 12, capped at 2,000). Each request asks page 1 of
   its wallet at size 20, or, one time in four, the next page of a wallet already seen.
   Only the wallets the mix draws are built, so the run takes a minute or two, not hours.
2. **Cold wallet pages per hour an instant key sustains**: 600 reads an hour divided by the
   OpenSea reads a cold page 1 (size 20) costs, averaged over the distinct wallets drawn.

Run it on two commits to compare (the note of issue 11 gives before and after).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.settings import Settings
from providers.models import Chain, TokenStandard
from providers.sandbox import build_sandbox
from providers.sandbox.world import SandboxCollection, World, plain_nft

WALLETS = 100_000
ZIPF_S = 1.1
INSTANT_KEY_READS_PER_HOUR = 600
PAGE_SIZE = 20
COLLECTIONS = 40


def zipf_sampler(n: int, s: float, rng: random.Random) -> list[int]:
    """Wallet ranks 0..n-1 drawn by Zipf(s) (cumulative weights, bisected by random.choices)."""
    weights = [1 / (rank + 1) ** s for rank in range(n)]
    return rng.choices(range(n), cum_weights=list(_cumulative(weights)), k=1_000)


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def wallet_address(rank: int) -> str:
    return "0x" + f"{rank + 0x100:040x}"


def wallet_size(rank: int) -> int:
    rng = random.Random(rank)
    return max(1, min(2_000, int(math.exp(rng.gauss(math.log(12), 1.4)))))


def build_world(ranks: set[int]) -> World:
    """The drawn wallets: ERC-721s of a few dozen collections, some ranked, some not."""
    data = World()
    collections = [
        data.add_collection(
            SandboxCollection(
                Chain.ETHEREUM,
                "0x" + f"{0xC0 + c:040x}",
                f"bench-{c}",
                f"Bench {c}",
                TokenStandard.ERC721,
                100_000,
                ranked=c % 3 != 0,
            )
        )
        for c in range(COLLECTIONS)
    ]
    token = 0
    for rank in sorted(ranks):
        rng = random.Random(rank)
        for _ in range(wallet_size(rank)):
            token += 1
            collection = collections[rng.randrange(COLLECTIONS)]
            data.add_nft(plain_nft(collection, token, {wallet_address(rank): 1}))
    return data.finish()


async def run(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    draws = zipf_sampler(WALLETS, ZIPF_S, rng)
    sandbox = build_sandbox(build_world(set(draws)))
    settings = Settings(sandbox="on", chains=[Chain.ETHEREUM], exact_total_wait=5.0)
    app = create_app(settings, transport=sandbox.transport())
    opensea = sandbox.faults("opensea")
    seen: dict[int, int] = {}  # rank -> last page asked
    cold_costs: list[int] = []
    started = time.perf_counter()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for rank in draws:
                page = 1
                if rank in seen and rng.random() < 0.25:
                    page = seen[rank] + 1
                    if (page - 1) * PAGE_SIZE >= wallet_size(rank):
                        page = 1
                before = opensea.calls
                body = {"wallet_address": wallet_address(rank), "page": page, "size": PAGE_SIZE}
                response = await http.post("/users/u1/nfts", json=body)
                response.raise_for_status()
                if rank not in seen:
                    cold_costs.append(opensea.calls - before)
                seen[rank] = page
    reads = opensea.calls
    per_cold_page = sum(cold_costs) / len(cold_costs)
    return {
        "requests": len(draws),
        "distinct_wallets": len(seen),
        "opensea_reads_per_1000_requests": round(reads * 1000 / len(draws), 1),
        "opensea_reads_per_cold_page": round(per_cold_page, 2),
        "cold_pages_per_hour_on_an_instant_key": round(
            INSTANT_KEY_READS_PER_HOUR / per_cold_page, 1
        ),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quota", description=__doc__)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    for name, value in asyncio.run(run(args.seed)).items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
