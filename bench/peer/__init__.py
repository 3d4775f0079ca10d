"""Figure 8 of ``make bench``: the gateway's warm GraphQL page against a GraphQL Mesh +
Hive Gateway peer on the same emulators (issue 14: at least 20 times the peer's throughput).

The peer is what a team could assemble from off-the-shelf parts instead of this gateway:
Mesh Compose (``mesh-compose``, with ``@omnigraph/openapi``) turns two small OpenAPI
descriptions written for this bench, ``opensea.openapi.json`` (OpenSea's list-NFTs-by-account
route) and ``alchemy.openapi.json`` (Alchemy's ``getNFTsForOwner``), into a supergraph, and
Hive Gateway (``hive-gateway supergraph``: one process, its default settings, see
``gateway.config.ts``) serves it against the sandbox server the warm figures use, at their
latency. Beside it runs a warm gateway of its own, set as figure 1's, and the bench's load
driver loads the two in turns, round after round, as the two sides of every other ratio.

What the peer does, next to the gateway's page (``PAGE_QUERY``, 50 NFTs of the whale wallet
with every field): :data:`PEER_QUERY` asks each vendor's list route once for 50 of the
wallet's Ethereum NFTs (the two calls run concurrently) and selects the fields of the page
those routes carry: ids, token standard, name, description, media, collection, traits, spam
classification and balance. What it does not do:

* merge: two lists as the vendors sent them, with no deduplication, provenance, single total,
  spam verdict or paging across chains (the gateway pages over all of a wallet's chains, here
  Ethereum and Polygon);
* call per-NFT routes: no rarity and no owner lists, which the gateway adds on its cold path;
* cache: every request costs the peer both upstream round trips ("peer uncached"), where
  the warm gateway answers from its page cache. That difference is what the figure shows.

Its packages install with ``npm ci`` into ``bench/peer/node_modules`` from the committed lock
file (the npm registry only; about 500 MB, a minute or two) when that directory is missing or
older than the lock. A machine without Node.js 20 or the registry, or a peer that fails to
compose, start or answer, gives the reason in the table instead of a figure; the bench goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.processes import HOST, free_port, gateway, process, wait_ready
from providers.sandbox.world import WHALE_WALLET

__all__ = ["PEER_QUERY", "peer_figure", "peer_row"]

PEER_DIR = Path(__file__).parent
NODE_MAJOR = 20  # @graphql-hive/gateway's engines field
INSTALL_TIMEOUT = 600.0
COMPOSE_TIMEOUT = 120.0
PAGE_SIZE = 50

PEER_QUERY = """query PeerPage($owner: String!) {
  opensea: openseaAccountNfts(chain: "ethereum", address: $owner, limit: 50) {
    next
    nfts { identifier collection contract token_standard name description image_url
           display_animation_url original_animation_url is_disabled is_nsfw
           traits { trait_type value } }
  }
  alchemy: alchemyNftsForOwner(owner: $owner, pageSize: 50, withMetadata: true) {
    totalCount pageKey
    ownedNfts { tokenId tokenType name description balance
                image { cachedUrl originalUrl } animation { originalUrl }
                contract { address name tokenType isSpam spamClassifications
                           openSeaMetadata { collectionName collectionSlug } }
                collection { name slug }
                raw { metadata { attributes { trait_type value } } } }
  }
}"""

PEER_BODY = json.dumps({"query": PEER_QUERY, "variables": {"owner": WHALE_WALLET}}).encode()

Drive = Callable[[int, str, bytes, argparse.Namespace], dict[str, float]]
WarmUp = Callable[[str], None]


class PeerUnavailable(Exception):
    """Why the peer could not be measured on this machine; the table prints it."""


def peer_figure(
    emulator_port: int, args: argparse.Namespace, *, body: bytes, drive: Drive, warm_up: WarmUp
) -> dict[str, Any]:
    """A warm gateway's throughput on ``body`` (the bench's GraphQL page) and the peer's on
    :data:`PEER_QUERY`, medians of ``args.rounds`` rounds each; or ``{"unavailable": reason}``.

    ``warm_up(url)`` returns once the gateway at ``url`` answers the page from its cache."""
    try:
        node = _node()
        _install()
        with tempfile.TemporaryDirectory() as work:
            supergraph = _compose(node, emulator_port, Path(work))
            with (
                _peer(node, supergraph) as peer_port,
                gateway(emulator_port, NFTGW_SNAPSHOT_TTL="3600") as gateway_port,
            ):
                warm_up(f"http://{HOST}:{gateway_port}")
                targets = {
                    "gateway": (gateway_port, "/graphql", body),
                    "peer": (peer_port, "/graphql", PEER_BODY),
                }
                rps = _in_turns(targets, args, drive)
        return {"gateway_rps": rps["gateway"], "peer_rps": rps["peer"]}
    # The shared helpers end a bench with SystemExit (a server that never came up, load
    # answered with errors); for the peer that is a reason to print, not the end of the run.
    except (PeerUnavailable, SystemExit, OSError, subprocess.SubprocessError) as exc:
        reason = str(exc) or type(exc).__name__
    print(f"peer not measured: {reason}", file=sys.stderr)
    return {"unavailable": reason}


def peer_row(peer: dict[str, Any]) -> tuple[str, str, str, str]:
    """Figure 8's table row: the warm gateway's GraphQL page rate over the peer's."""
    label = "8. GraphQL page, warm / Mesh + Hive Gateway peer (uncached)"
    if "unavailable" in peer:
        return label, "-", ">= 20", f"not measured: {peer['unavailable']}"
    gateway_rps, peer_rps = peer["gateway_rps"], peer["peer_rps"]
    return (
        label,
        f"{gateway_rps / peer_rps:.1f}",
        ">= 20",
        f"{gateway_rps:.0f} vs {peer_rps:.1f} req/s",
    )


