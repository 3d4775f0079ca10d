"""The ``nft-gateway`` command: ``serve``, ``nfts``, ``dids`` and ``export-schema``.

``nfts`` and ``dids`` do not reimplement anything: they build the same app ``serve``
builds (``create_app`` with the same :class:`Settings`) and call its REST shim in process
through ``httpx.ASGITransport``, so ``--json`` prints byte for byte what
``POST /users/<id>/nfts`` or ``/dids`` would answer, and the table is a view of that.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gateway.app import create_app
from gateway.http.observability import configure_logging
from gateway.schema import SCHEMA_PATH, export_schema
from gateway.settings import Settings

__all__ = ["main"]

CLI_USER_ID = "cli"
DEFAULT_PAGE_SIZE = 20


@click.group()
def main() -> None:
    """nft-gateway: one answer to "what does this wallet own?"."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: NFTGW_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: NFTGW_PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve GraphQL (/graphql) and the REST shim; on the sandbox when no keys are set."""
    settings = Settings()
    configure_logging(settings.log_level, fmt=settings.log_format)
    if settings.sandbox_enabled:
        click.echo(
            "nft-gateway: no provider keys configured, serving the embedded sandbox", err=True
        )
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_level=settings.log_level.lower(),
        log_config=None,  # configure_logging above: JSON lines with request ids
        access_log=False,  # gateway.access logs each request, with its id and route
    )


@main.command("export-schema")
@click.option("--check", is_flag=True, help="Exit 1 if schema.graphql differs from the code.")
@click.option("--output", type=click.Path(path_type=Path), default=SCHEMA_PATH, show_default=True)
def export_schema_command(check: bool, output: Path) -> None:
    """Write the GraphQL SDL generated from the code to schema.graphql."""
    sdl = export_schema()
    if check:
        current = output.read_text() if output.exists() else ""
        if current != sdl:
            click.echo(f"{output} is out of date: run `nft-gateway export-schema`", err=True)
            sys.exit(1)
        return
    output.write_text(sdl)
    click.echo(f"wrote {output}")


# -- nfts and dids: the REST shim, in process ----------------------------------------------


@main.command()
@click.argument("wallet")
@click.option("--json", "as_json", is_flag=True, help="Print the REST shim's JSON answer.")
@click.option(
    "--size",
    type=click.IntRange(1, 100),
    default=None,
    help=f"Page size (default {DEFAULT_PAGE_SIZE}; with --all the largest allowed).",
)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Page.")
@click.option("--all", "walk_all", is_flag=True, help="Every page, with a progress bar.")
def nfts(wallet: str, as_json: bool, size: int | None, page: int, walk_all: bool) -> None:
    """List the NFTs of WALLET (an address or a name such as alice.bit)."""
    settings = _cli_settings()
    size = size or (settings.max_page_size if walk_all else DEFAULT_PAGE_SIZE)
    console = Console()
    with _ProgressBar(enabled=walk_all) as progress:
        status, body = asyncio.run(
            _fetch_nfts(settings, wallet, page=page, size=size, walk_all=walk_all, on_page=progress)
        )
    _finish(
        status, body, as_json, lambda: console.print(_nfts_table(body, first=(page - 1) * size))
    )


@main.command()
@click.argument("wallet")
@click.option("--json", "as_json", is_flag=True, help="Print the REST shim's JSON answer.")
def dids(wallet: str, as_json: bool) -> None:
    """List the DIDs (.bit, Next.ID, name tags) of WALLET (an address or a name)."""
    settings = _cli_settings()
    status, body = asyncio.run(_post(settings, "dids", {"wallet_address": wallet}))
    _finish(status, body, as_json, lambda: Console().print(_dids_table(body)))


def _cli_settings() -> Settings:
    """The settings ``serve`` reads, minus the inbound rate limit: this process is its
    own only client, and ``--all`` on a big wallet would otherwise wait on its own bucket."""
    settings = Settings()
    # The gateway's own warnings go to stderr; stdout stays the table or the JSON.
    configure_logging("DEBUG" if settings.log_level == "DEBUG" else "WARNING", fmt="text")
    return settings.model_copy(update={"rate_limit": "off"})


