from __future__ import annotations

import pytest

from gateway.nfts.media import normalize_media_url


def normalize(url: str | None, cap: int = 64 * 1024) -> str | None:
    return normalize_media_url(
        url,
        ipfs_gateway="https://gw.example/ipfs/",
        arweave_gateway="https://ar.example/",
        max_data_uri_bytes=cap,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ipfs://bafy123/1.png", "https://gw.example/ipfs/bafy123/1.png"),
        ("ipfs://ipfs/bafy123/1.png", "https://gw.example/ipfs/bafy123/1.png"),
        ("ar://abc", "https://ar.example/abc"),
        ("https://cdn.example/a.png", "https://cdn.example/a.png"),
        ("data:image/svg+xml;base64,PHN2Zz4=", "data:image/svg+xml;base64,PHN2Zz4="),
        ("javascript:alert(1)", None),
        ("http://plain.example/a.png", None),
        ("data:text/html,<script>", None),
        ("", None),
        (None, None),
    ],
)
def test_media_urls_are_rewritten_or_dropped(url: str | None, expected: str | None) -> None:
    assert normalize(url) == expected


def test_data_uris_over_the_cap_are_dropped() -> None:
    uri = "data:image/png;base64," + "A" * 100
    assert normalize(uri, cap=50) is None
    assert normalize(uri, cap=500) == uri
