"""Input validation shared by every face. Each check raises a :mod:`gateway.errors` error
with a stable code before anything reaches a provider. :func:`parse_positive_int` and
:func:`parse_user_id` are for faces (the field's name is part of their message); the
others leave naming the field to the face (:func:`gateway.errors.input_field`)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

from gateway.errors import (
    InvalidAddress,
    InvalidInput,
    InvalidMaxAge,
    InvalidPagination,
    InvalidUserId,
)

__all__ = [
    "MAX_AGE_LIMIT",
    "MAX_DIGITS",
    "checksum",
    "parse_address",
    "parse_max_age",
    "parse_positive_int",
    "parse_token_id",
    "parse_user_id",
]

# A year: any larger maxAge means "whatever is cached", as no maxAge does.
MAX_AGE_LIMIT = 365 * 24 * 3600

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_USER_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_TOKEN_ID = re.compile(r"[0-9]{1,78}")  # a uint256 in decimal
MAX_DIGITS = 9  # page and size are small numbers: longer digit strings are noise


def parse_address(value: Any) -> str:
    """A lower-case EVM address (the one place input addresses are lower-cased). Mixed
    case must be a valid EIP-55 checksum. The caller names the field at fault."""
    if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
        raise InvalidAddress("expected a 0x-prefixed, 40-hex-digit EVM address")
    body = value[2:]
    # Mixed case is valid when it is the address's EIP-55 form: checked against the cached
    # form (a frontend sends the same checksummed address on every page), not hashed anew.
    if body != body.lower() and body != body.upper() and checksum(value.lower()) != value:
        raise InvalidAddress("mixed-case address fails its EIP-55 checksum")
    return value.lower()


def parse_positive_int(value: Any, *, field: str, maximum: int) -> int:
    """An int in ``1..maximum``; a string of digits is accepted too (form-minded clients),
    and so is a number with no fraction (``20.0``): JSON, and the OpenAPI document's JSON
    Schema ``integer``, call it the same number as ``20``."""
    if _digit_string(value) or _whole_float(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPagination(f"{field} must be an integer", field=field)
    if not 1 <= value <= maximum:
        raise InvalidPagination(f"{field} must be between 1 and {maximum}", field=field)
    return value


def parse_token_id(value: Any) -> str:
    """A token id as a canonical decimal string (``"007"`` is ``"7"``); the caller names
    the field at fault."""
    if not isinstance(value, str) or not _TOKEN_ID.fullmatch(value) or int(value) >= 2**256:
        raise InvalidInput("expected a token id: a decimal number below 2^256")
    return str(int(value))


def parse_max_age(value: Any, *, field: str) -> int | None:
    """Seconds in ``0..MAX_AGE_LIMIT`` (``None`` stays ``None``: no freshness asked for);
    digit strings and whole floats are accepted as for :func:`parse_positive_int`."""
    if value is None:
        return None
    if _digit_string(value) or _whole_float(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidMaxAge(f"{field} must be a whole number of seconds", field=field)
    if not 0 <= value <= MAX_AGE_LIMIT:
        raise InvalidMaxAge(f"{field} must be between 0 and {MAX_AGE_LIMIT}", field=field)
    return value


def _digit_string(value: Any) -> bool:
    return (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS
    )


def _whole_float(value: Any) -> bool:
    return isinstance(value, float) and value.is_integer() and abs(value) <= 10**MAX_DIGITS


def parse_user_id(value: Any) -> str:
    if not isinstance(value, str) or not _USER_ID.fullmatch(value):
        raise InvalidUserId(
            "user_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -", field="user_id"
        )
    return value


# eth-hash loads its keccak backend (pycryptodome's C library, found through ctypes) on the
# first hash, 10-25 ms: here, at import, so that no request pays it. A fresh process's first
# page with an address on it did, between its last upstream answer and its response.
keccak(b"")


# EIP-55 costs a keccak per address, and the same few thousand addresses recur on every
# page of every face: one bounded cache for all of them.
@lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    """The EIP-55 form of a lower-case address, for display (the gateway's one entry point)."""
    return str(to_checksum_address(address))
