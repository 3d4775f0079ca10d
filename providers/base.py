"""The small contracts every adapter implements, and the HTTP plumbing they share.

An adapter is constructed with the one shared ``httpx.AsyncClient`` and its own settings;
it never creates a client and never reads the environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from time import time
from typing import Any, Protocol, runtime_checkable

import httpx
import orjson

from providers.errors import (
    ProviderBadData,
    ProviderConnectTimeout,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderTransient,
    ProviderUnavailable,
    error_for_status,
)
from providers.models import (
    DID,
    Chain,
    CollectionInfo,
    FloorPrice,
    HoldingsPage,
    NFTRecord,
    OwnersPage,
)

__all__ = [
    "Answer",
    "DIDSource",
    "FloorSource",
    "MetadataRefresher",
    "NFTBatchDetailSource",
    "NFTDetailSource",
    "NFTSource",
    "NameResolver",
    "PersonaSource",
    "Secret",
    "WarmableSource",
    "fetch_json",
    "httpx_exchange",
    "open_connections",
    "parse_retry_after",
    "read_capped",
    "redact_key",
]

# What an API key is replaced by in error texts (upstreams may echo a request back).
REDACTED = "[redacted]"
# An upstream body larger than this (decoded) is refused: it also stops gzip bombs.
MAX_BODY_BYTES = 5 * 1024 * 1024
# ``X-RateLimit-Reset`` values above this are Unix times; smaller ones are delays in seconds
# (vendors use both).
_EPOCH_THRESHOLD = 1_000_000_000


class Secret(Protocol):
    """A configured key (pydantic's ``SecretStr`` is one): its text only on request."""

    def get_secret_value(self) -> str: ...


@runtime_checkable
class NFTSource(Protocol):
    """Lists the NFTs an owner holds on one chain, one upstream page at a time."""

    name: str

    def supports(self, chain: Chain) -> bool: ...

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage: ...


@runtime_checkable
class NFTDetailSource(Protocol):
    """Per-NFT enrichment: the fields a list call does not carry (traits, rank, owners)."""

    name: str

    async def fetch_nft_detail(self, owner: str, record: NFTRecord) -> NFTRecord: ...

    async def fetch_collection(self, chain: Chain, slug: str) -> CollectionInfo: ...


@runtime_checkable
class WarmableSource(Protocol):
    """A source that can open connections to its upstream before the calls that will use
    them (a call on an open connection skips the TCP and TLS handshakes' round trips)."""

    name: str

    async def open_connections(self, count: int) -> None: ...


@runtime_checkable
class FloorSource(Protocol):
    """A collection's floor price on request (OpenSea's collection stats); list payloads
    that carry floors (Alchemy, Moralis) put them on the records instead."""

    name: str

    async def fetch_floor(self, chain: Chain, slug: str) -> FloorPrice | None: ...


@runtime_checkable
class MetadataRefresher(Protocol):
    """Asks the upstream to re-read one NFT's metadata (queued upstream; returns once the
    upstream accepted the request)."""

    name: str

    async def refresh_metadata(self, chain: Chain, contract: str, token_id: str) -> None: ...


@runtime_checkable
class NFTBatchDetailSource(Protocol):
    """Detail and collection facts by the batch, one upstream call per method call.

    Items the upstream does not know are left out of the answer. A batch the server
    refuses as too large raises :class:`~providers.errors.ProviderBatchTooLarge`; a server
    without the batch routes :class:`~providers.errors.ProviderUnsupported` (the caller
    falls back to :class:`NFTDetailSource`).
    """

    name: str

    async def fetch_nft_batch(
        self, owner: str, chain: Chain, records: Sequence[NFTRecord]
    ) -> tuple[NFTRecord, ...]: ...

    async def fetch_collection_batch(self, slugs: Sequence[str]) -> tuple[CollectionInfo, ...]: ...

    async def fetch_owners_page(self, record: NFTRecord, cursor: str | None) -> OwnersPage: ...


@runtime_checkable
class DIDSource(Protocol):
    """Answers "which DIDs does this address have?"."""

    name: str

    async def fetch_dids(self, address: str) -> tuple[DID, ...]: ...


@runtime_checkable
class NameResolver(Protocol):
    """Turns a name (``alice.bit``) into the addresses it points to."""

    name: str

    def handles(self, name: str) -> bool: ...

    async def resolve(self, name: str) -> tuple[str, ...]: ...


@runtime_checkable
class PersonaSource(Protocol):
    """Next.ID-style persona lookup: the personas holding a proof for ``identity``."""

    name: str

    async def fetch_persona(self, identity: str, platform: str) -> tuple[DID, ...]: ...


def redact_key(exc: ProviderError, key: str | None) -> ProviderError:
    """A fresh error of ``exc``'s type, its text with ``key`` replaced by :data:`REDACTED`.

    Every adapter raises this instead of ``exc`` (``raise redact_key(exc, key) from None``):
    fresh, because ``exc.__context__`` may hold the httpx error whose URL carries the key.
    """
    message = exc.message.replace(key, REDACTED) if key else exc.message
    if isinstance(exc, ProviderRateLimited):
        return ProviderRateLimited(exc.provider, message, exc.retry_after)
    return type(exc)(exc.provider, message)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP-date) or ``X-RateLimit-Reset``
    (a Unix time or a delay in seconds). ``None`` when neither says anything usable; the
    caller caps the value (an upstream may ask for a year)."""
    value = (headers.get("retry-after") or "").strip()
    if value:
        if value.isascii() and value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time())
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if reset.isascii() and reset.isdigit():
        seconds = float(reset)
        return max(0.0, seconds - time()) if seconds > _EPOCH_THRESHOLD else seconds
    return None


# An answer as the adapters' plumbing reads it: status, headers (case-insensitive), and the
# body (decoded), ``None`` when it was longer than the caller's limit.
Answer = tuple[int, Mapping[str, str], bytes | None]


async def fetch_json(
    client: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    error_detail: bool = True,
) -> Any:
    """One upstream call, its failures translated into :mod:`providers.errors`.

    The body is streamed and refused past :data:`MAX_BODY_BYTES` decoded bytes. Error texts
    carry the status and a short excerpt of the body, never the URL (it may hold a key).
    A client with an ``exchange`` method of its own, taking the arguments of
    :func:`httpx_exchange` but the client and returning an :data:`Answer` (the gateway's
    upstream clients have one), makes the call that way; any other goes through httpx's
    API (:func:`httpx_exchange`). Either way, failures arrive as httpx's exceptions.
    """
    if params:
        # Encoded as httpx encodes them, then parsed once with the URL: given as ``params``,
        # httpx parses the URL, merges them in and parses the result again (~40 us a call).
        url = f"{url}{'&' if '?' in url else '?'}{httpx.QueryParams(params)}"
    exchange = getattr(client, "exchange", None)  # the client's own way, if it has one
    try:
        if exchange is None:
            answer = await httpx_exchange(
                client, method, url, headers=headers, json_body=json_body, max_bytes=MAX_BODY_BYTES
            )
        else:
            answer = await exchange(
                method, url, headers=headers, json_body=json_body, max_bytes=MAX_BODY_BYTES
            )
    except httpx.ConnectTimeout as exc:
        raise ProviderConnectTimeout(provider, type(exc).__name__) from None
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(provider, type(exc).__name__) from None
    except (httpx.UnsupportedProtocol, httpx.ProxyError) as exc:
        raise ProviderUnavailable(provider, type(exc).__name__) from None
    except httpx.TransportError as exc:  # refused, reset (also mid-body), protocol errors
        raise ProviderTransient(provider, type(exc).__name__) from None

    status, answer_headers, body = answer
    if body is None:
        raise ProviderBadData(provider, f"body exceeds {MAX_BODY_BYTES} bytes")
    if status >= 400 or status in (599,):
        detail = body[:200].decode("utf-8", "replace").strip() if error_detail else ""
        error = error_for_status(provider, status, detail)
        if isinstance(error, ProviderRateLimited):
            error.retry_after = parse_retry_after(answer_headers)
        raise error
    if status >= 300:
        raise ProviderUnavailable(provider, f"unexpected redirect HTTP {status}")
    return decode_json(provider, body)


async def httpx_exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None,
    json_body: Any,
    max_bytes: int,
) -> Answer:
    """One call through httpx's client API, whatever its transport (tests fake upstreams
    there): the body streamed, and abandoned past ``max_bytes`` decoded bytes."""
    request = client.build_request(method, url, headers=headers, json=json_body)
    response = await client.send(request, stream=True)
    try:
        body = await read_capped(response.aiter_bytes(), max_bytes)
    finally:
        await response.aclose()
    return response.status_code, response.headers, body


async def read_capped(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes | None:
    """A body's (decoded) chunks joined, or ``None`` as soon as they pass ``max_bytes``: the
    rest is left unread (the caller's connection is then not reused)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            return None
        parts.append(chunk)
    return b"".join(parts)


@runtime_checkable
class _ConnectionPool(Protocol):
    async def open_connections(self, url: str, count: int) -> None: ...


async def open_connections(client: httpx.AsyncClient, url: str, count: int) -> None:
    """``count`` connections to ``url``'s origin open in ``client``'s pool, when the client
    can open them ahead of its calls (the gateway's clients can); otherwise nothing."""
    if isinstance(client, _ConnectionPool):
        await client.open_connections(url, count)


def decode_json(provider: str, body: bytes) -> Any:
    """Parse an upstream body; anything that is not JSON is :class:`ProviderBadData`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProviderBadData(provider, "body is not valid JSON") from None
