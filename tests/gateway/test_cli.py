"""``nft-gateway nfts`` and ``nft-gateway dids``: the REST shim's answers, from a shell;
``serve`` on a taken port; help, version and exit statuses."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import pickle
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from click.testing import CliRunner, Result

from gateway.app import create_app
from gateway.cli import main, worker_app
from gateway.settings import Settings

WALLET = "0x1111111111111111111111111111111111111111"
BIG_WALLET = "0x2222222222222222222222222222222222222222"
REPO = Path(__file__).resolve().parents[2]
# When the providers were read differs between two gateways; every other byte must not.
FETCHED_AT = re.compile(rb'"fetched_at":"[0-9T:.Z-]+"')


def timeless(body: bytes) -> bytes:
    return FETCHED_AT.sub(b'"fetched_at":"<when>"', body)


def timeless_json(value: Any) -> Any:
    return json.loads(timeless(json.dumps(value, separators=(",", ":")).encode()))


@pytest.fixture(autouse=True)
def sandbox_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads the environment like ``serve``: pin it to the sandbox, and put the
    root logger back afterwards (the command installs its own handler)."""
    monkeypatch.setenv("NFTGW_SANDBOX", "on")
    # Generous waits: under a loaded machine an answer must still be the complete one, or
    # two runs of the same request could differ in their totals.
    monkeypatch.setenv("NFTGW_EXACT_TOTAL_WAIT", "30")
    monkeypatch.setenv("NFTGW_REQUEST_DEADLINE", "30")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def rest_bytes(kind: str, **body: Any) -> bytes:
    """The body the REST shim answers, from an app served the ordinary way."""

    async def call() -> bytes:
        app = create_app(Settings())
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return (await http.post(f"/users/cli/{kind}", json=body)).content

    return asyncio.run(call())


def rest(kind: str, **body: Any) -> Any:
    return json.loads(rest_bytes(kind, **body))


@pytest.mark.parametrize("wallet", [WALLET, "alice.bit"])
def test_nfts_json_is_the_rest_body_byte_for_byte(wallet: str) -> None:
    result = run("nfts", wallet, "--json", "--size", "5")
    assert result.exit_code == 0, result.stderr
    expected = rest_bytes("nfts", wallet_address=wallet, page=1, size=5)
    assert timeless(result.stdout_bytes) == timeless(expected)
    assert set(json.loads(expected)) >= {"total", "assets"}


def test_dids_json_is_the_rest_body_byte_for_byte() -> None:
    result = run("dids", "alice.bit", "--json")
    assert result.exit_code == 0, result.stderr
    expected = rest_bytes("dids", wallet_address="alice.bit")
    assert result.stdout_bytes == expected
    body = json.loads(expected)
    assert body["total"] == len(body["dids"]) > 0


def test_nfts_prints_a_table() -> None:
    result = run("nfts", WALLET)
    assert result.exit_code == 0, result.stderr
    assert "Pixel Punks #42" in result.stdout
    assert "page 1 of 1 · 11 of 11 NFTs (spam left out)" in result.stdout


def test_the_table_says_which_page_it_shows() -> None:
    result = run("nfts", WALLET, "--size", "3", "--page", "2")
    assert result.exit_code == 0, result.stderr
    assert "page 2 of 4 · 3 of 11 NFTs" in result.stdout


def test_big_balances_never_wrap_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    body = rest("nfts", wallet_address=WALLET, page=1, size=20)
    big = [str(a["quantity"]) for a in body["assets"] if a["quantity"] > 2**31]
    assert big, "the sandbox wallet holds balances above 2^31"
    result = run("nfts", WALLET)
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for quantity in big:
        assert any(quantity in line for line in lines), quantity


def test_an_nft_without_a_name_shows_the_gallerys_fallback() -> None:
    body = rest("nfts", wallet_address="alice.bit", page=1, size=20)
    nameless = [a["nft"] for a in body["assets"] if not a["nft"]["name"]]
    assert nameless, "the sandbox has NFTs without a name"
    result = run("nfts", "alice.bit", "--size", "20")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())  # columns may fold a long title
    for nft in nameless:
        assert f"{nft['collection_name']} #{nft['token_id']}" in text


def test_a_name_works_where_an_address_does() -> None:
    result = run("nfts", "alice.bit", "--size", "3")
    assert result.exit_code == 0, result.stderr
    assert "alice.bit" in result.stdout  # the caption says what the name resolved to


def test_dids_prints_a_table() -> None:
    result = run("dids", "alice.bit")
    assert result.exit_code == 0, result.stderr
    assert "alice.bit" in result.stdout
    assert "dotbit" in result.stdout


def test_all_walks_every_page_of_a_big_wallet() -> None:
    result = run("nfts", BIG_WALLET, "--all", "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    keys = [
        (a["nft"]["blockchain"], a["nft"]["contract_address"], a["nft"]["token_id"])
        for a in body["assets"]
    ]
    assert len(keys) == body["total"] > 100  # several pages of the largest size
    assert len(set(keys)) == len(keys)  # each NFT exactly once


def test_page_and_size_select_a_slice() -> None:
    whole = json.loads(run("nfts", WALLET, "--json", "--size", "6").stdout)
    second = json.loads(run("nfts", WALLET, "--json", "--size", "3", "--page", "2").stdout)
    assert timeless_json(second["assets"]) == timeless_json(whole["assets"][3:6])


def test_all_from_page_2_lists_the_pages_after_the_first_and_says_so() -> None:
    result = run("nfts", WALLET, "--all", "--size", "5", "--page", "2")
    assert result.exit_code == 0, result.stderr
    assert "6 of 11 NFTs, from page 2 every page of 5" in " ".join(result.stdout.split())
    body = json.loads(run("nfts", WALLET, "--all", "--size", "5", "--page", "2", "--json").stdout)
    whole = rest("nfts", wallet_address=WALLET, page=1, size=20)
    assert timeless_json(body["assets"]) == timeless_json(whole["assets"][5:])


