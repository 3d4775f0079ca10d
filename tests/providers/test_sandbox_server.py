"""The emulator server: every emulator on one real port, routed by Host or path prefix.

One real uvicorn in a subprocess over loopback (bounded by timeouts), plus the
command-line ``--set`` parsing, which must work for any fault switch by name.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from providers.sandbox import build_sandbox
from providers.sandbox.faults import FaultSwitches
from providers.sandbox.server import apply_setting, parse_value
from providers.sandbox.world import TINY_WALLET

START_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    command = [
        sys.executable, "-m", "providers.sandbox.server", "--port", str(port),
        "--set", "alchemy.latency=0.05", "--set", "opensea.path_filter=/collections/",
    ]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                httpx.get(f"{base}/_sandbox/calls", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        child.terminate()
        child.wait(timeout=10)
        assert child.stderr is not None
        child.stderr.close()


def test_path_prefixes_reach_each_emulator(server: str) -> None:
    opensea = httpx.get(
        f"{server}/opensea/api/v2/chain/ethereum/account/{TINY_WALLET}/nfts",
        headers={"x-api-key": "k"},
        timeout=10.0,
    )
    alchemy = httpx.get(
        f"{server}/alchemy/eth-mainnet/nft/v3/k/getNFTsForOwner",
        params={"owner": TINY_WALLET},
        timeout=10.0,
    )
    assert opensea.status_code == 200 and opensea.json()["nfts"]
    assert alchemy.status_code == 200 and alchemy.json()["ownedNfts"]


def test_host_suffixes_reach_each_emulator(server: str) -> None:
    alchemy = httpx.get(
        f"{server}/nft/v3/k/getNFTsForOwner",
        params={"owner": TINY_WALLET},
        headers={"host": "eth-mainnet.alchemy.sandbox"},
        timeout=10.0,
    )
    assert alchemy.status_code == 200 and alchemy.json()["ownedNfts"]


def test_switches_from_the_command_line_apply_and_calls_are_counted(server: str) -> None:
    httpx.post(f"{server}/_sandbox/reset-calls", timeout=5.0)
    started = time.monotonic()
    httpx.get(
        f"{server}/alchemy/eth-mainnet/nft/v3/k/getNFTsForOwner",
        params={"owner": TINY_WALLET},
        timeout=10.0,
    )
    assert time.monotonic() - started >= 0.05  # alchemy.latency=0.05
    httpx.get(
        f"{server}/opensea/api/v2/chain/ethereum/account/{TINY_WALLET}/nfts",
        headers={"x-api-key": "k"},
        timeout=10.0,
    )
    calls = httpx.get(f"{server}/_sandbox/calls", timeout=5.0).json()
    assert calls["alchemy"] == 1
    assert calls["opensea"] == 0  # path_filter=/collections/: list calls are not affected


def test_unknown_prefix_is_a_404(server: str) -> None:
    assert httpx.get(f"{server}/nowhere/x", timeout=5.0).status_code == 404


def test_any_switch_is_settable_by_name() -> None:
    sandbox = build_sandbox()
    apply_setting(sandbox, "opensea.latency=0.25")
    apply_setting(sandbox, "*.body_override=<html>")
    apply_setting(sandbox, "alchemy.path_filter=none")
    assert sandbox.faults("opensea").latency == 0.25
    assert sandbox.faults("alchemy").body_override == b"<html>"
    assert sandbox.faults("alchemy").path_filter is None
    assert parse_value(FaultSwitches, "calls", "3") == 3


@pytest.mark.parametrize(
    "assignment", ["opensea.nope=1", "nobody.latency=1", "opensea.latency", "opensea.latency=x"]
)
def test_bad_assignments_are_refused(assignment: str) -> None:
    with pytest.raises(ValueError):
        apply_setting(build_sandbox(), assignment)
