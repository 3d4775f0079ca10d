"""NFT metadata is written by strangers: make it safe to show before any client sees it.

Anyone can mint a token whose name is 5 MB long, whose description carries terminal
escapes or right-to-left overrides that disguise a scam link, whose image is
``javascript:`` or a 10 MB ``data:`` URI, and whose trait list never ends. The adapters
map what upstreams send faithfully; :func:`present_nft` is the one step (called where the
service presents holdings) that turns a record into what the faces may render:

* media URLs through :func:`gateway.nfts.media.normalize_media_url`: ``https`` kept,
  ``ipfs://`` and ``ar://`` rewritten to the configured gateways, small ``data:`` images
  kept, everything else (other schemes, oversized, credentials, whitespace) dropped;
* names (NFT and collection) at most 256 characters, one line; descriptions at most
  10 000 characters of plain text (line breaks and tabs kept); every other control
  character, bidirectional override and byte-order mark removed;
* at most 100 traits, their types and values capped like names.

The gateway only rewrites text: it never fetches a metadata or media URL itself.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from gateway.nfts.media import normalize_media_url
from gateway.settings import Settings
from providers.models import NFTRecord, Trait

__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "MAX_NAME_CHARS",
    "MAX_TRAITS",
    "MAX_TRAIT_VALUE_CHARS",
    "clean_line",
    "clean_text",
    "present_nft",
]

MAX_NAME_CHARS = 256
MAX_DESCRIPTION_CHARS = 10_000
MAX_TRAITS = 100
MAX_TRAIT_VALUE_CHARS = 256

# C0 and C1 controls, DEL, bidi embeddings/overrides/isolates, BOM, lone surrogates.
_ALWAYS_UNSAFE = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\ufeff\ud800-\udfff"
)
_UNSAFE_IN_TEXT = re.compile(f"[{_ALWAYS_UNSAFE}]")
_LINE_BREAKS = re.compile(r"[\t\n\r\u2028\u2029\x85]+")
# What either cleaning would change besides the ends and the length: most text has none of
# it, and is then returned as it came (one scan instead of two substitutions, no copy).
_TEXT_CHANGES = re.compile(f"[{_ALWAYS_UNSAFE}\\r\u2028\u2029]")
_LINE_CHANGES = re.compile(f"[{_ALWAYS_UNSAFE}\\t\\n\\r\u2028\u2029]")


def _as_is(value: str, max_chars: int, changes: re.Pattern[str]) -> bool:
    """Whether cleaning leaves ``value`` as it is (then it is returned itself)."""
    return len(value) <= max_chars and value == value.strip() and not changes.search(value)


def clean_text(value: str | None, max_chars: int = MAX_DESCRIPTION_CHARS) -> str | None:
    """Multi-line plain text: controls removed (``\\n`` and ``\\t`` kept), capped."""
    if value is None:
        return None
    if _as_is(value, max_chars, _TEXT_CHANGES):
        return value or None
    text = _UNSAFE_IN_TEXT.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    text = text.strip()[:max_chars]
    return text or None


def clean_line(value: str | None, max_chars: int = MAX_NAME_CHARS) -> str | None:
    """One line of plain text: line breaks become spaces, controls removed, capped."""
    if value is None:
        return None
    if _as_is(value, max_chars, _LINE_CHANGES):
        return value or None
    text = _UNSAFE_IN_TEXT.sub("", _LINE_BREAKS.sub(" ", value)).strip()[:max_chars]
    return text or None


def _clean_traits(traits: tuple[Trait, ...] | None) -> tuple[Trait, ...] | None:
    """At most :data:`MAX_TRAITS` traits, each cleaned; the very tuple when none changes."""
    if traits is None:
        return None
    cleaned = []
    changed = len(traits) > MAX_TRAITS
    for trait in traits[:MAX_TRAITS]:
        trait_type = clean_line(trait.type, MAX_TRAIT_VALUE_CHARS)
        value = clean_line(trait.value, MAX_TRAIT_VALUE_CHARS)
        if trait_type is None or value is None:
            changed = True  # dropped
        elif trait_type is trait.type and value is trait.value:
            cleaned.append(trait)
        else:
            changed = True
            cleaned.append(Trait(type=trait_type, value=value))
    return tuple(cleaned) if changed else traits


def present_nft(nft: NFTRecord, settings: Settings) -> NFTRecord:
    """``nft`` as clients may see it (media rewritten or dropped, text cleaned, capped)."""

    def media(url: str | None) -> str | None:
        return normalize_media_url(
            url,
            ipfs_gateway=settings.ipfs_gateway,
            arweave_gateway=settings.arweave_gateway,
            max_data_uri_bytes=settings.max_data_uri_bytes,
        )

    presented: dict[str, Any] = {
        "name": clean_line(nft.name),
        "description": clean_text(nft.description),
        "image": media(nft.image),
        "animation_url": media(nft.animation_url),
        "collection_name": clean_line(nft.collection_name),
        "collection_slug": clean_line(nft.collection_slug),
        "collection_opensea_slug": clean_line(nft.collection_opensea_slug),
        "traits": _clean_traits(nft.traits),
    }
    if all(value is getattr(nft, field) for field, value in presented.items()):
        return nft  # already safe to show (most records): no copy
    return replace(nft, **presented)
