"""Figure 8 of ``make bench``: the gateway's warm GraphQL page against a GraphQL Mesh +
Hive Gateway peer on the same emulators (issue 14: at least 20 times the peer's throughput).

The peer is what a team could assemble from off-the-shelf parts instead of this gateway:
Mesh Compose (``mesh-compose``, with ``@omnigraph/openapi``) turns two small OpenAPI
descriptions written for this bench, ``opensea.openapi.json`` (OpenSea's list-NFTs-by-account
route) and ``alchemy.openapi.json`` (Alchemy's ``getNFTsForOwner``), into a supergraph, and
Hive Gateway (``hive-gateway supergraph``: one process, its default settings, see
``gateway.config.ts``) serves it against the sandbox server the warm figures use, at their
latency. The bench's load driver (:func:`bench.__main__.drive`) then loads it as it loads the
gateway; its rounds follow the gateway's warm rounds rather than alternating with them, as
the two sides of the other ratios do (at a hundredth of the gateway's rate, the peer moves
the ratio far more than the machine's noise does).

What the peer does, next to the gateway's page (``PAGE_QUERY``, 50 NFTs of the whale wallet
with every field): :data:`PEER_QUERY` asks each vendor's list route once for 50 of the
wallet's Ethereum NFTs (the two calls run concurrently) and selects the fields of the page
those routes carry: ids, token standard, name, description, media, collection, traits, spam
classification and balance. What it does not do:

* merge: two lists as the vendors sent them, with no deduplication, provenance, single total,
  spam verdict or paging across chains (the gateway's page spans Ethereum and Polygon);
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
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.processes import HOST, free_port, process, wait_ready
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

Drive = Callable[[int, str, bytes, argparse.Namespace], dict[str, float]]


class PeerUnavailable(Exception):
    """Why the peer could not be measured on this machine; the table prints it."""


def peer_figure(emulator_port: int, args: argparse.Namespace, drive: Drive) -> dict[str, Any]:
    """The peer's median throughput on :data:`PEER_QUERY` over ``args.rounds`` rounds, or
    ``{"unavailable": reason}``."""
    try:
        node = _node()
        _install()
        with tempfile.TemporaryDirectory() as work:
            supergraph = _compose(node, emulator_port, Path(work))
            return _load(node, supergraph, args, drive)
    # The shared helpers end a bench with SystemExit (a server that never came up, load
    # answered with errors); for the peer that is a reason to print, not the end of the run.
    except (PeerUnavailable, SystemExit, OSError, subprocess.SubprocessError) as exc:
        reason = str(exc) or type(exc).__name__
    print(f"peer not measured: {reason}", file=sys.stderr)
    return {"unavailable": reason}


def peer_row(graphql_rps: float, peer: dict[str, Any]) -> tuple[str, str, str, str]:
    """Figure 8's table row: the gateway's warm GraphQL page rate over the peer's."""
    label = "8. GraphQL page, warm / Mesh + Hive Gateway peer (uncached)"
    if "unavailable" in peer:
        return label, "-", ">= 20", f"not measured: {peer['unavailable']}"
    return (
        label,
        f"{graphql_rps / peer['rps']:.1f}",
        ">= 20",
        f"{graphql_rps:.0f} vs {peer['rps']:.1f} req/s",
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


def _load(node: str, supergraph: Path, args: argparse.Namespace, drive: Drive) -> dict[str, Any]:
    port = free_port()
    serve = [
        str(PEER_DIR / "node_modules" / ".bin" / "hive-gateway"), "supergraph", str(supergraph),
        "--config-path", str(PEER_DIR / "gateway.config.ts"),
        "--host", HOST, "--port", str(port), "--fork", "1",  # one process, as the gateway's
    ]  # fmt: skip
    body = json.dumps({"query": PEER_QUERY, "variables": {"owner": WHALE_WALLET}}).encode()
    with process(serve, program=node):
        wait_ready(f"http://{HOST}:{port}/readiness")
        answer = _check(port, body)
        drive(port, "/graphql", body, argparse.Namespace(**{**vars(args), "duration": 1.0}))
        rounds = [drive(port, "/graphql", body, args) for _ in range(args.rounds)]
    return {
        "rps": statistics.median(r["rps"] for r in rounds),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "bytes": len(answer),
    }


def _check(port: int, body: bytes) -> bytes:
    """One request first: the peer must answer both full lists, without errors."""
    try:
        response = httpx.post(
            f"http://{HOST}:{port}/graphql",
            content=body,
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
    return response.content


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
