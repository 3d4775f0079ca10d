"""``nft-gateway nfts`` and ``nft-gateway dids``: the REST shim's answers, from a shell."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from click.testing import CliRunner, Result

from gateway.app import create_app
from gateway.cli import main
from gateway.settings import Settings

WALLET = "0x1111111111111111111111111111111111111111"
BIG_WALLET = "0x2222222222222222222222222222222222222222"


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


def rest(kind: str, **body: Any) -> Any:
    """What the REST shim answers, from an app served the ordinary way."""

    async def call() -> Any:
        app = create_app(Settings())
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return (await http.post(f"/users/cli/{kind}", json=body)).json()

    return asyncio.run(call())


def test_nfts_json_is_exactly_the_rest_answer() -> None:
    result = run("nfts", WALLET, "--json", "--size", "5")
    assert result.exit_code == 0, result.stderr
    expected = rest("nfts", wallet_address=WALLET, page=1, size=5)
    assert json.loads(result.stdout) == expected
    assert set(expected) >= {"total", "assets"}


def test_dids_json_is_exactly_the_rest_answer() -> None:
    result = run("dids", "alice.bit", "--json")
    assert result.exit_code == 0, result.stderr
    expected = rest("dids", wallet_address="alice.bit")
    assert json.loads(result.stdout) == expected
    assert expected["total"] == len(expected["dids"]) > 0


def test_nfts_prints_a_table() -> None:
    result = run("nfts", WALLET)
    assert result.exit_code == 0, result.stderr
    assert "Pixel Punks #42" in result.stdout
    assert "11 of 11 NFTs" in result.stdout


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
    assert second["assets"] == whole["assets"][3:6]


def test_bad_input_exits_1_with_the_gateway_error() -> None:
    result = run("nfts", "not-a-wallet")
    assert result.exit_code == 1
    assert "INVALID_ADDRESS" in result.stderr
    assert result.stdout == ""


def test_bad_input_with_json_prints_the_error_answer() -> None:
    result = run("nfts", "not-a-wallet", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "INVALID_ADDRESS"


def test_the_cli_reads_the_same_settings_as_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NFTGW_CHAINS", "polygon")
    body = json.loads(run("nfts", WALLET, "--json").stdout)
    assert {asset["nft"]["blockchain"] for asset in body["assets"]} == {"POLYGON"}
