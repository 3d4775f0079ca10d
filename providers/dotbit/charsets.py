"""The character sets a .bit account label may be written in, as the indexer accepts them.

das-lib (``common/char_set.go``) sorts every character of an account into one character
set: emoji, digits, English (``a-z``), Chinese (simplified and traditional), Japanese,
Korean, Russian, Turkish, Thai and Vietnamese; a character in none of them makes the
account invalid. The sets themselves are lists kept on chain (config cells), so this module
reads them by Unicode property instead, with the ``regex`` module (its ``\\p{Script=...}``
and emoji properties track current Unicode; the standard ``re`` has neither):

* **neutral**: ``0-9``, ``-`` and emoji (``Extended_Pictographic`` with the components
  that build emoji sequences: ZWJ, variation selector 16, skin tones, keycaps, flags);
* **one script of letters**: Latin (``a-z`` and the Turkish and Vietnamese letters),
  Cyrillic, Thai, Hangul, or Han with Hiragana and Katakana (Chinese and Japanese mix
  them). das-lib's ``GetAccountCharTypeExclude`` collects an account's sets apart from
  emoji and digits because an account may use one language only: a label mixing two of
  these scripts (``аlice`` with a Cyrillic ``а``) is refused here the same way.

Compatibility forms (full-width ``ａｌｉｃｅ``, ligatures, circled or superscript letters,
half-width katakana) are in none of the indexer's sets: a character that NFKC would change
is refused. Letters of any other script (Greek, Arabic, ...) are refused: no .bit set
holds them.
"""

from __future__ import annotations

import unicodedata

import regex

__all__ = ["LABEL_SCRIPTS", "label_script"]

# Script names as the error messages say them, keyed by the regex property that finds them.
LABEL_SCRIPTS: dict[str, str] = {
    "Latin": "Latin",
    "Cyrillic": "Cyrillic",
    "Thai": "Thai",
    "Hangul": "Korean",
    "Han": "Chinese/Japanese",
    "Hiragana": "Chinese/Japanese",
    "Katakana": "Chinese/Japanese",
}
_NEUTRAL = regex.compile(
    r"[0-9\-]|\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}"
    r"|[\u200d\ufe0f\u20e3]"
)
_SCRIPT = {name: regex.compile(rf"\p{{Script_Extensions={name}}}") for name in LABEL_SCRIPTS}


def label_script(label: str) -> str | None:
    """The one script of ``label``'s letters (``None``: only digits, hyphens and emoji).

    ``label`` is NFC and lower-case. Raises :class:`ValueError` saying which character is
    in no .bit character set, or which two scripts are mixed."""
    found: str | None = None
    for char in label:
        if _NEUTRAL.fullmatch(char):
            continue
        script = _script_of(char) if unicodedata.category(char)[0] in "LM" else None
        if script is None or unicodedata.normalize("NFKC", char) != char:
            raise ValueError(f".bit name contains a character in no .bit character set {char!r}")
        if found is not None and script != found:
            raise ValueError(
                f".bit name mixes {found} and {script} letters in one label (lookalike names "
                "are refused; a name uses one script plus digits and emoji)"
            )
        found = script
    return found


def _script_of(char: str) -> str | None:
    if char.isascii():
        return "Latin" if "a" <= char <= "z" else None
    for name, pattern in _SCRIPT.items():
        if pattern.match(char):
            return LABEL_SCRIPTS[name]
    return None
