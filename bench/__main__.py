"""``python -m bench`` (``make bench``): the figures of issues 6 and 14, measured in one run.

Everything runs over loopback in separate processes: the sandbox emulators
(``providers.sandbox.server``) with a set latency, the gateway (uvicorn) pointed at them
through its ordinary base URL settings, a bare Starlette app answering the very bytes the
gateway answers (the yardstick, harness only), and the load driver (``bench.driver``). Every figure
is a ratio of two numbers measured in the same run; throughput figures are medians of
several rounds, the two sides of a ratio loaded in turns. Bounded: each load round has a
fixed duration and request cap, each process a start timeout, and the whole run stays
within about five minutes on 2 cores.

Figure 2f (:mod:`bench.stalls`) loads the warm page again while big wallets walk cold in
the same process. Figure 3g (:mod:`bench.calls`) times the gateway's CPU per upstream call
against aiohttp's alone, in this process. Figure 8 loads a GraphQL Mesh + Hive Gateway peer
on the same emulators (:mod:`bench.peer`; Node.js and, on the first run, the npm registry);
without them its row says why.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.calls import call_cost_figure
from bench.cold import COLD_ENV, cold_figures
from bench.peer import peer_figure, peer_row
from bench.processes import HOST, free_port, gateway, process, wait_ready
from bench.stalls import stall_figure
from bench.workers import cold_burst_figure, workers_figure
from bench.wrk import available as wrk_available
from bench.wrk import run_wrk
from providers.sandbox.world import WHALE_WALLET

PAGE_QUERY = """query Page($a: String!) {
  wallet(address: $a) {
    address
    nfts(page: 1, size: 50) {
      total totalIsExact page size hasNextPage
      assets {
        quantity quantityInt quantityKnown
        nft { blockchain chain contractAddress tokenId tokenStandard name description image
              animationUrl collectionName collectionSlug collectionOpenseaSlug ownerAddresses
              traits { type value } rarity { rank score total } isSpam sources
              provenance { field provider } }
      }
      providers { provider status errorKind errorMessage failedChains }
    }
  }
}"""


# What the gallery (gateway/static/gallery-api.js) asks for a wallet: a 12-NFT page and,
# beside it, the spam count.
GALLERY_QUERY = """query GalleryWalletPage($input: String!, $page: Int!, $size: Int!,
    $chains: [Chain!], $spam: SpamFilter!) {
  wallet(address: $input) {
    address
    nfts(page: $page, size: $size, chains: $chains, spam: $spam) {
      total totalIsExact page size hasNextPage
      providers { provider status errorKind errorMessage failedChains }
      assets {
        quantity quantityKnown
        nft { blockchain chain contractAddress tokenId tokenStandard
              name description image animationUrl
              collectionName collectionSlug collectionOpenseaSlug
              ownerAddresses isSpam sources
              traits { type value } rarity { rank score total } provenance { field provider } }
      }
    }
    spamCount: nfts(page: 1, size: 1, chains: $chains, spam: ONLY) { total }
  }
}"""
REST_PATH = "/users/bench/nfts"
GALLERY_VARIABLES = {
    "input": WHALE_WALLET,
    "page": 1,
    "size": 12,
    "chains": None,
    "spam": "EXCLUDE",
}


def drive(port: int, path: str, body: bytes, args: argparse.Namespace) -> dict[str, float]:
    """One load round on ``path``: wrk when it is installed (``--driver``), else the
    Python driver."""
    if _driver(args) == "wrk":
        result = run_wrk(port, path, body, connections=args.connections, duration=args.duration)
        if result["errors"] or not result["requests"]:
            raise SystemExit(f"load on {path} failed: {result}")
        return result
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        command = [
            sys.executable, "-m", "bench.driver", "--port", str(port), "--path", path,
            "--method", "POST", "--body-file", file.name, "--connections",
            str(args.connections), "--duration", str(args.duration),
            "--max-requests", str(args.max_requests),
        ]  # fmt: skip
        output = subprocess.run(
            command, check=True, capture_output=True, timeout=args.duration + 30
        ).stdout
    result: dict[str, float] = json.loads(output)
    if result["errors"] or not result["requests"]:
        raise SystemExit(f"load on {path} failed: {result}")
    return result


# -- figures 1 and 2: warm throughput against the bare route ------------------------------


def warm_figures(emulator_port: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    graphql_body = _page_body()
    gallery_body = json.dumps({"query": GALLERY_QUERY, "variables": GALLERY_VARIABLES}).encode()
    rest_body, rest_path = _rest_body(), REST_PATH
    # warm means warm: the walk stays cached for the whole measurement
    with gateway(emulator_port, NFTGW_SNAPSHOT_TTL="3600") as port:
        url = f"http://{HOST}:{port}"
        _wait_for_complete_walk(url, graphql_body)
        answers = {}
        requests = (
            ("graphql", "/graphql", graphql_body),
            ("gallery", "/graphql", gallery_body),
            ("rest", rest_path, rest_body),
        )
        for name, path, body in requests:
            headers = {"content-type": "application/json"}
            response = httpx.post(url + path, content=body, timeout=60.0, headers=headers)
            response.raise_for_status()
            answers[name] = response.content
            (work / f"{name}.json").write_bytes(response.content)
        graphql_answer = json.loads(answers["graphql"])
        for name in ("graphql", "gallery"):
            assert "errors" not in json.loads(answers[name]), answers[name][:500]
        assets = graphql_answer["data"]["wallet"]["nfts"]["assets"]
        bare_port = free_port()
        bare_args = ["-m", "bench.bare", "--port", str(bare_port)]
        bare_args += [f"--body={name}={work / f'{name}.json'}" for name in answers]
        with process(bare_args):
            wait_ready(f"http://{HOST}:{bare_port}/graphql")
            # Each side of a ratio right after the other, round after round.
            targets = {
                "graphql": (port, "/graphql", graphql_body),
                "bare_graphql": (bare_port, "/graphql", graphql_body),
                "gallery": (port, "/graphql", gallery_body),
                "bare_gallery": (bare_port, "/gallery", gallery_body),
                "rest": (port, rest_path, rest_body),
                "bare_rest": (bare_port, "/rest", rest_body),
            }
            warm = argparse.Namespace(**{**vars(args), "duration": 1.0})
            for target in targets.values():
                drive(*target, warm)
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, target in targets.items():
                    rounds[name].append(drive(*target, args))
    med = {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for name, results in rounds.items()
    }
    return {
        "assets": len(assets),
        "fields": _count_leaves(graphql_answer["data"]),
        "bytes": len(answers["graphql"]),
        "median": med,
        "graphql_vs_bare": med["graphql"]["rps"] / med["bare_graphql"]["rps"],
        "gallery_vs_bare": med["gallery"]["rps"] / med["bare_gallery"]["rps"],
        "rest_vs_bare": med["rest"]["rps"] / med["bare_rest"]["rps"],
        **{
            f"{name}_p99_vs_p50": med[name]["p99_ms"] / med[name]["p50_ms"]
            for name in ("rest", "graphql", "gallery", "bare_rest")
        },
    }


def _ceiling_row(workers: dict[str, Any]) -> tuple[str, str, str, str]:
    name = "7c. figure 7 / what the cores allow beside the driver (**)"
    if "ceiling" not in workers:
        return (name, "-", "(info)", "no /proc/stat here: the cores' use is unknown")
    busy = workers["busy_cores"]
    return (
        name,
        f"{workers['vs_ceiling']:.2f}",
        "(info)",
        f"ceiling {workers['ceiling']:.2f}: {busy[1]:.2f} cores busy with one worker, "
        f"{busy[2]:.2f} with two",
    )


def _driver(args: argparse.Namespace) -> str:
    if args.driver == "auto":
        return "wrk" if wrk_available() else "python"
    return str(args.driver)


def _page_body() -> bytes:
    return json.dumps({"query": PAGE_QUERY, "variables": {"a": WHALE_WALLET}}).encode()


def _rest_body() -> bytes:
    return json.dumps({"wallet_address": WHALE_WALLET, "page": 1, "size": 50}).encode()


def _warm_up(url: str) -> None:
    _wait_for_complete_walk(url, _page_body())


def _wait_for_complete_walk(url: str, graphql_body: bytes) -> None:
    """Ask until the wallet's walk is complete (``totalIsExact``), so rounds measure a
    warm gateway and not a walk still running beside them."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = httpx.post(url + "/graphql", content=graphql_body, timeout=60.0,
                              headers={"content-type": "application/json"})  # fmt: skip
        page = response.json()["data"]["wallet"]["nfts"]
        if page["totalIsExact"]:
            return
        time.sleep(0.5)
    raise SystemExit("the benchmark wallet's walk did not complete in 120 s")


