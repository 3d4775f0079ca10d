"""The CLI's tables: views of the REST shim's JSON answers, for a terminal.

Nothing here calls the gateway; :mod:`gateway.cli` fetches the answer and hands it over.
The views follow the gallery's choices, so the terminal and the page agree: an NFT without a
name is shown as ``<collection> #<token id>`` (or ``#<token id>``), the caption says which
page this is, and that the counts leave spam out.
Numbers never wrap: a balance is one unbroken run of digits at any terminal width (long text
columns give way instead).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.table import Table

__all__ = ["PageView", "dids_table", "nft_title", "nfts_table"]

SPAM_NOTE = " (spam left out)"  # REST counts and lists NFTs without spam, and so does the table


class PageView:
    """Which part of a wallet a table shows: one page, or every page from ``first_page``."""

    def __init__(self, *, page: int, size: int, walked_all: bool) -> None:
        self.page = page
        self.size = size
        self.walked_all = walked_all

    def first_index(self) -> int:
        return (self.page - 1) * self.size + 1

    def describe(self, total: int, shown: int) -> str:
        pages = max(1, -(-total // self.size))
        if self.walked_all:
            first = f"from page {self.page} " if self.page > 1 else ""
            return f"{shown} of {total} NFTs, {first}every page of {self.size}{SPAM_NOTE}"
        return f"page {self.page} of {pages} · {shown} of {total} NFTs{SPAM_NOTE}"


def nft_title(nft: dict[str, Any]) -> str:
    """The name a person sees for an NFT (the gallery's fallback, word for word)."""
    if nft.get("name"):
        return str(nft["name"])
    if nft.get("collection_name"):
        return f"{nft['collection_name']} #{nft['token_id']}"
    return f"#{nft['token_id']}"


def nfts_table(body: dict[str, Any], view: PageView) -> Table:
    caption = view.describe(body["total"], len(body["assets"]))
    caption += _name_note(body) + _provider_note(body)
    # No borders: at 80 columns they would cost a 20-digit balance its room.
    table = Table(caption=caption, caption_justify="left", box=None, pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("chain", no_wrap=True)
    table.add_column("collection", overflow="fold")
    table.add_column("name", overflow="fold")
    table.add_column("token id", overflow="fold")
    # A balance is read as a number: never broken across lines, whatever the width.
    table.add_column("qty", justify="right", no_wrap=True)
    for index, asset in enumerate(body["assets"], start=view.first_index()):
        nft = asset["nft"]
        quantity = str(asset["quantity"]) + ("" if asset.get("quantity_known", True) else "?")
        table.add_row(
            str(index),
            nft["blockchain"],
            nft["collection_name"] or nft["collection_slug"] or "",
            nft_title(nft),
            nft["token_id"],
            quantity,
        )
    return table


def dids_table(body: dict[str, Any]) -> Table:
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
