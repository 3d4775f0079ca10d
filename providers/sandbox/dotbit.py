"""Emulator of the .bit account indexer (UPSTREAMS.md §3), serving the sandbox identities.

``POST /`` speaks JSON-RPC and dispatches on ``method``; ``POST /v1/...`` and
``POST /v2/account/records`` are the REST aliases taking the bare param object. Like the
real indexer it always answers HTTP 200 and reports failures in the envelope:

=======  ==============================================================================
10000    params invalid: not a JSON object, a non-integer ``id``, ``params`` not a list
         of exactly one object, a bad ``role``/``page``/``size``
10001    method not exist
20006    account format invalid (no ``.bit`` suffix)
20007    account not exist (records)
20008    account on lock: the account is locked (cross-chain, status 3); answered by the
         JSON-RPC ``das_reverseRecord`` and by the records methods
30003    account not exist (``das_accountInfo``; and ``das_reverseRecord`` when the
         reverse record names an account that no longer exists)
=======  ==============================================================================

The reverse record has two handlers, as in das-account-indexer (``http_server/handle/
reverse_record.go`` and ``reverse_record_v2.go``, BIT1): JSON-RPC ``das_reverseRecord``
runs the old one, which fails with 30003 or 20008 as above; the REST route
``POST /v1/reverse/record`` runs the current one, which answers those cases as "no
reverse record" (a success with empty strings).

With ``legacy_envelope=True`` every envelope also carries the pre-2023 ``errno``/``errmsg``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.sandbox.faults import Emulator, FaultInjector, FaultSwitches
from providers.sandbox.identities import (
    ACCOUNT_STATUS_LOCKED,
    BitAccount,
    Identities,
    identities,
)

__all__ = ["dotbit_emulator"]

PARAMS_INVALID = 10000
METHOD_NOT_EXIST = 10001
ACCOUNT_INVALID = 20006
RECORDS_NOT_EXIST = 20007
ACCOUNT_ON_LOCK = 20008
ACCOUNT_NOT_EXIST = 30003

_EVM_COIN_TYPES = frozenset({"60", "966", "9006"})
_EVM_CHAIN_IDS = frozenset({"1", "56", "137"})
# das_accountRecords (V1) spells SLIP-44 numbers as names.
_V1_KEY_NAMES = {"60": "eth", "0": "btc", "195": "trx", "966": "polygon", "9006": "bsc"}


class _Failure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Handler = Callable[[Identities, Mapping[str, Any]], Any]


def _evm_key(params: Mapping[str, Any]) -> str | None:
    """The lower-case EVM address of a ``{type, key_info}`` param, else ``None``."""
    if params.get("type", "blockchain") != "blockchain":
        raise _Failure(PARAMS_INVALID, "params invalid")
    key_info = params.get("key_info")
    if not isinstance(key_info, Mapping):
        raise _Failure(PARAMS_INVALID, "params invalid")
    coin_type = str(key_info.get("coin_type") or "")
    chain_id = str(key_info.get("chain_id") or "")
    evm = coin_type in _EVM_COIN_TYPES or (not coin_type and chain_id in _EVM_CHAIN_IDS)
    key = key_info.get("key")
    if not evm or not isinstance(key, str):
        return None
    key = key.lower()
    valid = len(key) == 42 and key.startswith("0x")
    return key if valid and all(c in "0123456789abcdef" for c in key[2:]) else None


def _account_param(data: Identities, params: Mapping[str, Any], missing: int) -> BitAccount:
    name = params.get("account")
    if not isinstance(name, str) or not name:
        raise _Failure(PARAMS_INVALID, "params invalid")
    if not name.lower().endswith(".bit"):
        raise _Failure(ACCOUNT_INVALID, "account invalid")
    account = data.bit_account(name)
    if account is None:
        raise _Failure(missing, "account not exist")
    return account


def _reverse_record(data: Identities, params: Mapping[str, Any]) -> Any:
    """The old handler (JSON-RPC): a gone or locked account is an error."""
    address = _evm_key(params)
    entry = data.reverse_entry(address) if address else None
    if entry is None:  # unknown or unparseable addresses: a success with empty strings
        return _reverse_body("")
    account = data.bit_account(entry)
    if account is None:
        raise _Failure(ACCOUNT_NOT_EXIST, "account not exist")
    if account.status == ACCOUNT_STATUS_LOCKED:
        raise _Failure(ACCOUNT_ON_LOCK, "account on lock")
    return _reverse_body(account.account if _points_to(account, address) else "")


def _reverse_record_current(data: Identities, params: Mapping[str, Any]) -> Any:
    """The current handler (REST): a gone or locked account is "no reverse record"."""
    address = _evm_key(params)
    entry = data.reverse_entry(address) if address else None
    account = data.bit_account(entry) if entry else None
    if account is None or account.status == ACCOUNT_STATUS_LOCKED:
        return _reverse_body("")
    return _reverse_body(account.account if _points_to(account, address) else "")


def _points_to(account: BitAccount, address: str | None) -> bool:
    # The indexer keeps a reverse record only while the address owns or manages the
    # account or is listed in its records.
    listed = {record.value.lower() for record in account.records}
    return address is not None and (
        address in (account.owner, account.manager) or address in listed
    )


def _reverse_body(name: str) -> dict[str, str]:
    return {"account": name, "account_alias": name, "display_name": name}


def _int_param(params: Mapping[str, Any], name: str, default: int, high: int) -> int:
    value = params.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise _Failure(PARAMS_INVALID, "params invalid")
    return value


def _account_list(data: Identities, params: Mapping[str, Any]) -> Any:
    role = params.get("role") or "owner"
    if role not in ("owner", "manager"):
        raise _Failure(PARAMS_INVALID, "params invalid")
    page = _int_param(params, "page", 1, 1_000_000)
    size = _int_param(params, "size", 100, 100)
    address = _evm_key(params)
    accounts = data.bit_accounts_of(address, role) if address else []
    chunk = accounts[(page - 1) * size : page * size]
    items = [
        {
            "account_id": "",
            "account": a.account,
            "display_name": a.display_name,
            "registered_at": a.registered_at,
            "expired_at": a.expired_at,
        }
        for a in chunk
    ]
    return {"total": len(accounts), "account_list": items}


def _account_info(data: Identities, params: Mapping[str, Any]) -> Any:
    a = _account_param(data, params, ACCOUNT_NOT_EXIST)
    return {
        "out_point": {"tx_hash": "0x" + a.account_id_hex[2:].ljust(64, "0"), "index": 0},
        "account_info": {
            "account": a.account,
            "account_alias": a.account,
            "account_id_hex": a.account_id_hex,
            "next_account_id_hex": "0x" + "f" * 40,
            "create_at_unix": a.registered_at,
            "expired_at_unix": a.expired_at,
            "status": a.status,
            "das_lock_arg_hex": "0x05" + a.owner[2:] + "05" + a.manager[2:],
            "owner_algorithm_id": 5,
            "owner_sub_aid": 0,
            "owner_key": a.owner,
            "manager_algorithm_id": 5,
            "manager_sub_aid": 0,
            "manager_key": a.manager,
            "enable_sub_account": 0,
            "display_name": a.display_name,
        },
    }


def _records(data: Identities, params: Mapping[str, Any], *, v1: bool) -> Any:
    a = _account_param(data, params, RECORDS_NOT_EXIST)
    if a.status == ACCOUNT_STATUS_LOCKED:
        raise _Failure(ACCOUNT_ON_LOCK, "account cross-chain")
    records = [
        {"key": _v1_key(r.key) if v1 else r.key, "label": r.label, "value": r.value, "ttl": r.ttl}
        for r in a.records
    ]
    return {"account": a.account, "records": records}


def _v1_key(key: str) -> str:
    prefix, _, number = key.partition(".")
    if prefix == "address" and number in _V1_KEY_NAMES:
        return f"address.{_V1_KEY_NAMES[number]}"
    return key


def _records_v1(data: Identities, params: Mapping[str, Any]) -> Any:
    return _records(data, params, v1=True)


def _records_v2(data: Identities, params: Mapping[str, Any]) -> Any:
    return _records(data, params, v1=False)


_METHODS: dict[str, Handler] = {
    "das_reverseRecord": _reverse_record,
    "das_accountList": _account_list,
    "das_accountInfo": _account_info,
    "das_accountRecords": _records_v1,
    "das_accountRecordsV2": _records_v2,
}

# REST path -> handler; the reverse record's REST route runs the current handler.
_REST_HANDLERS: dict[str, Handler] = {
    "/v1/reverse/record": _reverse_record_current,
    "/v1/account/list": _account_list,
    "/v1/account/info": _account_info,
    "/v1/account/records": _records_v1,
    "/v2/account/records": _records_v2,
}


class _Indexer:
    def __init__(self, data: Identities, legacy_envelope: bool) -> None:
        self.data = data
        self.legacy_envelope = legacy_envelope

    def envelope(self, code: int, message: str, payload: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"err_no": code, "err_msg": message, "data": payload}
        if self.legacy_envelope:
            body.update(errno=code, errmsg=message)
        return body

    def run(self, method: str, params: Any) -> dict[str, Any]:
        handler = _METHODS.get(method)
        if handler is None:
            return self.envelope(METHOD_NOT_EXIST, f"method [{method}] not exits", None)
        return self.run_handler(handler, params)

    def run_handler(self, handler: Handler, params: Any) -> dict[str, Any]:
        if not isinstance(params, Mapping):
            return self.envelope(PARAMS_INVALID, "params invalid", None)
        try:
            return self.envelope(0, "", handler(self.data, params))
        except _Failure as failure:
            return self.envelope(failure.code, failure.message, None)

    async def json_rpc(self, request: Request) -> Response:
        body = _parse(await request.body())
        request_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(request_id, int) or isinstance(request_id, bool):
            # A string id fails to bind the whole request in the real server.
            return _json({"id": 0, "jsonrpc": "2.0", "result": self._invalid()})
        params = body.get("params")
        method = body.get("method")
        if not isinstance(params, list) or len(params) != 1 or not isinstance(method, str):
            result = self._invalid()
        else:
            result = self.run(method, params[0])
        return _json({"id": request_id, "jsonrpc": "2.0", "result": result})

    async def rest(self, request: Request) -> Response:
        handler = _REST_HANDLERS[request.url.path]
        return _json(self.run_handler(handler, _parse(await request.body())))

    def _invalid(self) -> dict[str, Any]:
        return self.envelope(PARAMS_INVALID, "params invalid", None)


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def dotbit_emulator(data: Identities | None = None, *, legacy_envelope: bool = False) -> Emulator:
    """The .bit indexer emulator (name ``"dotbit"``) over ``data`` (default: the sandbox's)."""
    indexer = _Indexer(data if data is not None else identities(), legacy_envelope)
    routes = [Route("/", indexer.json_rpc, methods=["POST"])]
    routes += [Route(path, indexer.rest, methods=["POST"]) for path in _REST_HANDLERS]
    switches = FaultSwitches()
    return Emulator("dotbit", FaultInjector(Starlette(routes=routes), switches), switches)
