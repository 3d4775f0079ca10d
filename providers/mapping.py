"""Small pure helpers shared by the adapters' mapping functions.

Upstream JSON is written by strangers: every helper here accepts anything and returns a
well-typed value or ``None``, never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "first_text",
    "lower_address",
    "mapping",
    "parse_int",
    "text_or_none",
    "trait_value",
]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def text_or_none(value: Any) -> str | None:
    """A non-blank string, else ``None`` (upstreams send ``null``, ``""`` or omit keys)."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def first_text(*values: Any) -> str | None:
    """The first non-blank string among ``values``."""
    for value in values:
        text = text_or_none(value)
        if text is not None:
            return text
    return None


def lower_address(value: Any) -> str | None:
    """An EVM address in comparison form (lower-case), or ``None`` if it is not one."""
    if isinstance(value, str) and _ADDRESS.match(value):
        return value.lower()
    return None


def parse_int(value: Any) -> int | None:
    """An exact non-negative integer from an int or a decimal string (balances, counts)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    # isascii: str.isdigit() is true for "²" and other digits int() refuses.
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def trait_value(value: Any) -> str | None:
    """A trait value as text: numbers and dates arrive as JSON numbers or strings."""
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (schema drift tolerance)."""
    return value if isinstance(value, Mapping) else {}
