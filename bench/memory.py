"""Figure 6: memory per cached NFT, and memory after 100,000 distinct wallets.

Run in its own interpreter (``python -m bench.memory``) so nothing else is on the heap;
prints one JSON object. Python heap is measured with ``tracemalloc`` (allocations made by
Python code, which is where cached NFTs live).

1. Per cached NFT: the embedded sandbox (in process, no latency), the 10,000-NFT wallet
   walked to the end and its first page enriched; heap growth / NFTs held. Measured once
   the walk has published its snapshot (before that, the heap holds a half-encoded one),
   and divided by every NFT the walk holds, spam included (a client asking for spam is
   answered from the same holdings), not by the spam-filtered total.
2. Many wallets: a stub provider answering one NFT for any wallet, 100,000 distinct
   wallets asked for page 1; resident set growth after 1,000, 10,000 and 100,000 of them
   (RSS, not tracemalloc, which would triple the run time). Bounded means the last two
   are about equal (the service keeps a bounded number of walks and cache entries).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
import tracemalloc
from typing import Any

from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.cache.shared import BoundedMemoryCache, SharedCache
from gateway.nfts.merging import SpamFilter
from gateway.nfts.pages import ListWindow
from gateway.nfts.service import NFTService
from gateway.settings import Settings
from providers.models import Chain, HoldingsPage, NFTRecord, TokenStandard
from providers.sandbox import build_sandbox
from providers.sandbox.world import HUGE_WALLET

__all__ = ["main"]

WALLETS = 100_000
CHECKPOINTS = (1_000, 10_000, WALLETS)


def _heap() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _rss() -> int:
    gc.collect()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def per_cached_nft() -> dict[str, float]:
    settings = Settings(sandbox="on", request_deadline=120.0, exact_total_wait=120.0)
    app = create_app(settings, transport=build_sandbox().transport())
    async with LifespanManager(app):
        service = app.state.nft_service
        tracemalloc.start()
        before = _heap()
        started = time.perf_counter()
        # the last page needs the whole walk; then page 1 as a client would ask for it
        last = await service.list_holdings(HUGE_WALLET, ListWindow(9_950, 50, enrich=False))
        await service.list_holdings(HUGE_WALLET, ListWindow(0, 50))
        walk_seconds = time.perf_counter() - started
        await service.settled()
        after = _heap()
        tracemalloc.stop()
        every = await service.list_holdings(
            HUGE_WALLET, ListWindow(0, 1, spam=SpamFilter.INCLUDE, enrich=False)
        )
    held = max(every.total, 1)
    return {
        "nfts": every.total,
        "not_spam": last.total,
        "walk_seconds": round(walk_seconds, 1),
        "bytes_per_nft": (after - before) / held,
    }


class OneNFTSource:
    """Any wallet holds exactly one NFT: a provider that never costs I/O."""

    name = "stub"

    def supports(self, chain: Chain) -> bool:
        return True

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage:
        record = NFTRecord(
            source=self.name,
            chain=chain,
            contract_address="0x" + "ab" * 20,
            token_id=str(int(owner[-8:], 16)),
            token_standard=TokenStandard.ERC721,
            name="stub",
            spam_signals=(),
        )
        return HoldingsPage(records=(record,), total_count=1)


async def many_wallets(wallets: int = WALLETS) -> dict[str, Any]:
    settings = Settings(sandbox="off", chains=[Chain.ETHEREUM], field_priority={})
    cache = SharedCache(BoundedMemoryCache(max_entries=10_000))
    service = NFTService([OneNFTSource()], [], cache, settings)
    baseline = _rss()
    growth: dict[str, int] = {}
    started = time.perf_counter()
    try:
        checkpoints = {c for c in CHECKPOINTS if c < wallets} | {wallets}
        for index in range(1, wallets + 1):
            owner = f"0x{index:040x}"
            await service.list_holdings(owner, ListWindow(0, 20, enrich=False))
            if index in checkpoints:
                growth[str(index)] = _rss() - baseline
    finally:
        await service.aclose()
        await cache.close()
    return {"rss_growth_at": growth, "seconds": round(time.perf_counter() - started, 1)}


async def measure(wallets: int) -> dict[str, Any]:
    return {"per_nft": await per_cached_nft(), "wallets": await many_wallets(wallets)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--wallets", type=int, default=WALLETS)
    print(json.dumps(asyncio.run(measure(parser.parse_args().wallets))))


if __name__ == "__main__":
    main()
