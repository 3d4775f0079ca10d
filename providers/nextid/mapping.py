"""Next.ID Proof Service bodies -> :class:`~providers.models.DID` values.

Pure functions, no I/O. ``GET /v1/proof`` answers (UPSTREAMS.md §4.2)::

    {"pagination": {"total", "per", "current", "next"},     # next = 0 on the last page
     "ids": [{"persona", "avatar", "alias", "last_arweave_id", "activated_at",
              "proofs": [{"platform", "identity", "alt_id", "created_at",
                          "last_checked_at", "is_valid", "invalid_reason"}]}]}

Timestamps are strings of Unix seconds (``"0"`` when unknown); older answers carry only
``avatar`` and may lack ``last_arweave_id``, ``alias`` and ``activated_at``. Errors are
``{"message": "..."}`` with a 4xx/5xx status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.errors import ProviderBadData
from providers.mapping import first_text, mapping, parse_int, text_or_none
from providers.models import DID, DIDType, LinkedAccount

__all__ = ["PLATFORMS", "PROVIDER", "error_message", "to_link", "to_persona", "to_personas"]

PROVIDER = "nextid"

# Platforms the proof service knows (UPSTREAMS.md §4.5), in the order its /healthz lists
# them: the gateway accepts ``platform:handle`` only for these, and the emulator lists them.
PLATFORMS: tuple[str, ...] = (
    "github",
    "nextid",
    "twitter",
    "telegram",
    "tiktok",
    "keybase",
    "ethereum",
    "discord",
    "dotbit",
    "solana",
    "minds",
    "dns",
    "ens",
    "steam",
    "activitypub",
    "slack",
)


def to_personas(body: Any, queried: tuple[str, str] | None = None) -> tuple[list[DID], int]:
    """The personas of one ``/v1/proof`` page and the next page number (``0`` = no more).

    ``queried`` is the ``(platform, identity)`` asked about (see :func:`to_persona`).
    Raises :class:`ProviderBadData` when the body has no ``ids`` list.
    """
    envelope = mapping(body)
    ids = envelope.get("ids")
    if not isinstance(ids, list):
        detail = error_message(body)
        suffix = f": {detail}" if detail else ""
        raise ProviderBadData(PROVIDER, "answer has no ids list" + suffix)
    personas = [did for item in ids if (did := to_persona(item, queried)) is not None]
    next_page = parse_int(mapping(envelope.get("pagination")).get("next")) or 0
    return personas, next_page


def to_persona(item: Any, queried: tuple[str, str] | None = None) -> DID | None:
    """One persona as a DID; ``None`` when it names no public key.

    Validity belongs to each proof (``links[].valid``), not to the persona: one valid
    twitter proof says nothing about a stale wallet proof. The DID's own ``valid`` is the
    validity of the proof that ties the persona to ``queried`` (``(platform, identity)``,
    e.g. the wallet asked about), ``None`` when there is no such proof or no query.
    """
    entry = mapping(item)
    persona = first_text(entry.get("persona"), entry.get("avatar"))
    if persona is None:
        return None
    proofs = [proof for proof in _list(entry.get("proofs")) if isinstance(proof, Mapping)]
    links = tuple(link for proof in proofs if (link := to_link(proof)) is not None)
    return DID(
        type=DIDType.NEXTID,
        identity=persona.strip(),
        source=PROVIDER,
        display_name=_twitter_name(links),
        valid=_queried_validity(links, queried),
        links=links,
    )


def to_link(proof: Mapping[str, Any]) -> LinkedAccount | None:
    """One proof as a linked account; ethereum identities lower-case."""
    platform = text_or_none(proof.get("platform"))
    identity = text_or_none(proof.get("identity"))
    if platform is None or identity is None:
        return None
    platform = platform.strip().lower()
    identity = identity.strip()
    if platform == "ethereum":
        identity = identity.lower()
    is_valid = proof.get("is_valid")
    return LinkedAccount(
        platform=platform,
        identity=identity,
        valid=is_valid if isinstance(is_valid, bool) else None,
        checked_at=parse_int(proof.get("last_checked_at")) or None,  # "0" means never
    )


def _queried_validity(
    links: tuple[LinkedAccount, ...], queried: tuple[str, str] | None
) -> bool | None:
    if queried is None:
        return None
    platform, identity = queried[0].lower(), queried[1].strip().lower()
    matching = [
        link.valid
        for link in links
        if link.platform == platform and link.identity.lower() == identity
    ]
    if any(valid is True for valid in matching):
        return True
    return False if any(valid is False for valid in matching) else None


def error_message(body: Any) -> str | None:
    """The text of a ``{"message": ...}`` error body."""
    return text_or_none(mapping(body).get("message"))


def _twitter_name(links: tuple[LinkedAccount, ...]) -> str | None:
    # A proven handle is the best name; a stale proof's handle still beats a bare key.
    twitter = [link for link in links if link.platform == "twitter"]
    valid = [link for link in twitter if link.valid]
    chosen = valid or twitter
    return chosen[0].identity if chosen else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
