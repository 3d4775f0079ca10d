"""The ``nft-gateway`` command: ``serve`` and ``export-schema``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
import uvicorn

from gateway.app import create_app
from gateway.schema import SCHEMA_PATH, export_schema
from gateway.settings import Settings

__all__ = ["main"]


@click.group()
def main() -> None:
    """nft-gateway: one answer to "what does this wallet own?"."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: NFTGW_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: NFTGW_PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve GraphQL (/graphql) and the REST shim; on the sandbox when no keys are set."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if settings.sandbox_enabled:
        click.echo(
            "nft-gateway: no provider keys configured, serving the embedded sandbox", err=True
        )
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_level=settings.log_level.lower(),
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
