"""The layering of DESIGN.md, read from the imports themselves (``ast``, nothing imported).

Faces (``gateway/app.py``, ``rest.py``, ``openapi.py``, ``cli.py``, ``web.py``, ``schema/``,
``http/``) → services (``gateway/nfts/``, ``gateway/identity/``) → ``gateway/cache/`` and
``gateway/resilience.py`` → ``providers/``; ``gateway/errors.py``, ``settings.py`` and
``validation.py`` are leaves anyone may import. Every import counts, also the ones inside
functions: a deferred import is still an arrow.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "providers", "bench", "tests")

# Rank of each gateway room: an import may only point to the same rank or lower.
LEAVES = {"gateway.errors", "gateway.settings", "gateway.validation"}
LOWER = {"gateway.cache", "gateway.resilience"}
SERVICES = {"gateway.nfts", "gateway.identity"}
# The shared vocabulary of the providers layer; everything else in it is an adapter, the
# registry or plumbing that the sandbox must not lean on.
VOCABULARY = {"providers.models", "providers.errors"}
ADAPTERS = {"alchemy", "dotbit", "nametag", "nextid", "opensea"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> frozenset[str]:
    return frozenset(
        _module_name(path) for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    )


@cache
def imports() -> dict[str, frozenset[str]]:
    """Every first-party module -> the first-party modules it imports (submodules resolved:
    ``from providers import opensea`` is an import of ``providers.opensea``)."""
    found: dict[str, frozenset[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = frozenset(_imported(ast.parse(path.read_text())))
    return found


def _imported(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name for name in submodules if name in _modules()]
            if len(names) < len(submodules):  # some names are attributes of the module
                names.append(node.module)
        else:
            continue
        yield from (name for name in names if name.split(".")[0] in PACKAGES)


def room(module: str) -> str:
    """``gateway.nfts.walk`` -> ``gateway.nfts``; ``gateway.rest`` stays itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "gateway" else parts[0]


def rank(gateway_room: str) -> int:
    if gateway_room in LEAVES:
        return 0
    if gateway_room in LOWER:
        return 1
    if gateway_room in SERVICES:
        return 2
    return 3  # a face


def arrows(source_prefix: str, target_prefix: str) -> list[str]:
    """``a -> b`` for every import from under ``source_prefix`` into ``target_prefix``."""
    return sorted(
        f"{source} -> {target}"
        for source, targets in imports().items()
        if _under(source, source_prefix)
        for target in targets
        if _under(target, target_prefix)
    )


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_scan_sees_the_tree() -> None:
    # Guards every rule below against passing on an empty scan.
    assert {"gateway.app", "providers.sandbox.opensea", "bench.resilience"} <= set(imports())
    assert "providers.opensea" in imports()["providers"]


def test_providers_never_import_the_gateway() -> None:
    assert arrows("providers", "gateway") == []


def test_the_sandbox_imports_only_the_shared_vocabulary_and_itself() -> None:
    leaks = [
        arrow
        for arrow in arrows("providers.sandbox", "providers")
        if not any(_under(arrow.split(" -> ")[1], allowed) for allowed in VOCABULARY)
        and not _under(arrow.split(" -> ")[1], "providers.sandbox")
    ]
    assert leaks == []


def test_adapters_do_not_import_each_other_nor_the_sandbox() -> None:
    leaks = [
        arrow
        for vendor in ADAPTERS
        for other in ({f"providers.{v}" for v in ADAPTERS - {vendor}} | {"providers.sandbox"})
        for arrow in arrows(f"providers.{vendor}", other)
    ]
    assert leaks == []


def test_bench_never_imports_tests() -> None:
    assert arrows("bench", "tests") == []


def test_no_gateway_room_imports_a_room_above_it() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in imports().items()
        if source.startswith("gateway")
        for target in targets
        if target.startswith("gateway") and rank(room(target)) > rank(room(source))
    ]
    assert upward == []


def test_the_nft_service_does_not_know_identities() -> None:
    assert arrows("gateway.nfts", "gateway.identity") == []


def test_no_import_cycle_between_gateway_rooms() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for source, targets in imports().items():
        for target in targets:
            gateway_pair = source.startswith("gateway") and target.startswith("gateway")
            if gateway_pair and room(source) != room(target):
                graph[room(source)].add(room(target))
    assert _cycles(graph) == []


@pytest.mark.parametrize("package", ["gateway.nfts", "gateway.identity", "gateway.cache"])
def test_no_import_cycle_inside_a_service_room(package: str) -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for source, targets in imports().items():
        if _under(source, package):
            graph[source] |= {t for t in targets if _under(t, package) and t != package}
    assert _cycles(graph) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected part of ``graph`` that has one (Tarjan, iterative
    enough for a graph of a few dozen nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while True:
                member = stack.pop()
                part.append(member)
                if member == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
