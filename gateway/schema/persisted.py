"""Which document a request runs: sent in full, persisted by hash, or trusted from a list.

**Automatic persisted queries** (the protocol Apollo clients speak, "APQ"): a request may
carry ``extensions.persistedQuery = {"version": 1, "sha256Hash": <64 hex digits>}``
instead of its ``query``. A hash the gateway knows runs its document; an unknown one is
answered ``PersistedQueryNotFound`` (``extensions.code`` ``PERSISTED_QUERY_NOT_FOUND``), and
the client sends the hash again *with* the query, which registers it once it hashes to the
same value and passes the document limits. Documents live in the shared cache
(:class:`~gateway.cache.SharedCache`: Redis when configured, so every replica knows them)
for ``NFTGW_GRAPHQL_PERSISTED_QUERY_TTL`` seconds. With APQ turned off a hash is answered
``PersistedQueryNotSupported`` (``PERSISTED_QUERY_NOT_SUPPORTED``), and the client falls
back to sending full queries. Both shapes are the ones Apollo clients look for.

**Trusted documents**: with ``NFTGW_GRAPHQL_TRUSTED_DOCUMENTS`` naming a manifest, only the
documents it lists run; nothing can be registered. A hash it does not list is
``PERSISTED_QUERY_NOT_IN_LIST``, a full query whose text it does not list is
``QUERY_NOT_IN_SAFELIST`` (the codes Apollo's router uses for the same refusals). The
manifest is the JSON that Apollo's ``generate-persisted-query-manifest`` writes::

    {"format": "apollo-persisted-query-manifest", "version": 1,
     "operations": [{"id": "<sha256 of body>", "name": "WalletNFTs", "type": "query",
                     "body": "query WalletNFTs(...) { ... }"}]}

It is read once when the app is built; a missing or malformed file stops the start.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.cache import SharedCache, cache_key
from gateway.errors import BadRequest
from gateway.schema.limits import QueryRejected

__all__ = [
    "MANIFEST_FORMAT",
    "PersistedDocuments",
    "Resolved",
    "TrustedDocuments",
    "persisted_hash",
    "sha256_hex",
]

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def persisted_hash(extensions: dict[str, Any] | None) -> str | None:
    """The request's ``extensions.persistedQuery.sha256Hash`` (lower case), ``None`` when it
    names none; a malformed one is a 400 (``BAD_REQUEST``)."""
    if not extensions or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise BadRequest("`extensions.persistedQuery` must be {version: 1, sha256Hash}")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise BadRequest("`extensions.persistedQuery.sha256Hash` must be 64 hex digits")
    return digest.lower()


@dataclass(frozen=True, slots=True)
class TrustedDocuments:
    """The documents a manifest lists: by id, and their texts."""

    by_id: dict[str, str]
    bodies: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> TrustedDocuments:
        """Read an Apollo persisted-query manifest; ``ValueError`` says what is wrong."""
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"trusted documents: cannot read {path}: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f'trusted documents: {path} is not an "{MANIFEST_FORMAT}"')
        if manifest.get("version") != 1:
            raise ValueError(f"trusted documents: {path} has version {manifest.get('version')!r}")
        operations = manifest.get("operations")
        if not isinstance(operations, list):
            raise ValueError(f"trusted documents: {path} has no `operations` list")
        by_id: dict[str, str] = {}
        for operation in operations:
            ident = operation.get("id") if isinstance(operation, dict) else None
            body = operation.get("body") if isinstance(operation, dict) else None
            if not isinstance(ident, str) or not isinstance(body, str):
                raise ValueError("trusted documents: each operation needs `id` and `body` strings")
            # Apollo's ids are sha256 of the body by default; compared in lower case.
            by_id[ident.lower() if _SHA256.fullmatch(ident) else ident] = body
        return cls(by_id=by_id, bodies=frozenset(by_id.values()))


@dataclass(frozen=True, slots=True)
class Resolved:
    """The document a request runs; ``register`` is the hash to store it under once it
    has passed the limits (an APQ registration), else ``None``."""

    query: str
    register: str | None = None


class PersistedDocuments:
    """The policy: APQ on or off, a trusted list or none, and the registrations' TTL."""

    def __init__(
        self, *, apq: bool = True, ttl: int = 86400, trusted: TrustedDocuments | None = None
    ) -> None:
        self.apq = apq
        self.ttl = ttl
        self.trusted = trusted

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, cache: SharedCache
    ) -> Resolved:
        """The document to run, or :class:`QueryRejected` / ``BadRequest``."""
        digest = persisted_hash(extensions)
        if self.trusted is not None:
            return Resolved(self._trusted(query, digest, self.trusted))
        if digest is None:
            if query is None:
                raise BadRequest("`query` must be a string")
            return Resolved(query)
        if not self.apq:
            raise QueryRejected("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
        if query is not None:  # a registration: the text must be what the hash names
            if sha256_hex(query) != digest:
                raise BadRequest("provided sha does not match query")
            return Resolved(query, register=digest)
        stored = await cache.get(cache_key("apq", digest))
        if not isinstance(stored, str):
            raise QueryRejected("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return Resolved(stored)

    async def register(self, digest: str, query: str, cache: SharedCache) -> None:
        await cache.set(cache_key("apq", digest), query, self.ttl)

    @staticmethod
    def _trusted(query: str | None, digest: str | None, trusted: TrustedDocuments) -> str:
        if digest is not None:
            listed = trusted.by_id.get(digest)
            if listed is None:
                raise QueryRejected(
                    "PERSISTED_QUERY_NOT_IN_LIST", "this server runs trusted documents only"
                )
            if query is not None and query != listed:
                raise BadRequest("provided sha does not match query")
            return listed
        if query is None:
            raise BadRequest("`query` must be a string")
        if query not in trusted.bodies:
            raise QueryRejected("QUERY_NOT_IN_SAFELIST", "this server runs trusted documents only")
        return query
