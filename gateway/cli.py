"""The ``nft-gateway`` command: ``serve``, ``nfts``, ``dids`` and ``export-schema``.

``nfts`` and ``dids`` do not reimplement anything: they build the same app ``serve``
builds (``create_app`` with the same :class:`Settings`) and call its REST shim in process
through ``httpx.ASGITransport``, so ``--json`` writes byte for byte the body
``POST /users/<id>/nfts`` or ``/dids`` would answer, and the table
(:mod:`gateway.cli_tables`) is a view of it.

Exit status, one per kind of outcome: 0 for an answer; 2 when the command line or the
input it names is wrong (click's usage errors, and the gateway's 4xx input errors such as
``INVALID_ADDRESS``); 1 when the gateway could not answer (``NAME_NOT_FOUND``, every
provider down, a port already in use, ``export-schema --check`` finding drift).
"""

from __future__ import annotations

import asyncio
import errno
import resource
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from gateway.app import create_app
from gateway.cli_tables import PageView, dids_table, nfts_table
from gateway.http.logs import configure_logging
from gateway.http.security import encode_json
from gateway.http.server import ConnectionLimits, guarded_protocol, serving_socket
from gateway.schema import SCHEMA_PATH, export_schema
from gateway.settings import Settings

__all__ = ["EXIT_FAILED", "EXIT_USAGE", "WorkerConfig", "main", "worker_app"]

CLI_USER_ID = "cli"
# File descriptors kept free of client connections: upstream pools (32 per provider), Redis,
# logs.
FD_HEADROOM = 256
DEFAULT_PAGE_SIZE = 20
EXIT_FAILED = 1  # the gateway could not answer
EXIT_USAGE = 2  # the command line or its input is wrong (click uses 2 for usage errors too)
# Answers that mean "your input is wrong", the same kind of mistake as a bad option value.
USAGE_STATUSES = frozenset({400, 413, 415, 422})
EXIT_CODES_HELP = (
    "Exit status: 0 answered; 2 the command line or its input is wrong (a bad option, "
    "INVALID_ADDRESS, INVALID_NAME, INVALID_PAGINATION); 1 the gateway could not answer "
    "(NAME_NOT_FOUND, UPSTREAM_UNAVAILABLE, a port in use)."
)
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


class PortInUse(click.ClickException):
    """The port ``serve`` was asked to listen on is taken (exit status 1)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use (another nft-gateway?): "
            f"pick another with --port PORT or NFTGW_PORT=PORT"
        )


@click.group(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.version_option(package_name="nft-gateway", prog_name="nft-gateway")
def main() -> None:
    """nft-gateway: one answer to "what does this wallet own?"."""


@main.command(short_help="Serve GraphQL, the REST shim and the gallery.")
@click.option("--host", default=None, help="Interface to bind (default: NFTGW_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: NFTGW_PORT or 8000).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes on one port (one per core; share a cache with NFTGW_REDIS_URL).",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve GraphQL (/graphql) and the REST shim; on the sandbox when no keys are set."""
    settings = Settings()
    configure_logging(
        settings.log_level, fmt=settings.log_format, repeat_window=settings.log_repeat_window
    )
    host = host or settings.host
    port = settings.port if port is None else port
    # Before anything else starts: a taken port is a clear error.
    listener = _listen(host, port, workers=workers)
    if settings.sandbox_enabled:
        click.echo(
            "nft-gateway: no provider keys configured, serving the embedded sandbox", err=True
        )
    click.echo(f"nft-gateway: listening on http://{_url_host(host)}:{port}", err=True)
    if workers == 1:
        config = uvicorn.Config(
            create_app(settings, freeze_heap=True),
            # Header and body deadlines and the connection cap (gateway/http/server.py).
            http=guarded_protocol(_connection_limits(settings)),
            **_server_options(settings),
        )
        uvicorn.Server(config).run(sockets=[listener])
        return
    # Each worker is a spawned process that builds its own app (its own lifespan, HTTP
    # client and memory cache) from the same environment; each listens on a socket of its
    # own on the one port (WorkerListener), and they share Redis when configured, so
    # single-flight and kept walks span the workers.
    worker_config = WorkerConfig(
        _WORKER_APP, factory=True, workers=workers, **_server_options(settings)
    )
    Multiprocess(worker_config, sockets=[listener]).run()