def _node() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        raise PeerUnavailable(f"the peer needs Node.js {NODE_MAJOR}+ and npm on PATH")
    version = _run([node, "--version"], 10.0, "node --version").strip()
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major.group(1)) < NODE_MAJOR:
        raise PeerUnavailable(f"the peer needs Node.js {NODE_MAJOR}+, found {version}")
    return node


def _install() -> None:
    """``npm ci`` unless node_modules is at least as new as the lock file (npm writes its
    own ``node_modules/.package-lock.json`` at the end of an install). Install scripts are
    skipped: none of the peer's packages needs one to run."""
    installed = PEER_DIR / "node_modules" / ".package-lock.json"
    lock = PEER_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("peer: npm ci into bench/peer/node_modules (about 500 MB) ...", file=sys.stderr)
    npm = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    _run(npm, INSTALL_TIMEOUT, "npm ci in bench/peer")


def _compose(node: str, emulator_port: int, work: Path) -> Path:
    """The supergraph of ``mesh.config.ts``, its upstream the emulator server on ``port``."""
    supergraph = work / "supergraph.graphql"
    compose = [node, str(PEER_DIR / "node_modules" / ".bin" / "mesh-compose")]
    env = {"PEER_UPSTREAM": f"http://{HOST}:{emulator_port}"}
    _run([*compose, "-o", str(supergraph)], COMPOSE_TIMEOUT, "mesh-compose", env)
    return supergraph


@contextlib.contextmanager
def _peer(node: str, supergraph: Path) -> Iterator[int]:
    """Hive Gateway serving ``supergraph``, once it answers :data:`PEER_QUERY` in full."""
    port = free_port()
    serve = [
        str(PEER_DIR / "node_modules" / ".bin" / "hive-gateway"), "supergraph", str(supergraph),
        "--config-path", str(PEER_DIR / "gateway.config.ts"),
        "--host", HOST, "--port", str(port), "--fork", "1",  # one process, as the gateway's
    ]  # fmt: skip
    with process(serve, program=node):
        wait_ready(f"http://{HOST}:{port}/readiness")
        _check(port)
        yield port


def _in_turns(
    targets: dict[str, tuple[int, str, bytes]], args: argparse.Namespace, drive: Drive
) -> dict[str, float]:
    """Each target's median rate: a short round each to warm connections (and Node.js's
    JIT), then ``args.rounds`` rounds of every target in turn."""
    brief = argparse.Namespace(**{**vars(args), "duration": 1.0})
    for target in targets.values():
        drive(*target, brief)
    rps: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, target in targets.items():
            rps[name].append(drive(*target, args)["rps"])
    return {name: statistics.median(rates) for name, rates in rps.items()}


def _check(port: int) -> None:
    """The peer must answer both full lists, without errors, before it is loaded."""
    try:
        response = httpx.post(
            f"http://{HOST}:{port}/graphql",
            content=PEER_BODY,
            headers={"content-type": "application/json"},
            timeout=30.0,
        )
        answer: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PeerUnavailable(f"the peer's first answer failed: {exc!r}") from None
    data = answer.get("data") or {}
    sizes = [len((data.get("opensea") or {}).get("nfts") or ()),
             len((data.get("alchemy") or {}).get("ownedNfts") or ())]  # fmt: skip
    if answer.get("errors") or sizes != [PAGE_SIZE, PAGE_SIZE]:
        raise PeerUnavailable(f"the peer answered {response.text[:300]!r}")


def _run(
    command: Sequence[str], timeout: float, what: str, env: dict[str, str] | None = None
) -> str:
    """``command`` run in bench/peer; its stdout, or :class:`PeerUnavailable` saying why."""
    try:
        done = subprocess.run(
            command,
            cwd=PEER_DIR,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"{what} did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise PeerUnavailable(f"{what} failed ({done.returncode}): {' | '.join(last)}")
    return done.stdout
