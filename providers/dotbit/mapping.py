""".bit account indexer bodies -> plain values and :class:`~providers.models.DID` parts.

Pure functions, no I/O. The indexer answers every call with HTTP 200 and puts the outcome in
an envelope, in one of two styles (UPSTREAMS.md §3.2)::

    JSON-RPC   {"id": 1, "jsonrpc": "2.0", "result": {"err_no": 0, "err_msg": "", "data": {...}}}
    REST       {"err_no": 0, "err_msg": "", "data": {...}}

Older hosts spell the code ``errno`` / ``errmsg``; both spellings are accepted.
:func:`unwrap` turns a non-zero code into a :class:`~providers.errors.ProviderError`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers.dotbit.charsets import label_script
from providers.errors import (
    ProviderBadData,
    ProviderBadRequest,
    ProviderError,
    ProviderLocked,
    ProviderNotFound,
    ProviderUnavailable,
)
from providers.mapping import lower_address, mapping, parse_int, text_or_none

__all__ = [
    "BAD_REQUEST_CODES",
    "EVM_RECORD_KEYS",
    "LOCKED_CODE",
    "MAX_NAME_LENGTH",
    "NOT_FOUND_CODES",
    "PROVIDER",
    "AccountInfo",
    "to_account_info",
    "to_account_list",
    "to_display_names",
    "to_record_addresses",
    "to_reverse_record",
    "unwrap",
    "validate_bit_name",
]

PROVIDER = "dotbit"

# 20007 is what the docs show for "account not exist"; 30003 is what das_accountInfo returns.
NOT_FOUND_CODES = frozenset({20007, 30003})
# params invalid, method not exist, account format invalid: our request was wrong.
BAD_REQUEST_CODES = frozenset({10000, 10001, 20006})
# "account on lock" (das-lib http_api/code.go ApiCodeAccountOnLock): the account is locked
# cross-chain. The indexer is healthy; the account is just not readable right now.
LOCKED_CODE = 20008

# Record keys whose value is an address in the EVM key space: V1 names and V2 SLIP-44 numbers
# (60 ETH, 966 Polygon, 9006 BSC share one key space, UPSTREAMS.md §3.3).
EVM_RECORD_KEYS = frozenset(
    {
        "address.eth",
        "address.bsc",
        "address.polygon",
        "address.matic",
        "address.60",
        "address.966",
        "address.9006",
    }
)

MAX_NAME_LENGTH = 64


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What ``das_accountInfo`` says about one account (keys lower-case when EVM addresses)."""

    account: str | None
    owner_key: str | None
    manager_key: str | None
    expired_at: int | None  # Unix seconds


# -- envelope --------------------------------------------------------------------------


def unwrap(body: Any) -> Mapping[str, Any]:
    """The ``data`` object of a successful answer, in either envelope style.

    Raises :class:`ProviderNotFound` (20007, 30003), :class:`ProviderLocked` (20008),
    :class:`ProviderBadRequest` (10000, 10001, 20006), :class:`ProviderUnavailable` (any
    other non-zero code) or :class:`ProviderBadData` (no recognisable envelope).
    """
    envelope = mapping(body)
    if "result" in envelope:
        envelope = mapping(envelope["result"])
    code = _error_code(envelope)
    if code is None:
        raise ProviderBadData(PROVIDER, "answer has no err_no")
    if code != 0:
        raise _error_for_code(code, _error_message(envelope))
    return mapping(envelope.get("data"))


def _error_code(envelope: Mapping[str, Any]) -> int | None:
    for key in ("err_no", "errno"):
        value = envelope.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    return None


def _error_message(envelope: Mapping[str, Any]) -> str:
    text = text_or_none(envelope.get("err_msg")) or text_or_none(envelope.get("errmsg")) or ""
    return text[:200]


def _error_for_code(code: int, message: str) -> ProviderError:
    text = f"err_no {code}" + (f": {message}" if message else "")
    if code in NOT_FOUND_CODES:
        return ProviderNotFound(PROVIDER, text)
    if code == LOCKED_CODE:
        return ProviderLocked(PROVIDER, text)
    if code in BAD_REQUEST_CODES:
        return ProviderBadRequest(PROVIDER, text)
    return ProviderUnavailable(PROVIDER, text)