def _server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options, the same for one process and for each of ``--workers``."""
    return {
        "log_level": settings.log_level.lower(),
        "log_config": None,  # configure_logging: JSON lines with request ids
        "access_log": False,  # gateway.access logs each request, with its id and route
        "server_header": False,  # no "server: uvicorn": what runs here is nobody's business
        "timeout_keep_alive": max(1, round(settings.keep_alive_timeout)),
        # X-Forwarded-* only from NFTGW_TRUSTED_PROXIES (none by default: uvicorn's own
        # default trusts 127.0.0.1, so a local client could pick its rate-limit bucket).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
    }


_WORKER_APP = "gateway.cli:worker_app"


def worker_app() -> Starlette:
    """The app of one ``serve --workers N`` process: logging configured, and the heap frozen
    once started, as ``serve`` does."""
    settings = Settings()
    configure_logging(
        settings.log_level, fmt=settings.log_format, repeat_window=settings.log_repeat_window
    )
    return create_app(settings, freeze_heap=True)


class WorkerConfig(uvicorn.Config):
    """The config each ``--workers`` process receives (pickled to a spawned process): the
    guarded protocol class is made per process, so it is built in the worker, from the
    same settings ``serve`` read."""

    def load(self) -> None:
        if not self.loaded:
            self.http = guarded_protocol(_connection_limits(Settings()))
        super().load()


def _connection_limits(settings: Settings) -> ConnectionLimits:
    """The settings' limits, the cap kept below the process's file descriptor limit (with
    room for upstream, Redis and log descriptors): past it, accept() fails in a loop."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = settings.max_connections
    if soft != resource.RLIM_INFINITY and cap > soft - FD_HEADROOM:
        cap = max(1, soft - FD_HEADROOM)
        click.echo(
            f"nft-gateway: NFTGW_MAX_CONNECTIONS lowered to {cap} (open file limit {soft})",
            err=True,
        )
    return ConnectionLimits(settings.header_timeout, settings.body_timeout, cap)