def _count_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_count_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_leaves(v) for v in value) or 1
    return 1


# -- the table ----------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        names = (line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
        model = next(names, model)
    return f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}"


def table(
    warm: dict[str, Any],
    stalls: dict[str, Any],
    peer: dict[str, Any],
    workers: dict[str, Any],
    cold: dict[str, Any],
    calls: dict[str, Any],
    memory: dict[str, Any],
    args: Any,
) -> str:
    med = warm["median"]
    cpu = calls["cpu_us_per_call"]
    per_nft = memory["per_nft"]["bytes_per_nft"]
    rss = memory["wallets"]["rss_growth_at"]
    last = list(rss)[-1]
    tiny = cold["tiny_cold_ms"]
    burst = workers["cold_burst"]
    documented = cold["herd_without_batch_routes"]
    rows = [
        ("1. GraphQL 50-NFT page, every field / bare route",
         f"{warm['graphql_vs_bare']:.3f}", ">= 0.8",
         f"{med['graphql']['rps']:.0f} vs {med['bare_graphql']['rps']:.0f} req/s"),
        ("1b. GraphQL gallery query / bare route",
         f"{warm['gallery_vs_bare']:.3f}", ">= 0.8",
         f"{med['gallery']['rps']:.0f} vs {med['bare_gallery']['rps']:.0f} req/s"),
        ("2. REST page / bare route (throughput)",
         f"{warm['rest_vs_bare']:.3f}", ">= 0.8",
         f"{med['rest']['rps']:.0f} vs {med['bare_rest']['rps']:.0f} req/s"),
        *[
            (f"2{letter}. {name} p99 / p50 at {args.connections} connections",
             f"{warm[f'{key}_p99_vs_p50']:.2f}", "<= 3",
             f"p50 {med[key]['p50_ms']:.1f} ms, p99 {med[key]['p99_ms']:.1f} ms")
            for letter, name, key in (
                ("b", "REST", "rest"), ("c", "GraphQL", "graphql"),
                ("d", "gallery", "gallery"), ("e", "bare route (yardstick)", "bare_rest"),
            )
        ],
        ("2f. REST p99 while 10,000- and 500-NFT wallets walk cold / alone",
         f"{stalls['p99_ratio']:.1f}", "(info)",
         f"p99 {stalls['during_walks']['p99_ms']:.1f} ms vs {stalls['alone']['p99_ms']:.1f} ms, "
         f"p50 {stalls['during_walks']['p50_ms']:.1f} vs {stalls['alone']['p50_ms']:.1f}"),
        (f"3. cold 20-NFT page / one round trip at {cold['latency_ms']:.0f} ms (*)",
         f"{cold['cold_vs_round_trip']['both']:.2f}", "<= 2.2",
         f"{tiny['both']:.0f} ms vs {cold['round_trip_ms']:.0f} ms"),
        *[
            (f"3{letter}. the same, {name} alone (*)",
             f"{cold['cold_vs_round_trip'][name]:.2f}", "<= 2.2",
             f"{tiny[name]:.0f} ms vs {cold['round_trip_ms']:.0f} ms")
            for letter, name in (("b", "opensea"), ("c", "alchemy"))
        ],
        *[
            (f"3{letter}. the same, {name}, OpenSea without batch routes (*)",
             f"{cold['cold_without_batch_routes_vs_round_trip'][key]:.2f}", "<= 2.2",
             "per-NFT and per-collection GETs")
            for letter, name, key in (("d", "both", "both"), ("e", "OpenSea alone", "opensea"))
        ],
        ("3f. the same, both, the cache shared in Redis as by replicas (*)",
         f"{cold['cold_with_redis_vs_round_trip']:.2f}", "<= 2.2",
         f"{cold['cold_with_redis_ms']:.0f} ms vs {cold['round_trip_ms']:.0f} ms"),
        ("3g. CPU per upstream call, the gateway's client / aiohttp alone",
         f"{calls['gateway_vs_aiohttp']:.2f}", "(info)",
         f"{cpu['gateway']:.0f} vs {cpu['aiohttp']:.0f} us "
         f"(through httpx's API: {cpu['httpx_api']:.0f} us)"),
        ("4. upstream calls, 100 concurrent cold / one request",
         f"{cold['herd_ratio']:.2f}", "1.0",
         f"{cold['calls_100_concurrent']} vs {cold['calls_one_request']} calls"),
        ("4b. the same, OpenSea without batch routes",
         f"{documented['ratio']:.2f}", "1.0",
         f"{documented['calls_100_concurrent']} vs {documented['calls_one_request']} calls"),
        ("5. page-1 cold latency, 10,000-NFT / 20-NFT wallet (*)",
         f"{cold['huge_vs_tiny']:.2f}", "<= 2",
         f"{cold['huge_cold_ms']:.0f} ms vs {tiny['both']:.0f} ms"),
        ("6. memory per cached NFT",
         f"{per_nft / 1024:.2f} KB", "<= 2 KB",
         f"{memory['per_nft']['nfts']} NFTs walked and held"),
        (f"6b. RSS growth at {' / '.join(rss)} distinct wallets",
         f"{rss[last] / 2**20:.0f} MB", "bounded",
         " / ".join(f"{int(v) / 2**20:.0f}" for v in rss.values()) + " MB"),
        ("7. REST throughput, serve --workers 2 / one worker (**)",
         f"{workers['ratio']:.2f}", ">= 1.7",
         f"{workers['two_rps']:.0f} vs {workers['one_rps']:.0f} req/s"),
        ("7b. upstream calls, 100 concurrent cold over --workers 2 / one request",
         f"{burst['ratio']:.2f}", "1.0",
         f"{burst['calls_100_concurrent']} vs {burst['calls_one_request']} calls"),
        _ceiling_row(workers),
        peer_row(peer),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    lines = [
        f"machine: {machine()}",
        f"load: {_driver(args)}; emulator latency {args.latency * 1000:.0f} ms, "
        f"{args.connections} connections, "
        f"{args.rounds} rounds x {args.duration:.0f} s (medians); page: {warm['assets']} NFTs, "
        f"{warm['fields']} leaf values, {warm['bytes']} bytes",
        "",
        f"{'figure'.ljust(width)}  {'value':>9}  {'goal':>8}  measured",
    ]
    lines += [f"{r[0].ljust(width)}  {r[1]:>9}  {r[2]:>8}  {r[3]}" for r in rows]
    lines += [
        "(*) figures 3 and 5: gateway run with "
        + " ".join(f"{k}={v}" for k, v in COLD_ENV.items())
        + " (the default waits up to 8 s for an exact total)",
        f"(**) the load driver shares the {os.cpu_count()} cores with the workers; "
        "both servers share one Redis",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--latency", type=float, default=0.05, help="emulator latency, s")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per load round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000)
    # Figures 3 and 5 sit within a few percent of their goals; a median of three fresh
    # gateways moved by 0.04-0.06 from run to run on one host; five move it less.
    parser.add_argument(
        "--cold-rounds", type=int, default=5, help="fresh gateways per cold figure (median)"
    )
    parser.add_argument(
        "--cold-latency", type=float, default=0.1, help="upstream latency of figures 3 and 5, s"
    )
    parser.add_argument("--wallets", type=int, default=100_000, help="figure 6b's wallet count")
    parser.add_argument(
        "--driver",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk (when installed: apt-get install wrk) or bench.driver",
    )
    parser.add_argument("--json", type=Path, help="also write every number here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    emulator_port = free_port()
    emulator = ["-m", "providers.sandbox.server", "--port", str(emulator_port)]
    emulator += ["--latency", str(args.latency)]
    with tempfile.TemporaryDirectory() as tmp, process(emulator):
        wait_ready(f"http://{HOST}:{emulator_port}/_sandbox/calls")
        print("warm throughput ...", file=sys.stderr)
        warm = warm_figures(emulator_port, args, Path(tmp))
        print("warm latency while big wallets walk ...", file=sys.stderr)
        # The warm REST page as figure 2 loads it, loaded again by figures 2f and 7.
        rest_page: dict[str, Any] = {
            "path": REST_PATH,
            "body": _rest_body(),
            "drive": drive,
            "warm_up": _warm_up,
        }
        stalls = stall_figure(emulator_port, args, **rest_page)
        print("GraphQL Mesh + Hive Gateway peer ...", file=sys.stderr)
        peer = peer_figure(
            emulator_port,
            args,
            body=_page_body(),
            drive=drive,
            warm_up=_warm_up,
        )
        print("two workers ...", file=sys.stderr)
        workers = workers_figure(emulator_port, args, **rest_page)
        workers["cold_burst"] = cold_burst_figure(emulator_port, args)
        print("cold latency and upstream calls ...", file=sys.stderr)
        cold = cold_figures(emulator_port, args)
    print("CPU per upstream call ...", file=sys.stderr)
    calls = call_cost_figure()
    print("memory ...", file=sys.stderr)
    memory = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bench.memory", "--wallets", str(args.wallets)],
            check=True,
            capture_output=True,
            timeout=600,
        ).stdout
    )
    print(table(warm, stalls, peer, workers, cold, calls, memory, args))
    print(f"\n(bench took {time.monotonic() - started:.0f} s)")
    if args.json:
        figures = {
            "warm": warm,
            "stalls": stalls,
            "peer": peer,
            "workers": workers,
            "cold": cold,
            "calls": calls,
            "memory": memory,
        }
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
