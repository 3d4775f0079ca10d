"""Figure 2f: a warm page's p99 while big wallets walk cold in the same process, against
its p99 alone.

A gateway process serves every request on one event loop, so whatever a cold walk does in
one step (merge a provider's page of hundreds of NFTs, judge them, a full garbage
collection over what it holds) every warm answer of that moment waits for. The figure
loads the warm REST page (as figure 2 does) once alone and once while a 10,000-NFT and a
500-NFT wallet are walked beside it (their page 1 asked once each, at the default exact
wait, so the walks run to their end), on one gateway. One round each: a walk is cold
once. Informational: the issue's p99 goal is for warm load alone (figures 2b-2e).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any

import httpx

from bench.processes import HOST, gateway
from providers.sandbox.labelled import LABELLED_WALLET
from providers.sandbox.world import HUGE_WALLET

__all__ = ["stall_figure"]

Drive = Callable[[int, str, bytes, argparse.Namespace], dict[str, float]]
# Long enough to overlap the walks (about 5 s for 10,000 NFTs at the bench's 50 ms).
LOAD_SECONDS = 4.0


def stall_figure(
    emulator_port: int,
    args: argparse.Namespace,
    *,
    path: str,
    body: bytes,
    drive: Drive,
    warm_up: Callable[[str], None],
) -> dict[str, Any]:
    load = argparse.Namespace(**{**vars(args), "duration": LOAD_SECONDS})
    with gateway(emulator_port, NFTGW_SNAPSHOT_TTL="3600") as port:
        url = f"http://{HOST}:{port}"
        warm_up(url)
        drive(port, path, body, argparse.Namespace(**{**vars(args), "duration": 1.0}))
        alone = drive(port, path, body, load)
        walkers = [
            threading.Thread(target=_first_page, args=(url + path, wallet))
            for wallet in (HUGE_WALLET, LABELLED_WALLET)
        ]
        for walker in walkers:
            walker.start()
        during = drive(port, path, body, load)
        for walker in walkers:
            walker.join()
    return {
        "alone": alone,
        "during_walks": during,
        "p99_ratio": during["p99_ms"] / alone["p99_ms"],
    }


def _first_page(rest_url: str, wallet: str) -> None:
    """Page 1 of ``wallet`` from the REST page at ``rest_url``, which starts its walk and
    waits (up to the default exact-total wait) for it."""
    body = {"wallet_address": wallet, "page": 1, "size": 20}
    httpx.post(rest_url, json=body, timeout=60.0).raise_for_status()
