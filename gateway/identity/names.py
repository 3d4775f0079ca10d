"""Names where a wallet is accepted, and identities whose wallets can be listed together.

Everything here is pure and runs before any upstream is asked: a name is validated and put
in canonical form (NFC, lower case) first, so hostile input costs a 422 ``INVALID_NAME`` and
nothing else. The two grammars::

    wallet input  := EVM address | .bit name                  ("0x11…11", "alice.bit")
    identity      := .bit name                                  ("alice.bit")
                   | Next.ID persona public key                 ("0x02…", 33 or 65 bytes)
                   | platform ":" handle                        ("twitter:alice_nft")

A wallet input is read as a name when it contains a dot, else as an address, so ``0x123``
stays an ``INVALID_ADDRESS`` and ``alice.eth`` is an ``INVALID_NAME`` (no resolver for it).
Faces parse once, at their boundary, and name the field at fault
(:func:`gateway.errors.input_field`); services take what these return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.errors import InvalidName
from gateway.validation import parse_address
from providers.dotbit import validate_bit_name
from providers.nextid import PLATFORMS

__all__ = [
    "MAX_NAME_INPUT",
    "IdentityKind",
    "IdentityRef",
    "WalletInput",
    "parse_identity",
    "parse_name",
    "parse_wallet_input",
]

# Checked before normalising, so an oversized input costs nothing; the .bit rules then cap
# the canonical name at 64 characters.
MAX_NAME_INPUT = 256

_PERSONA_KEY = re.compile(r"0x(?:0[23][0-9a-f]{64}|04[0-9a-f]{128})")
# Handles are ASCII; ',' is refused because Next.ID reads it as a list of identities.
_HANDLE = re.compile(r"[a-z0-9_.@-]{1,128}")


class IdentityKind(StrEnum):
    DOTBIT = "dotbit"
    NEXTID_PERSONA = "nextid_persona"
    PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class IdentityRef:
    """A validated identity: ``value`` is canonical; ``platform`` is set for platform handles."""

    kind: IdentityKind
    value: str
    platform: str | None = None

    @property
    def text(self) -> str:
        """The canonical spelling (what ``parse_identity`` accepts back)."""
        return f"{self.platform}:{self.value}" if self.platform else self.value


@dataclass(frozen=True, slots=True)
class WalletInput:
    """Exactly one of a validated lower-case ``address`` or a canonical ``name``."""

    address: str | None = None
    name: str | None = None


def parse_wallet_input(value: Any) -> WalletInput:
    """An address (the :func:`~gateway.validation.parse_address` rules) or a name
    (:func:`parse_name`): input with a dot is a name."""
    if isinstance(value, str) and "." in value:
        return WalletInput(name=parse_name(value))
    return WalletInput(address=parse_address(value))


def parse_name(value: Any) -> str:
    """A .bit name in canonical form; :class:`InvalidName` for anything else."""
    text = _bounded_text(value)
    if not text.lower().endswith(".bit"):
        raise InvalidName("only .bit names are supported (e.g. alice.bit)")
    try:
        return validate_bit_name(text)
    except ValueError as exc:
        raise InvalidName(str(exc)) from None


def parse_identity(value: Any) -> IdentityRef:
    """A .bit name, a Next.ID persona key or ``platform:handle``; :class:`InvalidName` else."""
    text = _bounded_text(value)
    if ":" in text:
        platform, _, handle = text.partition(":")
        return _platform_identity(platform.lower(), handle)
    if _PERSONA_KEY.fullmatch(text.lower()):
        return IdentityRef(IdentityKind.NEXTID_PERSONA, text.lower())
    if "." in text:
        return IdentityRef(IdentityKind.DOTBIT, parse_name(text))
    raise InvalidName(
        "expected a .bit name, a Next.ID persona key or platform:handle (e.g. twitter:alice)"
    )


def _platform_identity(platform: str, handle: str) -> IdentityRef:
    if platform not in PLATFORMS:
        raise InvalidName(f"unknown platform {platform[:32]!r}")
    if platform == "nextid":  # "nextid:<key>" is the persona itself
        if not _PERSONA_KEY.fullmatch(handle.lower()):
            raise InvalidName("a Next.ID persona is a 0x-prefixed public key")
        return IdentityRef(IdentityKind.NEXTID_PERSONA, handle.lower())
    if platform == "dotbit":
        return IdentityRef(IdentityKind.PLATFORM, parse_name(handle), "dotbit")
    if platform == "ethereum":
        address = parse_address(handle)
        return IdentityRef(IdentityKind.PLATFORM, address, "ethereum")
    if not _HANDLE.fullmatch(handle.lower()):
        raise InvalidName("a handle is 1 to 128 characters of a-z 0-9 _ . @ -")
    return IdentityRef(IdentityKind.PLATFORM, handle.lower(), platform)


def _bounded_text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidName("a name must be a non-empty string")
    if len(value) > MAX_NAME_INPUT:
        raise InvalidName(f"a name is at most {MAX_NAME_INPUT} characters")
    return value
