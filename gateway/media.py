"""Media URLs as clients get them: decentralised schemes rewritten, unsafe ones dropped.

The gateway never fetches a metadata or media URL itself; it only rewrites the text.
"""

from __future__ import annotations

__all__ = ["MAX_URL_LENGTH", "normalize_media_url"]

MAX_URL_LENGTH = 2048
_SAFE_DATA_PREFIXES = ("data:image/", "data:video/", "data:audio/")


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
        return url if len(url) <= max_data_uri_bytes else None
    if len(url) > MAX_URL_LENGTH:
        return None
    if lowered.startswith("ipfs://"):
        path = url[len("ipfs://") :]
        path = path[len("ipfs/") :] if path.startswith("ipfs/") else path
        return ipfs_gateway.rstrip("/") + "/" + path if path else None
    if lowered.startswith("ar://"):
        path = url[len("ar://") :]
        return arweave_gateway.rstrip("/") + "/" + path if path else None
    if lowered.startswith("https://"):
        return url
    return None