@pytest.mark.parametrize(
    "args",
    [
        ["nfts", "not-a-wallet"],  # the gateway's INVALID_ADDRESS
        ["nfts", "bad name.bit"],  # INVALID_NAME
        ["nfts", WALLET, "--size", "0"],  # click's own range check
        ["nfts", WALLET, "--size", "500"],
        ["nfts", WALLET, "--page", "x"],
        ["nfts", WALLET, "--colour"],  # an unknown option
        ["nfts"],  # a missing argument
    ],
)
def test_every_input_mistake_exits_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""


def test_an_input_error_names_the_code_on_stderr() -> None:
    result = run("nfts", "not-a-wallet")
    assert "nft-gateway: INVALID_ADDRESS:" in result.stderr


def test_a_name_no_one_holds_exits_1() -> None:
    result = run("nfts", "expired.bit")
    assert result.exit_code == 1
    assert "NAME_NOT_FOUND" in result.stderr


def test_bad_input_with_json_prints_the_error_answer() -> None:
    result = run("nfts", "not-a-wallet", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "INVALID_ADDRESS"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_the_commands_and_exit_statuses(flag: str) -> None:
    result = run(flag)
    assert result.exit_code == 0
    for command in ("serve", "nfts", "dids", "export-schema"):
        assert command in result.stdout
    assert "Exit status" in result.stdout
    assert run("nfts", flag).exit_code == 0


def test_version_names_the_package_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("nft-gateway, version ")


async def test_a_serving_process_leaves_what_it_built_at_startup_out_of_collections() -> None:
    # A full collection walks every tracked object; once started, a serving process's own
    # (services, clients, schema, modules) are frozen, so its pauses no longer grow with them.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    frozen_before = gc.get_freeze_count()
    try:
        app = worker_app()  # what each `serve --workers N` process serves (`serve` alike)
        async with LifespanManager(app):
            service = app.state.nft_service
            assert gc.get_freeze_count() > frozen_before
            assert gc.is_tracked(service)
            assert not any(tracked is service for tracked in gc.get_objects())
    finally:
        gc.unfreeze()
        for handler in set(root.handlers) - set(handlers):  # worker_app's logging setup
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def test_serve_on_a_taken_port_names_it_and_how_to_choose_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port PORT or NFTGW_PORT=PORT" in done.stderr


def test_python_m_gateway_without_the_venv_says_how_to_run_it() -> None:
    # -S: no site-packages, as a system Python without the gateway's dependencies.
    done = subprocess.run(
        [sys.executable, "-S", "-m", "gateway", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert ".venv/bin/python -m gateway" in done.stderr
    assert "make install" in done.stderr


def test_the_cli_reads_the_same_settings_as_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NFTGW_CHAINS", "polygon")
    body = json.loads(run("nfts", WALLET, "--json").stdout)
    assert {asset["nft"]["blockchain"] for asset in body["assets"]} == {"POLYGON"}


async def test_served_connections_send_answers_without_waiting_for_acks() -> None:
    # Nagle's algorithm on a keep-alive connection holds an answer's last segment until the
    # client's delayed ACK (~40 ms a request); asyncio only turns it off on TCP sockets.
    from gateway.cli import _listen

    listener = _listen("127.0.0.1", 0)
    nodelay: list[int] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        nodelay.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=listener)
    async with server:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await writer.drain()
        while not nodelay:
            await asyncio.sleep(0.01)
        writer.close()
    assert nodelay == [1]


def test_served_answers_name_no_server_software() -> None:
    # A "server: uvicorn" header tells a scanner what to try; every answer keeps its Date.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serving = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0)
                break
            except httpx.TransportError:
                if serving.poll() is not None:
                    raise AssertionError("serve exited") from None
                time.sleep(0.1)
        else:
            raise AssertionError("serve did not answer")
    finally:
        serving.terminate()
        serving.wait(timeout=10)
    assert response.status_code == 200
    assert "server" not in response.headers
    assert "date" in response.headers


def test_each_worker_listens_on_a_socket_of_its_own_on_the_one_port() -> None:
    # What the supervisor sends a worker (multiprocessing's spawn pickling) arrives as a
    # new SO_REUSEPORT socket on the same address: the kernel then spreads connections
    # over the workers instead of one worker accepting every waiting connection.
    from multiprocessing.reduction import ForkingPickler

    from gateway.cli import _listen

    supervisor = _listen("127.0.0.1", 0, workers=2)
    port = supervisor.getsockname()[1]
    workers = [pickle.loads(ForkingPickler.dumps(supervisor)) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.fileno() != supervisor.fileno()
            assert worker.getsockname()[1] == port
            assert worker.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            worker.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # one of the workers' sockets took it
    finally:
        for sock in (supervisor, *workers):
            sock.close()


def test_workers_on_a_taken_port_name_it() -> None:
    from gateway.cli import PortInUse, _listen
    from gateway.http.server import serving_socket

    # Even a group several workers could join.
    taken = serving_socket(socket.AF_INET, reuse_port=True)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(PortInUse):
            _listen("127.0.0.1", taken.getsockname()[1], workers=2)
    finally:
        taken.close()


def test_without_so_reuseport_the_workers_share_one_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.cli import _listen
    from gateway.http.server import WorkerListener

    monkeypatch.delattr(socket, "SO_REUSEPORT")  # a platform without it
    shared = _listen("127.0.0.1", 0, workers=2)
    try:
        assert not isinstance(shared, WorkerListener)
        shared.listen()  # served as before: every worker on this one socket
    finally:
        shared.close()
