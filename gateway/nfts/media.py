"""Media URLs as clients get them: decentralised schemes rewritten, unsafe ones dropped.

The gateway never fetches a metadata or media URL itself; it only rewrites the text.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["MAX_URL_LENGTH", "normalize_media_url"]

MAX_URL_LENGTH = 2048
_SAFE_DATA_PREFIXES = ("data:image/", "data:video/", "data:audio/")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What an ipfs:// or ar:// path may contain once it is appended to a gateway URL.
_SAFE_PATH = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/?#-]+")


def normalize_media_url(
    url: str | None,
    *,
    ipfs_gateway: str,
    arweave_gateway: str,
    max_data_uri_bytes: int,
) -> str | None:
    """``ipfs://`` and ``ar://`` through the configured gateways; ``https`` kept; small
    media ``data:`` URIs kept; anything else (``javascript:``, ``http:``, oversized) dropped."""
    if url is None:
        return None
    url = url.strip()
    lowered = url[:16].lower()
    if lowered.startswith(_SAFE_DATA_PREFIXES):
        ok = len(url) <= max_data_uri_bytes and not _CONTROL.search(url)
        return url if ok else None
    if len(url) > MAX_URL_LENGTH or _CONTROL.search(url) or " " in url or "\\" in url:
        return None
    if lowered.startswith("ipfs://"):
        path = url[len("ipfs://") :]
        path = path[len("ipfs/") :] if path.startswith("ipfs/") else path
        return ipfs_gateway.rstrip("/") + "/" + path if _safe_path(path) else None
    if lowered.startswith("ar://"):
        path = url[len("ar://") :]
        return arweave_gateway.rstrip("/") + "/" + path if _safe_path(path) else None
    if lowered.startswith("https://"):
        return url if _safe_https(url) else None
    return None


def _safe_path(path: str) -> bool:
    """A content path that stays under the gateway's prefix (no ``..``, no odd bytes)."""
    return bool(_SAFE_PATH.fullmatch(path)) and ".." not in path.split("/")


def _safe_https(url: str) -> bool:
    """A host is present and no credentials ride along (``https://user:pw@host``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.hostname) and "@" not in parts.netloc
