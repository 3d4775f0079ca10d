"""Etherscan public name tags (``module=nametag&action=getaddresstag``) -> DIDs.

Pure functions, no I/O. Etherscan answers HTTP 200 with a status envelope (UPSTREAMS.md §5)::

    {"status": "1", "message": "OK", "result": [{"address", "nametag", "labels", ...}]}
    {"status": "0", "message": "No matching records found", "result": []}
    {"status": "0", "message": "NOTOK", "result": "Max rate limit reached, ..."}

A ``"0"`` is sorted by its text: no records -> empty answer; rate limit ->
:class:`ProviderRateLimited`; a valid key whose plan lacks the endpoint ("...trying to
access an API Pro endpoint...": name tags need Pro Plus, docs.etherscan.io getaddresstag)
-> :class:`ProviderNotEntitled`; bad or missing key -> :class:`ProviderAuthError`; anything
else -> :class:`ProviderUnavailable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.errors import (
    ProviderAuthError,
    ProviderBadData,
    ProviderError,
    ProviderNotEntitled,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.mapping import lower_address, mapping, text_or_none
from providers.models import DID, DIDType, LinkedAccount

__all__ = ["PROVIDER", "to_name_tags"]

PROVIDER = "nametag"

# Checked in this order: the rate-limit text itself mentions "API Key".
_RATE_LIMIT_HINTS = ("rate limit", "max rate", "max calls per sec")
_AUTH_HINTS = ("invalid api key", "missing api key", "missing/invalid api key")
_PLAN_HINTS = ("api pro endpoint", "pro endpoint", "upgrade your api plan")


def to_name_tags(body: Any, address: str | None = None) -> tuple[DID, ...]:
    """One DID per tagged row; ``()`` when Etherscan has no tag.

    ``address`` is used for rows that do not repeat their address. Raises the errors listed
    in the module docstring, or :class:`ProviderBadData` for a body with no ``status``.
    """
    envelope = mapping(body)
    status = envelope.get("status")
    if status in ("1", 1):
        return tuple(did for row in _rows(envelope) if (did := _to_did(row, address)) is not None)
    if status in ("0", 0):
        _raise_unless_empty(envelope)
        return ()
    raise ProviderBadData(PROVIDER, "answer has no status")


def _to_did(row: Mapping[str, Any], fallback_address: str | None) -> DID | None:
    tag = text_or_none(row.get("nametag"))
    address = lower_address(row.get("address")) or lower_address(fallback_address)
    if tag is None or address is None:
        return None
    tag = tag.strip()
    return DID(
        type=DIDType.NAMETAG,
        identity=tag,
        source=PROVIDER,
        display_name=tag,
        valid=True,
        links=(LinkedAccount("ethereum", address),),
    )


def _raise_unless_empty(envelope: Mapping[str, Any]) -> None:
    result = envelope.get("result")
    message = text_or_none(envelope.get("message")) or ""
    detail = text_or_none(result) or message
    if result == [] or "no matching records" in message.lower():
        return
    raise _error_for_text(detail[:200])


def _error_for_text(text: str) -> ProviderError:
    lowered = text.lower()
    if any(hint in lowered for hint in _RATE_LIMIT_HINTS):
        return ProviderRateLimited(PROVIDER, text)
    if any(hint in lowered for hint in _PLAN_HINTS):
        return ProviderNotEntitled(PROVIDER, "the API key's plan does not include name tags")
    if any(hint in lowered for hint in _AUTH_HINTS):
        return ProviderAuthError(PROVIDER, text)
    return ProviderUnavailable(PROVIDER, text or "status 0")


def _rows(envelope: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    result = envelope.get("result")
    if not isinstance(result, list):
        return []
    return [row for row in result if isinstance(row, Mapping)]
