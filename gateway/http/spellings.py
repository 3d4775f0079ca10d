"""Every spelling a secret may take in a text: what :mod:`.redaction` looks for.

An upstream that quotes our request back (an error page, a debug echo) may return a key
URL-encoded, lower- or upper-cased, base64-encoded (a Basic header), or cut short (error
texts are truncated). Redacting only the exact key string misses all of those (issue 16).
:class:`Spellings` turns the registered secrets into

* ``variants``: each key as is, URL-encoded, and the stable middle of its base64 and
  base64url encodings at each of the three byte alignments, all lower-cased (matching is
  case-insensitive on ASCII); and
* ``grams``: every ``FRAGMENT_LENGTH``-character piece of every variant. Any stretch of
  at least that many characters of a key, wherever it was cut, contains one of them, and
  every position of such a stretch is covered by one: a text is redacted by finding the
  grams and blanking the spans they cover.

A URL-shaped secret (``NFTGW_REDIS_URL``) is not cut into grams: they would blank every
``redis://`` and ``127.0.0.1`` of the log. It is matched whole, and its password is cut
like a key.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

__all__ = ["FRAGMENT_LENGTH", "Spellings"]

FRAGMENT_LENGTH = 8  # a piece of a key this long is redacted wherever it appears
# Lower-cases ASCII only, so a text keeps its length (str.lower() may not: "İ").
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True)
class Spellings:
    """The spellings of a set of secrets (see the module docstring)."""

    variants: tuple[str, ...]  # lower-cased, longest first
    grams: frozenset[str]  # lower-cased
    short: tuple[str, ...]  # variants shorter than a gram (and URL-shaped secrets)
    # Runs of at least a gram's length of the characters grams are made of: only these
    # stretches of a text are scanned (most log lines have few or none).
    runs: re.Pattern[str] = re.compile(r"(?!)")

    @classmethod
    def of(cls, secrets: Iterable[str]) -> Spellings:
        variants: set[str] = set()
        grams: set[str] = set()
        for secret in secrets:
            if "://" in secret:  # URL-shaped: whole, and its password as a key
                variants.add(ascii_lower(secret))
                password = _url_password(secret)
                if password is None:
                    continue
                secret = password
            forms = {secret}
            forms.add(quote(secret, safe=""))
            forms.update(_base64_cores(secret))
            for form in forms:
                low = ascii_lower(form)
                variants.add(low)
                grams.update(
                    low[i : i + FRAGMENT_LENGTH] for i in range(len(low) - FRAGMENT_LENGTH + 1)
                )
        short = tuple(v for v in variants if len(v) < FRAGMENT_LENGTH or "://" in v)
        ordered = tuple(sorted(variants, key=len, reverse=True))
        chars = "".join(sorted({char for gram in grams for char in gram}))
        runs = re.compile(f"[{re.escape(chars)}]{{{FRAGMENT_LENGTH},}}") if chars else None
        return cls(ordered, frozenset(grams), short, runs or re.compile(r"(?!)"))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The merged ``(start, end)`` spans of ``text`` that spell a secret."""
        low = ascii_lower(text)
        found: list[tuple[int, int]] = []
        for needle in self.short:  # too short to have grams: matched whole
            start = low.find(needle)
            while start != -1:
                found.append((start, start + len(needle)))
                start = low.find(needle, start + 1)
        grams, size = self.grams, FRAGMENT_LENGTH
        # One set lookup per position of a run: cheaper than a find per gram (hundreds).
        for run in self.runs.finditer(low):
            found += [
                (i, i + size)
                for i in range(run.start(), run.end() - size + 1)
                if low[i : i + size] in grams
            ]
        return _merged(found)

    def found_in(self, text: str) -> bool:
        """Whether ``text`` spells a secret (what :meth:`spans` would find), stopping at the
        first hit and building no list: asked of every log record."""
        if not self.variants:
            return False
        low = ascii_lower(text)
        if any(needle in low for needle in self.short):
            return True
        grams, size = self.grams, FRAGMENT_LENGTH
        return any(
            low[i : i + size] in grams
            for run in self.runs.finditer(low)
            for i in range(run.start(), run.end() - size + 1)
        )

    def redact(self, text: str, replacement: str) -> str:
        spans = self.spans(text)
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            parts += [text[last:start], replacement]
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def suspected_in(self, body: bytes) -> bool:
        """A cheap test for a response body (every answer passes it): a whole variant, or
        a key's first or last piece (an echo cut short), in any ASCII case."""
        low = body.lower()
        needles = self.variants + tuple(v[:FRAGMENT_LENGTH] for v in self.variants)
        needles += tuple(v[-FRAGMENT_LENGTH:] for v in self.variants)
        return any(needle.encode() in low for needle in needles if needle)


def _base64_cores(secret: str) -> set[str]:
    """The characters of ``secret``'s base64 (and base64url) encoding that do not depend
    on what surrounds it, at each of the three byte alignments it may sit at."""
    raw = secret.encode()
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        head = (offset * 8 + 5) // 6  # characters that carry the padding bytes' bits
        core = encoded[head : len(encoded) - 4]  # the last quantum may hold padding
        if len(core) >= FRAGMENT_LENGTH:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def _url_password(secret: str) -> str | None:
    try:
        password = urlsplit(secret).password
    except ValueError:
        return None
    return password if password and len(password) >= FRAGMENT_LENGTH else None


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
