"""The README's commands run as printed: the CLI lines on the sandbox, in process, and the
one-machine replica recipe sets every upstream's base URL (so it needs no network)."""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def shell_lines() -> list[str]:
    """Every command line of the README's ``sh`` blocks, continuations joined."""
    lines = []
    for block in SHELL_BLOCKS:
        lines.extend(line.strip() for line in block.replace("\\\n", " ").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def cli_lines() -> list[str]:
    """The CLI commands that answer and exit (``serve`` runs until stopped: the replica
    tests in ``tests/test_replicas.py`` serve for real)."""
    return [
        line
        for line in shell_lines()
        if line.startswith(".venv/bin/nft-gateway ") and " serve " not in f"{line} "
    ]


@pytest.fixture(autouse=True)
def sandbox_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NFTGW_SANDBOX", "on")
    monkeypatch.setenv("NFTGW_EXACT_TOTAL_WAIT", "30")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_every_documented_command_names_the_program_where_make_puts_it() -> None:
    # `nft-gateway` and `python -m gateway` alone are "command not found" or a Python
    # without the dependencies on a fresh clone: the README says where they are.
    for line in shell_lines():
        for word in shlex.split(line.split(" | ")[0].replace("&", " ")):
            assert word != "nft-gateway", line
            assert not (word == "python" or word.startswith("python3")), line


def test_the_cli_section_lists_commands() -> None:
    assert len(cli_lines()) >= 6


@pytest.mark.parametrize("line", cli_lines(), ids=lambda line: line[len(".venv/bin/") :][:60])
def test_each_cli_command_of_the_readme_runs_as_printed(line: str) -> None:
    command = line.split(" | ")[0].split("  #")[0].strip().rstrip("&").strip()
    args = shlex.split(command)[1:]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, (line, result.stderr)
    assert result.stdout_bytes


def test_the_one_machine_recipe_points_every_upstream_at_the_emulators() -> None:
    recipe = next(block for block in SHELL_BLOCKS if "providers.sandbox.server" in block)
    documented = set(re.findall(r"`(NFTGW_\w+_BASE_URL)`", README))
    assert {"NFTGW_DOTBIT_BASE_URL", "NFTGW_NEXTID_BASE_URL"} <= documented
    set_here = dict(re.findall(r"(NFTGW_\w+_BASE_URL)='?([^\s']+)", recipe))
    assert set(set_here) == documented
    assert all(url.startswith("http://127.0.0.1:8101/") for url in set_here.values())
    assert "NFTGW_SANDBOX=off" in recipe
