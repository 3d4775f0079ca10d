"""Metadata written by strangers, through the adapters' mapping functions and the sanitiser:
what a client finally sees is capped, plain and safe to link. And the gateway never fetches
a metadata URL itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.nfts.sanitize import (
    MAX_DESCRIPTION_CHARS,
    MAX_NAME_CHARS,
    MAX_TRAITS,
    clean_line,
    clean_text,
    present_nft,
)
from gateway.settings import Settings
from providers.alchemy.mapping import to_nft_record as alchemy_record
from providers.models import Chain, NFTRecord
from providers.opensea.mapping import to_nft_record as opensea_record
from providers.sandbox import Sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.conftest import sandbox_settings

SETTINGS = Settings(sandbox="on")
OWNER = "0x1111111111111111111111111111111111111111"
CONTRACT = "0x" + "ab" * 20


def alchemy(**metadata: Any) -> NFTRecord:
    raw = {
        "contract": {"address": CONTRACT, "tokenType": "ERC721"},
        "tokenId": "7",
        "tokenType": "ERC721",
        "raw": {"metadata": metadata},
    }
    record = alchemy_record(raw, Chain.ETHEREUM, OWNER)
    assert record is not None
    return present_nft(record, SETTINGS)


def opensea(**fields: Any) -> NFTRecord:
    raw = {"identifier": "7", "contract": CONTRACT, "token_standard": "erc721", **fields}
    record = opensea_record(raw, Chain.ETHEREUM, OWNER)
    assert record is not None
    return present_nft(record, SETTINGS)


def image_of(url: str) -> str | None:
    """The image a client sees for ``url``, through both adapters (they must agree)."""
    via_alchemy = alchemy(image=url).image
    via_opensea = opensea(image_url=url).image
    assert via_alchemy == via_opensea
    return via_alchemy


# -- media URLs ----------------------------------------------------------------------------


def test_data_uris_up_to_the_cap_are_kept_and_larger_ones_dropped() -> None:
    prefix = "data:image/png;base64,"
    at_cap = prefix + "A" * (SETTINGS.max_data_uri_bytes - len(prefix))
    assert image_of(at_cap) == at_cap
    assert image_of(at_cap + "A") is None


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "data:application/javascript,alert(1)",
        "file:///etc/passwd",
        "http://insecure.example/cat.png",
        "ftp://example.com/cat.png",
        "//evil.example/cat.png",
        "https://user:password@evil.example/cat.png",
        "https://evil.example/ca t.png",
        "https://evil.example/cat.png\r\nSet-Cookie: x=1",
        "https://evil.example\\@good.example/",
        "https:///no-host",
        "ipfs://../../../etc/passwd",
        "ipfs://Qm\x00hash",
        "ipfs://",
        "https://evil.example/" + "a" * 2100,
        "data:image/svg+xml,<svg onload=alert(1)>\x07",
    ],
)
def test_unsafe_urls_are_dropped(url: str) -> None:
    assert image_of(url) is None


def test_safe_urls_are_kept_or_rewritten() -> None:
    assert image_of("https://cdn.example/cat.png?x=1#y") == "https://cdn.example/cat.png?x=1#y"
    assert image_of("ipfs://QmHash/1.png") == "https://ipfs.io/ipfs/QmHash/1.png"
    assert image_of("ipfs://ipfs/QmHash") == "https://ipfs.io/ipfs/QmHash"
    assert image_of("ar://TxId") == "https://arweave.net/TxId"


# -- text ----------------------------------------------------------------------------------


def test_names_are_capped_at_256_characters_of_one_line() -> None:
    assert alchemy(name="n" * MAX_NAME_CHARS).name == "n" * MAX_NAME_CHARS
    assert alchemy(name="n" * (MAX_NAME_CHARS + 1)).name == "n" * MAX_NAME_CHARS
    assert opensea(name="x" * 5_000_000).name == "x" * MAX_NAME_CHARS
    assert opensea(name="Line one\nLine two\r\n").name == "Line one Line two"


def test_descriptions_are_capped_at_10_000_characters() -> None:
    assert len(opensea(description="d" * MAX_DESCRIPTION_CHARS).description or "") == 10_000
    assert len(opensea(description="d" * (MAX_DESCRIPTION_CHARS + 1)).description or "") == 10_000


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("\x1b[31mred\x1b[0m terminal", "[31mred[0m terminal"),  # ESC gone: no escape sequence
        ("nul\x00byte", "nulbyte"),
        ("bell\x07 and del\x7f", "bell and del"),
        ("c1\x80\x9bcontrols", "c1controls"),
        ("gpj.\u202eexe.scam", "gpj.exe.scam"),  # right-to-left override
        ("\u2066isolate\u2069 \u200fmark", "isolate mark"),
        ("\ufeffbom", "bom"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("   ", None),
    ],
)
def test_control_characters_are_removed(hostile: str, expected: str | None) -> None:
    assert clean_line(hostile) == expected
    assert opensea(name=hostile).name == expected
    assert alchemy(description=hostile).description == expected


def test_descriptions_stay_plain_multi_line_text() -> None:
    description = "Line one\r\nLine two\n\n\tindented <b>not html</b>"
    assert clean_text(description) == "Line one\nLine two\n\n\tindented <b>not html</b>"


def test_collection_names_and_slugs_are_cleaned_too() -> None:
    record = opensea(collection="slug\x00\u202e" + "s" * 400)
    assert record.collection_slug == "slug" + "s" * 252
    assert record.collection_opensea_slug == record.collection_slug


# -- traits --------------------------------------------------------------------------------


def test_traits_are_capped_in_number_and_length() -> None:
    attributes = [{"trait_type": f"t{i}\n", "value": "v" * 1000} for i in range(5000)]
    traits = alchemy(attributes=attributes).traits or ()
    assert len(traits) == MAX_TRAITS
    assert traits[0].type == "t0"
    assert all(len(t.value) == 256 for t in traits)
    hostile = opensea(
        traits=[{"trait_type": "\x00\u202e", "value": "x"}, {"trait_type": "ok", "value": 3}]
    )
    assert [(t.type, t.value) for t in hostile.traits or ()] == [("ok", "3")]


# -- end to end: what the REST shim serves, and what it fetches ----------------------------


class RecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.hosts: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.add(request.url.host)
        return await self.inner.handle_async_request(request)


async def test_the_gateway_never_fetches_a_metadata_or_media_url(sandbox: Sandbox) -> None:
    transport = RecordingTransport(sandbox.transport())
    app = create_app(sandbox_settings(), transport=transport)
    async with LifespanManager(app) as manager:
        client_transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=client_transport, base_url="http://gw") as client:
            response = await client.post(
                "/users/u1/nfts", json={"wallet_address": SMALL_WALLET, "page": 1, "size": 50}
            )
    assert response.status_code == 200
    images = [a["nft"]["image"] for a in response.json()["assets"] if a["nft"]["image"]]
    assert images, "the small wallet has media"
    assert all(host.endswith(".sandbox") for host in transport.hosts), transport.hosts
