"""How ``serve``'s protocol hands a response to the socket: one send per answer, in order,
and a streamed body as it comes (gateway/http/server.py).

The protocol runs on a transport that records what reaches the socket, so every send is
seen as the kernel would get it; the app is an ordinary Starlette app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from gateway.http.server import ConnectionLimits, guarded_protocol

PAGE = {"assets": [{"tokenId": str(n), "name": f"NFT #{n}"} for n in range(200)]}


class SocketTransport(asyncio.Transport):
    """What the protocol sends, one entry per send; ``"close"`` where it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes | str] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if data:
            self.sent.append(bytes(data))

    def stream(self) -> bytes:
        """Every byte sent so far, as the client reads them."""
        return b"".join(sent for sent in self.sent if isinstance(sent, bytes))

    def close(self) -> None:
        self.closing = True
        self.sent.append("close")

    def abort(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )


def app(release: asyncio.Event | None = None) -> Starlette:
    async def page(request: Request) -> Response:
        return JSONResponse(PAGE, headers={"x-request-id": "abc", "cache-control": "no-store"})

    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first"
            assert release is not None
            await release.wait()
            yield b"second"

        return StreamingResponse(chunks(), media_type="text/plain")

    return Starlette(routes=[Route("/page", page), Route("/stream", stream)])


@contextmanager
def connection(asgi: Starlette) -> Iterator[tuple[H11Protocol, SocketTransport]]:
    config = uvicorn.Config(asgi, http=guarded_protocol(ConnectionLimits()), log_config=None)
    config.load()
    protocol = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = SocketTransport()
    protocol.connection_made(transport)
    try:
        yield protocol, transport
    finally:
        protocol.connection_lost(None)


async def until(done: Callable[[], bool]) -> None:
    """Let the loop run until ``done()`` (bounded: a hung protocol fails, it does not hang)."""
    for _ in range(2000):
        if done():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the protocol did not get there")


def request(path: str, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: gateway\r\n" + extra + b"\r\n"


async def test_an_answer_reaches_the_socket_in_one_send() -> None:
    with connection(app()) as (protocol, transport):
        protocol.data_received(request("/page"))
        await until(lambda: len(transport.sent) == 1)
        await asyncio.sleep(0.01)  # nothing follows it

        [sent] = transport.sent
        assert isinstance(sent, bytes)
        head, _, body = sent.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert b"x-request-id: abc" in head
        assert body.startswith(b'{"assets":[') and body.endswith(b"}]}")
        assert f"content-length: {len(body)}".encode() in head


async def test_each_answer_on_a_kept_alive_connection_is_one_send() -> None:
    with connection(app()) as (protocol, transport):
        for answers in (1, 2, 3):
            protocol.data_received(request("/page"))
            await until(lambda n=answers: len(transport.sent) == n)

        assert all(
            isinstance(sent, bytes) and sent.startswith(b"HTTP/1.1 200") for sent in transport.sent
        )
        assert "close" not in transport.sent


async def test_the_answer_is_sent_before_the_connection_closes() -> None:
    with connection(app()) as (protocol, transport):
        protocol.data_received(request("/page", close=True))
        await until(lambda: "close" in transport.sent)

        [sent, closed] = transport.sent
        assert closed == "close"
        assert isinstance(sent, bytes) and sent.endswith(b"}]}")


async def test_a_streamed_body_is_sent_as_it_comes() -> None:
    release = asyncio.Event()
    with connection(app(release)) as (protocol, transport):
        protocol.data_received(request("/stream"))
        await until(lambda: len(transport.sent) == 1)
        await asyncio.sleep(0.01)
        # The head and the first chunk went out while the second is still to come.
        [sent] = transport.sent
        assert isinstance(sent, bytes)
        assert sent.startswith(b"HTTP/1.1 200") and sent.endswith(b"5\r\nfirst\r\n")

        release.set()
        await until(lambda: transport.stream().endswith(b"0\r\n\r\n"))  # the last chunk
        later = transport.sent[1]
        assert isinstance(later, bytes) and later.startswith(b"6\r\nsecond\r\n")