# -- data objects ----------------------------------------------------------------------


def to_reverse_record(data: Any) -> str | None:
    """The address's primary account from ``das_reverseRecord``; ``None`` when none is set.

    The indexer answers "no reverse record" with a success whose strings are empty.
    """
    account = text_or_none(mapping(data).get("account"))
    return account.strip().lower() if account else None


def to_account_list(data: Any) -> list[tuple[str, int | None]]:
    """``(account, expired_at)`` for each account of ``das_accountList`` (blank names skipped)."""
    accounts: list[tuple[str, int | None]] = []
    for item in _items(mapping(data).get("account_list")):
        account = text_or_none(item.get("account"))
        if account:
            accounts.append((account.strip().lower(), parse_int(item.get("expired_at"))))
    return accounts


def to_display_names(data: Any) -> dict[str, str]:
    """``account -> display_name`` from ``das_accountList`` (only non-blank display names)."""
    names: dict[str, str] = {}
    for item in _items(mapping(data).get("account_list")):
        account = text_or_none(item.get("account"))
        display = text_or_none(item.get("display_name"))
        if account and display:
            names[account.strip().lower()] = display
    return names


def to_record_addresses(data: Any) -> tuple[str, ...]:
    """EVM addresses an account's records point to, lower-case, de-duplicated, in order.

    Works on ``das_accountRecords`` (``address.eth``) and ``das_accountRecordsV2``
    (``address.60``); values that are not EVM addresses are skipped.
    """
    addresses: list[str] = []
    for record in _items(mapping(data).get("records")):
        key = record.get("key")
        if not isinstance(key, str) or key.strip().lower() not in EVM_RECORD_KEYS:
            continue
        address = lower_address(record.get("value"))
        if address and address not in addresses:
            addresses.append(address)
    return tuple(addresses)


def to_account_info(data: Any) -> AccountInfo:
    """Owner, manager and expiry from ``das_accountInfo``'s ``account_info`` object."""
    info = mapping(mapping(data).get("account_info"))
    account = text_or_none(info.get("account"))
    return AccountInfo(
        account=account.lower() if account else None,
        owner_key=_key(info.get("owner_key")),
        manager_key=_key(info.get("manager_key")),
        expired_at=parse_int(info.get("expired_at_unix")),
    )


def _key(value: Any) -> str | None:
    # EVM keys are compared lower-case; other chains' keys (Tron...) are kept as sent.
    return lower_address(value) or text_or_none(value)


def _items(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


# -- names -----------------------------------------------------------------------------


def validate_bit_name(name: str) -> str:
    """``name`` in canonical form (NFC, lower-case) if it is a plausible .bit account.

    Rules: the name ends in ``.bit``; at most :data:`MAX_NAME_LENGTH` characters; every
    dot-separated label is non-empty and does not start or end with ``-``; a label's
    characters are in the indexer's character sets, letters of one script only
    (:func:`~providers.dotbit.charsets.label_script`: ``a-z``, digits, ``-``, emoji, and
    Chinese, Japanese, Korean, Russian, Thai, Turkish or Vietnamese letters). Whitespace,
    control characters, ``/``, ``%``, quotes, ``#``, ``_`` and the like are refused.
    Sub-accounts (``nft.alice.bit``) are accepted.

    Raises :class:`ValueError` with a message saying what is wrong.
    """
    if not isinstance(name, str):
        raise ValueError(".bit name must be a string")
    canonical = unicodedata.normalize("NFC", name).lower()
    if not canonical.endswith(".bit"):
        raise ValueError(".bit name must end with '.bit'")
    if len(canonical) > MAX_NAME_LENGTH:
        raise ValueError(f".bit name is longer than {MAX_NAME_LENGTH} characters")
    for label in canonical.split(".")[:-1]:
        _check_label(label)
    return canonical


def _check_label(label: str) -> None:
    if not label:
        raise ValueError(".bit name has an empty label")
    if label.startswith("-") or label.endswith("-"):
        raise ValueError(".bit name label must not start or end with '-'")
    label_script(label)
