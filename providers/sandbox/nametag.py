"""Emulator of Etherscan's public name tag endpoint (UPSTREAMS.md §5), serving sandbox tags.

``GET /v2/api?chainid=1&module=nametag&action=getaddresstag&address=<a[,b...]>&apikey=<k>``.
Like Etherscan it always answers HTTP 200 with a ``status`` envelope: ``"1"`` with rows, or
``"0"`` with ``"NOTOK"`` and an error text in ``result`` (missing/invalid key, bad chain id,
bad action, bad address), or ``"0"`` / ``"No matching records found"`` / ``[]`` when no
address is tagged. Only chain 1 has tags.

Etherscan limits calls per second per key on every plan ([NT1]: 2/s for name tags); the
``quota_tier`` switch ``standard`` turns that on (the default, ``unmetered``, does not),
and a call past it gets the NOTOK "Max calls per sec rate limit reached (2/sec)".

Name tags are a Pro Plus endpoint (docs.etherscan.io, getaddresstag: "available for
Pro Plus tier"): a key without the plan gets ``"0"`` / ``"NOTOK"`` / :data:`NOT_PRO`.
``pro_plus_keys`` says which keys have it (``None``: every accepted key).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from providers.sandbox.faults import Emulator, FaultInjector, FaultSwitches
from providers.sandbox.identities import Identities, NameTag, identities
from providers.sandbox.quotas import FixedWindow, Tier, tier_for
from providers.sandbox.responses import JSONResponse

__all__ = [
    "INVALID_KEY",
    "MISSING_KEY",
    "NOT_PRO",
    "RATE_LIMITED",
    "nametag_emulator",
]

MISSING_KEY = "Missing/Invalid API Key"
INVALID_KEY = "Invalid API Key"
RATE_LIMITED = "Max rate limit reached, please use API Key for higher rate limit"
NOT_PRO = (
    "Sorry, it looks like you are trying to access an API Pro endpoint. "
    "Contact us to upgrade to API Pro."
)
_BAD_CHAIN = (
    "Missing or unsupported chainid parameter (required for v2 api), "
    "please see chainlist for the list of supported chainids"
)
_BAD_ACTION = "Error! Missing Or invalid Action name"
_BAD_ADDRESS = "Error! Invalid address format"
_MAX_ADDRESSES = 100
_HEX = frozenset("0123456789abcdef")


# Calls a second per key ([NT1]: 2/s on every plan).
TIERS: dict[str, Tier] = {"unmetered": Tier(1_000_000, 1.0), "standard": Tier(2, 1.0)}
RATE_LIMITED = "Max calls per sec rate limit reached (2/sec)"


def _notok(text: str) -> JSONResponse:
    return JSONResponse({"status": "0", "message": "NOTOK", "result": text})


def _no_records() -> JSONResponse:
    return JSONResponse({"status": "0", "message": "No matching records found", "result": []})


def _is_address(value: str) -> bool:
    return len(value) == 42 and value.startswith("0x") and set(value[2:]) <= _HEX


def _row(tag: NameTag) -> dict[str, Any]:
    return {
        "address": tag.address,
        "nametag": tag.nametag,
        "internal_nametag": "",
        "url": tag.url,
        "shortdescription": "",
        "notes_1": "",
        "notes_2": "",
        "labels": list(tag.labels),
        "labels_slug": list(tag.labels_slug),
        "reputation": 0,
        "other_attributes": [],
        "lastupdatedtimestamp": tag.lastupdatedtimestamp,
    }


class _Etherscan:
    def __init__(
        self,
        data: Identities,
        api_keys: Collection[str] | None,
        switches: FaultSwitches,
        pro_plus_keys: Collection[str] | None = None,
    ) -> None:
        self.data = data
        self.api_keys = api_keys
        self.switches = switches
        self.calls = FixedWindow()
        self.pro_plus_keys = pro_plus_keys

    async def api(self, request: Request) -> JSONResponse:
        params = request.query_params
        chain_id = params.get("chainid", "")
        if not chain_id.isdigit():
            return _notok(_BAD_CHAIN)
        key = params.get("apikey", "")
        if not key:
            return _notok(MISSING_KEY)
        if self.api_keys is not None and key not in self.api_keys:
            return _notok(INVALID_KEY)
        if not self.calls.admit(key, tier_for(self.switches, TIERS, "unmetered")).allowed:
            self.switches.throttled += 1
            return _notok(RATE_LIMITED)
        if params.get("module") != "nametag" or params.get("action") != "getaddresstag":
            return _notok(_BAD_ACTION)
        if self.pro_plus_keys is not None and key not in self.pro_plus_keys:
            return _notok(NOT_PRO)
        addresses = [a.strip().lower() for a in params.get("address", "").split(",")]
        if not 1 <= len(addresses) <= _MAX_ADDRESSES or not all(map(_is_address, addresses)):
            return _notok(_BAD_ADDRESS)
        tags = [tag for a in addresses if (tag := self.data.name_tag(a))] if chain_id == "1" else []
        if not tags:
            return _no_records()
        return JSONResponse({"status": "1", "message": "OK", "result": [_row(t) for t in tags]})


def nametag_emulator(
    data: Identities | None = None,
    *,
    api_keys: Collection[str] | None = None,
    pro_plus_keys: Collection[str] | None = None,
) -> Emulator:
    """The Etherscan name tag emulator (name ``"nametag"``).

    ``api_keys`` lists the keys it accepts; ``None`` accepts any non-empty key.
    ``pro_plus_keys`` lists the accepted keys whose plan includes name tags (``None``: all).
    """
    switches = FaultSwitches()
    people = data if data is not None else identities()
    service = _Etherscan(people, api_keys, switches, pro_plus_keys)
    app = Starlette(routes=[Route("/v2/api", service.api, methods=["GET"])])
    return Emulator("nametag", FaultInjector(app, switches), switches)
