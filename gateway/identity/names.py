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

A .bit name is written in the indexer's character sets, one script per label
(:func:`providers.dotbit.validate_bit_name`: emoji, Thai, Korean, Chinese, Japanese,
Russian, Turkish, Vietnamese, ...), so a Cyrillic ``а`` among Latin letters or full-width
letters are refused there. One lookalike stays within one script: Latin letters that read
as ASCII ones (dotless ``ı``, small capitals, ``ſ``). A label made of ASCII and such
letters only (``alıce``) reads as another, ASCII, name and is refused, naming it; Turkish
and Vietnamese words with letters of their own (``şeker``, ``việt``) stay valid.
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
# Latin letters that read as one ASCII letter (Unicode's confusables.txt maps each to it),
# for the lookalike rule above.
_ASCII_LOOKALIKES = {
    "\u0131": "i",  # ı dotless i
    "\u0237": "j",  # ȷ dotless j
    "\u017f": "s",  # ſ long s
    "\u0251": "a",  # ɑ Latin alpha
    "\u0261": "g",  # ɡ script g
    "\u0269": "i",  # ɩ Latin iota
    "\u026a": "i",  # ɪ small capital i
    "\u028f": "y",  # ʏ small capital y
    "\u1d00": "a",  # ᴀ small capital a
    "\u1d04": "c",  # ᴄ small capital c
    "\u1d0f": "o",  # ᴏ small capital o
    "\u1d1c": "u",  # ᴜ small capital u
    "\u1d20": "v",  # ᴠ small capital v
    "\u1d21": "w",  # ᴡ small capital w
    "\u1d22": "z",  # ᴢ small capital z
    "\u0138": "k",  # ĸ kra
}
_ASCII_LABEL = re.compile(r"[a-z0-9-]+")
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
        canonical = validate_bit_name(text)
    except ValueError as exc:
        raise InvalidName(str(exc)) from None
    lookalike = _ascii_lookalike(canonical)
    if lookalike is not None:
        raise InvalidName(
            f"{canonical} reads as {lookalike} (a letter that looks like an ASCII one): "
            "lookalike names are refused"
        )
    return canonical


def _ascii_lookalike(name: str) -> str | None:
    """The ASCII name ``name`` reads as, when it is spelt with lookalike letters."""
    if name.isascii():
        return None
    seen = "".join(_ASCII_LOOKALIKES.get(char, char) for char in name)
    labels = seen.split(".")
    return seen if all(_ASCII_LABEL.fullmatch(label) for label in labels) else None


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