def _listen(host: str, port: int, *, workers: int = 1) -> socket.socket:
    """A socket bound to ``host:port`` (as uvicorn binds one), or a :class:`PortInUse`;
    for several workers, the address each of them listens on with a socket of its own
    (:class:`~gateway.http.server.WorkerListener`).

    Bound here rather than by uvicorn so that a taken port ends with a message naming it
    and the way to choose another, not with uvicorn's generic startup failure."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = serving_socket(family)
    _bind(listener, host, port)
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):  # else: one shared socket
        # The plain bind above fails on a port anything listens on, a group of
        # SO_REUSEPORT sockets too, which the workers' sockets would silently join.
        port = listener.getsockname()[1]
        listener.close()
        listener = serving_socket(family, reuse_port=True)
        _bind(listener, host, port)
    listener.set_inheritable(True)
    return listener


def _bind(listener: socket.socket, host: str, port: int) -> None:
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@main.command("export-schema", short_help="Write (or --check) schema.graphql.")
@click.option("--check", is_flag=True, help="Exit 1 if schema.graphql differs from the code.")
@click.option("--output", type=click.Path(path_type=Path), default=SCHEMA_PATH, show_default=True)
def export_schema_command(check: bool, output: Path) -> None:
    """Write the GraphQL SDL generated from the code to schema.graphql."""
    sdl = export_schema()
    if check:
        current = output.read_text() if output.exists() else ""
        if current != sdl:
            click.echo(f"{output} is out of date: run `nft-gateway export-schema`", err=True)
            sys.exit(EXIT_FAILED)
        return
    output.write_text(sdl)
    click.echo(f"wrote {output}")


# -- nfts and dids: the REST shim, in process ----------------------------------------------


@main.command(epilog=EXIT_CODES_HELP, short_help="List the NFTs of a wallet or a name.")
@click.argument("wallet")
@click.option(
    "--json", "as_json", is_flag=True, help="Write the REST answer's JSON body, byte for byte."
)
@click.option(
    "--size",
    type=click.IntRange(1, 100),
    default=None,
    help=f"Page size (default {DEFAULT_PAGE_SIZE}; with --all the largest allowed).",
)
@click.option(
    "--page",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Page; with --all, the first page to list (pages before it are left out).",
)
@click.option(
    "--all", "walk_all", is_flag=True, help="Every page from --page on, with a progress bar."
)
def nfts(wallet: str, as_json: bool, size: int | None, page: int, walk_all: bool) -> None:
    """List the NFTs of WALLET (an address or a name such as alice.bit)."""
    settings = _cli_settings()
    size = size or (settings.max_page_size if walk_all else DEFAULT_PAGE_SIZE)
    with _ProgressBar(enabled=walk_all) as progress:
        answer = asyncio.run(
            _fetch_nfts(settings, wallet, page=page, size=size, walk_all=walk_all, on_page=progress)
        )
    view = PageView(page=page, size=size, walked_all=walk_all)
    _finish(answer, as_json, lambda: Console().print(nfts_table(answer.body, view)))


@main.command(epilog=EXIT_CODES_HELP, short_help="List the DIDs of a wallet or a name.")
@click.argument("wallet")
@click.option(
    "--json", "as_json", is_flag=True, help="Write the REST answer's JSON body, byte for byte."
)
def dids(wallet: str, as_json: bool) -> None:
    """List the DIDs (.bit, Next.ID, name tags) of WALLET (an address or a name)."""
    settings = _cli_settings()
    answer = asyncio.run(_post(settings, "dids", {"wallet_address": wallet}))
    _finish(answer, as_json, lambda: Console().print(dids_table(answer.body)))


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


class Answer:
    """A REST answer as the CLI keeps it: the status, the exact body bytes and their JSON."""

    def __init__(self, status: int, raw: bytes, body: Any) -> None:
        self.status = status
        self.raw = raw
        self.body = body

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(response.status_code, response.content, response.json())


async def _post(settings: Settings, kind: str, payload: dict[str, Any]) -> Answer:
    async with _gateway(settings) as http:
        return Answer.of(await http.post(f"/users/{CLI_USER_ID}/{kind}", json=payload))


PageCallback = Callable[[int, int], None]


async def _fetch_nfts(
    settings: Settings,
    wallet: str,
    *,
    page: int,
    size: int,
    walk_all: bool,
    on_page: PageCallback,
) -> Answer:
    """One page (its body unchanged), or with ``walk_all`` every page from ``page`` on,
    merged into one answer encoded as the REST shim encodes its own."""
    assets: list[Any] = []
    async with _gateway(settings) as http:
        while True:
            payload = {"wallet_address": wallet, "page": page, "size": size}
            answer = Answer.of(await http.post(f"/users/{CLI_USER_ID}/nfts", json=payload))
            if answer.status != 200 or not walk_all:
                return answer
            assets.extend(answer.body["assets"])
            on_page(len(assets), answer.body["total"])
            if len(answer.body["assets"]) < size:
                merged = {**answer.body, "assets": assets}
                return Answer(200, encode_json(merged), merged)
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


def _finish(answer: Answer, as_json: bool, show: Callable[[], None]) -> None:
    """Write the answer (its JSON bytes or a table); an error answer exits with 2 when the
    input was wrong (4xx input errors) and 1 otherwise (see the module docstring)."""
    if as_json:
        sys.stdout.buffer.write(answer.raw)  # the REST body exactly: no newline added
        sys.stdout.flush()
    elif answer.status == 200:
        show()
    if answer.status != 200:
        error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
        code = error.get("code", f"HTTP_{answer.status}")
        click.echo(f"nft-gateway: {code}: {error.get('message', 'request failed')}", err=True)
        sys.exit(EXIT_USAGE if answer.status in USAGE_STATUSES else EXIT_FAILED)
