"""The upstream clients' network transport (aiohttp under httpx), against real loopback
servers: what arrives upstream, what comes back, and how each way of failing is reported,
for both ways a call goes (``way``): httpx's API over the transport, as any httpx client
calls, and the gateway's :class:`UpstreamClient` straight through aiohttp.

Each server is a few lines of raw asyncio speaking (or failing to speak) HTTP/1.1, so the
failures are the network's own: a closed port, a dropped connection, a short body, silence.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import providers.base
from gateway.http.transport import AiohttpTransport, CallObserver, UpstreamClient
from providers.base import fetch_json
from providers.errors import (
    ProviderBadData,
    ProviderError,
    ProviderTimeout,
    ProviderTransient,
    ProviderUnavailable,
)
from providers.opensea.source import OpenSeaSource

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
KEY = "0123456789abcdef0123456789abcdef"


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback server running ``handler`` per connection; yields its base URL and a
    list that counts connections."""
    connections: list[int] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    listening = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        listening.close()
        await listening.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    line, *fields = head.rstrip("\r\n").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (f.split(":", 1) for f in fields)}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return line, headers, body


def answer(body: bytes, *, status: str = "200 OK", headers: tuple[str, ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"content-length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def answering(respond: Callable[[str, dict[str, str], bytes], bytes]) -> Handler:
    """Answers each request on the connection (kept alive until the client hangs up) with
    ``respond(request line, headers, body)``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line, headers, body = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            writer.write(respond(line, headers, body))
            await writer.drain()

    return handle


def echo(*, extra: tuple[str, ...] = ()) -> Handler:
    """Answers each request on the connection with what it received, as JSON."""

    def seen(line: str, headers: dict[str, str], body: bytes) -> bytes:
        received = {"line": line, "headers": headers, "body": body.decode()}
        return answer(json.dumps(received).encode(), headers=extra)

    return answering(seen)


@pytest.fixture(params=["httpx", "direct"])
def way(request: pytest.FixtureRequest) -> str:
    """How a call goes: ``httpx`` (a plain httpx client over the transport) or ``direct``
    (the gateway's client, past httpx's request and response objects)."""
    return str(request.param)


@asynccontextmanager
async def client(
    way: str = "httpx", read_timeout: float = 5.0, observer: CallObserver | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=8))
    timeout = httpx.Timeout(connect=1.0, read=read_timeout, write=1.0, pool=1.0)
    upstream = (
        UpstreamClient(transport=transport, timeout=timeout, observer=observer)
        if way == "direct"
        else httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)
    )
    async with upstream:
        yield upstream


async def call(
    way: str,
    base: str,
    *,
    params: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    async with client(way) as upstream:
        url = base + f"/nft/v3/{KEY}/getNFTsForOwner"
        return await fetch_json(upstream, "alchemy", "GET", url, params=params, headers=headers)


async def failure(way: str, handler: Handler | None, *, read_timeout: float = 5.0) -> ProviderError:
    """The provider error one GET raises against ``handler`` (None: nothing listens)."""
    if handler is None:
        async with server(echo()) as (base, _):
            pass  # the port is closed again: connections to it are refused
    async with server(handler or echo()) as (live, _):
        url = (base if handler is None else live) + f"/nft/v3/{KEY}/getNFTsForOwner"
        async with client(way, read_timeout) as upstream:
            with pytest.raises(ProviderError) as raised:
                await fetch_json(upstream, "alchemy", "GET", url)
    return raised.value


async def test_a_get_carries_its_query_and_headers_and_returns_the_json(way: str) -> None:
    async with server(echo()) as (base, _):
        seen = await call(
            way, base, params={"owner": "0xabc", "pageSize": 100}, headers={"X-API-KEY": "k"}
        )
    assert isinstance(seen, dict)
    assert seen["line"] == f"GET /nft/v3/{KEY}/getNFTsForOwner?owner=0xabc&pageSize=100 HTTP/1.1"
    assert seen["headers"]["x-api-key"] == "k"
    assert seen["headers"]["host"] == base.removeprefix("http://")


async def test_both_ways_send_the_same_request() -> None:
    async with server(echo()) as (base, _):
        httpx_way, direct = [
            await call(way, base, params={"owner": "0xabc"}, headers={"accept": "application/json"})
            for way in ("httpx", "direct")
        ]
    assert direct["line"] == httpx_way["line"]
    assert sorted(direct["headers"]) == sorted(httpx_way["headers"])
    for name in ("accept", "user-agent", "host"):
        assert direct["headers"][name] == httpx_way["headers"][name]
    assert direct["headers"]["accept-encoding"] == "gzip, deflate"  # what aiohttp decodes


async def test_params_join_a_query_the_url_already_has_and_are_encoded_as_httpx_does(
    way: str,
) -> None:
    params = {"b": 2, "flag": True, "ids": ["x y", "z&"]}
    async with server(echo()) as (base, _), client(way) as upstream:
        seen = await fetch_json(upstream, "opensea", "GET", base + "/x?a=1", params=params)
    assert seen["line"] == "GET /x?a=1&b=2&flag=true&ids=x+y&ids=z%26 HTTP/1.1"


async def test_a_post_sends_its_json_body(way: str) -> None:
    async with server(echo()) as (base, _), client(way) as upstream:
        seen = await fetch_json(
            upstream, "opensea", "POST", base + "/api/v2/nfts/batch", json_body={"ids": [1, 2]}
        )
    assert seen["line"].startswith("POST /api/v2/nfts/batch ")
    assert seen["headers"]["content-type"] == "application/json"
    assert json.loads(seen["body"]) == {"ids": [1, 2]}


async def test_a_gzip_body_is_decoded_once(way: str) -> None:
    payload = gzip.compress(json.dumps({"ownedNfts": [], "totalCount": 0}).encode())

    async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(payload, headers=("content-encoding: gzip",)))
        await writer.drain()

    async with server(gzipped) as (base, _):
        assert await call(way, base) == {"ownedNfts": [], "totalCount": 0}


async def test_calls_in_turn_share_one_kept_alive_connection(way: str) -> None:
    async with server(echo()) as (base, connections), client(way) as upstream:
        for _ in range(3):
            await fetch_json(upstream, "alchemy", "GET", base + "/x")
    assert len(connections) == 1


async def test_a_connection_the_upstream_closed_while_idle_is_not_used_again(way: str) -> None:
    # Upstreams drop idle keep-alive connections on their own schedule; the next call must
    # not fail for it.
    async def answer_then_hang_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(reader)
        writer.write(answer(b'{"ok": true}'))
        await writer.drain()

    async with server(answer_then_hang_up) as (base, connections), client(way) as upstream:
        assert await fetch_json(upstream, "opensea", "GET", base + "/first") == {"ok": True}
        await asyncio.sleep(0.1)  # the upstream has closed the connection by now
        assert await fetch_json(upstream, "opensea", "GET", base + "/second") == {"ok": True}
    assert len(connections) == 2


async def test_a_cookie_an_upstream_sets_comes_back_once() -> None:
    # A plain httpx client keeps cookies (Cloudflare's bot cookie, say); aiohttp's jar must
    # not add a second copy.
    cookie = ("set-cookie: __cf_bm=abc; Path=/",)
    async with server(echo(extra=cookie)) as (base, _), client() as upstream:
        await fetch_json(upstream, "opensea", "GET", base + "/first")
        second = await fetch_json(upstream, "opensea", "GET", base + "/second")
    assert second["headers"]["cookie"] == "__cf_bm=abc"


async def test_the_gateways_upstream_client_keeps_no_cookies() -> None:
    # One user's answer must not set what every later call, for any user, sends.
    cookie = ("set-cookie: __cf_bm=abc; Path=/",)
    limits, timeout = httpx.Limits(max_connections=8), httpx.Timeout(1.0)
    async with (
        server(echo(extra=cookie)) as (base, _),
        UpstreamClient(transport=AiohttpTransport(limits=limits), timeout=timeout) as upstream,
    ):
        await fetch_json(upstream, "opensea", "GET", base + "/first")
        second = await fetch_json(upstream, "opensea", "GET", base + "/second")
    assert "cookie" not in second["headers"]
    assert not upstream.cookies


async def test_a_redirect_is_not_followed(way: str) -> None:
    async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"", status="302 Found", headers=("location: http://elsewhere/",)))
        await writer.drain()

    error = await failure(way, redirect)
    assert type(error) is ProviderUnavailable
    assert "redirect" in str(error)


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)


async def short_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(answer(b'{"ownedNfts": [' + b" " * 90)[:-50])
    await writer.drain()


async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    await writer.drain()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.sleep(5)


@pytest.mark.parametrize(
    ("handler", "error", "named"),
    [
        pytest.param(None, ProviderTransient, "ConnectError", id="refused"),
        pytest.param(hang_up, ProviderTransient, "RemoteProtocolError", id="closed-unanswered"),
        pytest.param(short_body, ProviderTransient, "ReadError", id="body-cut-short"),
        pytest.param(not_http, ProviderTransient, "RemoteProtocolError", id="not-http"),
        pytest.param(silent, ProviderTimeout, "ReadTimeout", id="silent"),
    ],
)
async def test_each_way_of_failing_is_its_providers_error(
    way: str, handler: Handler | None, error: type[ProviderError], named: str
) -> None:
    failed = await failure(way, handler, read_timeout=0.2)
    assert isinstance(failed, error)
    assert named in str(failed)
    assert KEY not in str(failed)


async def test_the_transports_errors_never_quote_the_url() -> None:
    # aiohttp's own text for an answer that is not HTTP names the URL, key and all.
    async with server(not_http) as (base, _), client() as upstream:
        with pytest.raises(httpx.RemoteProtocolError) as raised:
            await upstream.get(base + f"/nft/v3/{KEY}/getNFTsForOwner")
    assert KEY not in str(raised.value)
    # Nor does a traceback: aiohttp's error is not chained (a log shows neither).
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_a_connection_whose_body_was_abandoned_is_not_reused() -> None:
    big = json.dumps({"blob": "x" * 200_000}).encode()

    def by_path(line: str, headers: dict[str, str], body: bytes) -> bytes:
        return answer(big if " /big " in line else b'{"ok": true}')

    async with server(answering(by_path)) as (base, connections), client() as upstream:
        async with upstream.stream("GET", base + "/big") as response:
            async for _ in response.aiter_bytes():
                break  # one chunk, then the rest is left unread
        # The rest of the big body is never read as the next answer.
        assert await fetch_json(upstream, "opensea", "GET", base + "/next") == {"ok": True}
    assert len(connections) == 2


async def test_a_body_past_the_cap_is_refused_and_its_connection_not_reused(
    way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(providers.base, "MAX_BODY_BYTES", 1_000)
    big = json.dumps({"blob": "x" * 300_000}).encode()  # more than one read

    def by_path(line: str, headers: dict[str, str], body: bytes) -> bytes:
        return answer(big if " /big " in line else b'{"ok": true}')

    async with server(answering(by_path)) as (base, connections), client(way) as upstream:
        with pytest.raises(ProviderBadData, match="exceeds 1000 bytes"):
            await fetch_json(upstream, "opensea", "GET", base + "/big")
        assert await fetch_json(upstream, "opensea", "GET", base + "/next") == {"ok": True}
    assert len(connections) == 2


class Heard:
    """A call observer that keeps what it hears."""

    def __init__(self) -> None:
        self.requests = 0
        self.answers: list[tuple[str, int, str | None]] = []

    def sent(self) -> None:
        self.requests += 1

    async def answered(self, url: str, status: int, headers: Mapping[str, str]) -> None:
        self.answers.append((url, status, headers.get("X-RateLimit-Remaining")))


async def test_the_observer_hears_each_call_and_answer_whichever_way_it_goes() -> None:
    over_a_fake, direct = Heard(), Heard()
    async with server(echo(extra=("x-ratelimit-remaining: 41",))) as (base, _):
        url = base + "/api/v2/collections/x"
        # Over a faked transport the client goes through httpx's API (its event hooks).
        fake = httpx.MockTransport(
            lambda request: httpx.Response(200, json={}, headers={"X-RateLimit-Remaining": "41"})
        )
        async with UpstreamClient(transport=fake, observer=over_a_fake) as upstream:
            await fetch_json(upstream, "opensea", "GET", url)
        async with client("direct", observer=direct) as upstream:
            await fetch_json(upstream, "opensea", "GET", url)
    for heard in (over_a_fake, direct):
        assert heard.requests == 1
        assert heard.answers == [(url, 200, "41")]


async def test_connections_opened_ahead_are_the_ones_the_calls_then_use() -> None:
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=8))
    async with server(echo()) as (base, connections), UpstreamClient(transport=transport) as up:

        async def calls(count: int) -> None:  # at once; once answered, every accept is seen
            url = base + f"/nft/v3/{KEY}/getNFTsForOwner"
            await asyncio.gather(*(fetch_json(up, "alchemy", "GET", url) for _ in range(count)))

        await up.open_connections(base + "/api/v2", 3)
        async with asyncio.timeout(5):  # accepted before any call went out
            while len(connections) < 3:
                await asyncio.sleep(0.005)
        await calls(3)
        assert len(connections) == 3  # no call opened one of its own
        await up.open_connections(base, 2)  # open already, and idle: nothing to open
        await calls(3)
        assert len(connections) == 3
        await up.open_connections(base, 20)  # never more than half the pool
        await calls(4)
        assert len(connections) == 4


async def test_connections_asked_again_while_they_open_are_opened_once() -> None:
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=16))
    async with server(echo()) as (base, connections), UpstreamClient(transport=transport) as up:
        # A burst of cold pages: each asks while the first one's connections are opening.
        await asyncio.gather(*(up.open_connections(base, 3) for _ in range(4)))
        url = base + f"/nft/v3/{KEY}/getNFTsForOwner"
        await asyncio.gather(*(fetch_json(up, "alchemy", "GET", url) for _ in range(3)))
        assert len(connections) == 3  # not 12: one opening at a time


async def test_connections_that_cannot_be_opened_are_left_to_the_calls() -> None:
    async with server(echo()) as (base, _):
        pass  # the port is closed again: connections to it are refused
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=8))
    async with UpstreamClient(transport=transport) as upstream:
        await upstream.open_connections(base, 3)  # no error: nothing needed them yet
        with pytest.raises(ProviderTransient):
            await fetch_json(upstream, "alchemy", "GET", base + "/nft/v3/getNFTsForOwner")


async def test_a_source_on_a_client_without_a_pool_of_its_own_opens_nothing() -> None:
    async with server(echo()) as (base, connections):
        async with httpx.AsyncClient() as plain:
            await OpenSeaSource(plain, base_url=base, api_key=None).open_connections(3)
        transport = AiohttpTransport(limits=httpx.Limits(max_connections=8))
        async with UpstreamClient(transport=transport) as pooled:
            await OpenSeaSource(pooled, base_url=base, api_key=None).open_connections(3)
        assert len(connections) == 3  # the gateway's client only