@asynccontextmanager
async def _gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client for a gateway app running in this process, lifespan included."""
    app = create_app(settings)
    headers = {}
    if settings.client_api_keys:
        headers["X-API-Key"] = settings.client_api_keys[0].get_secret_value()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://nft-gateway.cli", headers=headers, timeout=None
        ) as http:
            yield http


async def _post(settings: Settings, kind: str, payload: dict[str, Any]) -> tuple[int, Any]:
    async with _gateway(settings) as http:
        response = await http.post(f"/users/{CLI_USER_ID}/{kind}", json=payload)
        return response.status_code, response.json()


PageCallback = Callable[[int, int], None]


async def _fetch_nfts(
    settings: Settings,
    wallet: str,
    *,
    page: int,
    size: int,
    walk_all: bool,
    on_page: PageCallback,
) -> tuple[int, Any]:
    """One page, or with ``walk_all`` every page from ``page`` on, merged into one answer."""
    assets: list[Any] = []
    async with _gateway(settings) as http:
        while True:
            payload = {"wallet_address": wallet, "page": page, "size": size}
            response = await http.post(f"/users/{CLI_USER_ID}/nfts", json=payload)
            body = response.json()
            if response.status_code != 200:
                return response.status_code, body
            assets.extend(body["assets"])
            on_page(len(assets), body["total"])
            if not walk_all or len(body["assets"]) < size:
                return 200, {**body, "assets": assets}
            page += 1


class _ProgressReporter:
    """Calls from the fetch loop become a rich progress bar on stderr."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task = progress.add_task("walking the wallet", total=None) if progress else None

    def __call__(self, done: int, total: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=max(total, done))


class _ProgressBar:
    """``with _ProgressBar(enabled=...) as report:`` a bar on stderr only when walking."""

    def __init__(self, *, enabled: bool) -> None:
        self._bar = (
            Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            if enabled
            else None
        )

    def __enter__(self) -> _ProgressReporter:
        if self._bar is not None:
            self._bar.__enter__()
        return _ProgressReporter(self._bar)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _finish(status: int, body: Any, as_json: bool, show: Callable[[], None]) -> None:
    """Print the answer (JSON or a table); an error answer exits with status 1."""
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False))
    elif status == 200:
        show()
    if status != 200:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code = error.get("code", f"HTTP_{status}")
        click.echo(f"nft-gateway: {code}: {error.get('message', 'request failed')}", err=True)
        sys.exit(1)


def _nfts_table(body: dict[str, Any], *, first: int) -> Table:
    shown = len(body["assets"])
    caption = f"{shown} of {body['total']} NFTs" + _name_note(body) + _provider_note(body)
    table = Table(caption=caption, caption_justify="left")
    for column in ("#", "chain", "collection", "name", "token id"):
        table.add_column(column, overflow="fold")
    table.add_column("qty", justify="right", overflow="fold")
    for index, asset in enumerate(body["assets"], start=first + 1):
        nft = asset["nft"]
        quantity = str(asset["quantity"]) + ("" if asset.get("quantity_known", True) else "?")
        table.add_row(
            str(index),
            nft["blockchain"],
            nft["collection_name"] or nft["collection_slug"] or "",
            nft["name"] or "",
            nft["token_id"],
            quantity,
        )
    return table


def _dids_table(body: dict[str, Any]) -> Table:
    caption = f"{body['total']} DIDs" + _name_note(body) + _provider_note(body)
    table = Table(caption=caption, caption_justify="left")
    for column in ("type", "identity", "primary", "valid", "expires", "links"):
        table.add_column(column, overflow="fold")
    for did in body["dids"]:
        table.add_row(
            str(did.get("type", "")),
            str(did.get("display_name") or did.get("identity") or ""),
            "yes" if did.get("is_primary") else "",
            {True: "yes", False: "no"}.get(did.get("valid"), "?"),
            _date(did.get("expires_at")),
            "\n".join(_link_text(link) for link in did.get("links") or []),
        )
    return table


def _link_text(link: Any) -> str:
    if not isinstance(link, dict):
        return str(link)
    identity = str(link.get("identity", ""))
    if identity.startswith("0x") and len(identity) == 42:
        identity = f"{identity[:6]}…{identity[-4:]}"  # the table's width; --json has it whole
    return f"{link.get('platform', '')} {identity}"


def _date(value: Any) -> str:
    """An expiry as a date, whether the answer carries epoch seconds or ISO text."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).date().isoformat()
    return str(value or "")[:10]


def _name_note(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, dict):
        return ""
    return f" · {name.get('name')} → {', '.join(name.get('addresses', []))}"


def _provider_note(body: dict[str, Any]) -> str:
    troubled = [p for p in body.get("providers", []) if p.get("status") != "ok"]
    if not troubled:
        return ""
    return " · " + ", ".join(f"{p['provider']} {p['status']}" for p in troubled)
