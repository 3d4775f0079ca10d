"""The network under every upstream client: httpx's API over aiohttp's connection pool.

httpx stays the client the providers are given (timeouts, the transport as the test seam);
this transport moves the bytes, and the gateway's :class:`UpstreamClient` makes its own
calls straight through it (:meth:`UpstreamClient.exchange`: no httpx request or response
object per call). httpx's own transport (httpcore) walks every connection of its pool,
and polls each idle one's socket, whenever a request starts or ends, and opens each
connection through anyio's task machinery. In process, interleaved
runs of fresh cold 20-NFT pages at 100 ms: on OpenSea's per-NFT routes (40 upstream calls,
30 of them at once) 72 ms of the gateway's CPU and 265 ms with it, 42 ms and 248 ms with
aiohttp's pool and C parser; with the batch routes (14 calls) 35 and 25 ms of CPU.

Failures become httpx's exceptions, so :func:`providers.base.fetch_json` translates them as
before: a refused connection or a failed DNS lookup is :class:`httpx.ConnectError`, a
connect timeout :class:`httpx.ConnectTimeout`, a read timeout :class:`httpx.ReadTimeout`, a
connection dropped before or during the answer :class:`httpx.RemoteProtocolError` or
:class:`httpx.ReadError`. (The ``httpx-aiohttp`` package does this job too, but reports a
refused connection and a server disconnect as a connect timeout.)

A cold page's detail wave can ask for more connections than its list calls left open: each
new one costs a handshake (TCP, then TLS: one or two round trips to a real upstream) and,
on the gateway's one event loop, its request leaves only after the whole wave has been
sent. :meth:`AiohttpTransport.open_connections` opens them beforehand, while the list calls
are out (see :meth:`gateway.nfts.enrich.Enricher.open_connections`).

What aiohttp would add by itself is turned off: redirects (``follow_redirects`` is the
client's call, and the providers refuse them), decompression (httpx decodes the body;
:meth:`UpstreamClient.exchange` has aiohttp decode it, and asks for the encodings aiohttp
decodes), and its cookie jar. :class:`UpstreamClient` keeps no cookies either: an upstream call is
one API request authenticated by its key, and a cookie one user's answer set (a CDN's bot
cookie) has no business riding along on every later call for every other user. httpx has
no switch for its jar, whose bookkeeping on every answer (a urllib request and an email
message built around it) cost 33-37 us a call in a loop here, of the 400-800 us a call
spends in the gateway.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable
from urllib.request import getproxies

import aiohttp
import httpx
import orjson
from yarl import URL

from providers.base import Answer, httpx_exchange, read_capped

__all__ = ["AiohttpTransport", "CallObserver", "UpstreamClient"]

# aiohttp's failures, most specific first, and the httpx exception each one becomes.
_FAILURES: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.PoolTimeout),  # the pool had no connection for the caller in time
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),  # the body stopped short
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # not HTTP/1.1 as spoken
    (aiohttp.ClientConnectionResetError, httpx.ReadError),  # reset by peer
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.InvalidUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.ClientError, httpx.TransportError),
)


@contextmanager
def _as_httpx_errors(request: httpx.Request | None) -> Iterator[None]:
    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        for failure, error in _FAILURES:
            if isinstance(exc, failure):
                raise error(_reason(exc), request=request) from None
        raise  # pragma: no cover - _FAILURES ends with both caught bases


def _reason(exc: BaseException) -> str:
    """What went wrong, without the URL aiohttp's own texts often quote (an Alchemy key
    is part of its URL path)."""
    name = type(exc).__name__
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{name}: {exc.message}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{name}: {exc.strerror}"
    return name


class _Body(httpx.AsyncByteStream):
    """An answer's body as aiohttp reads it; closing it releases the connection (kept
    alive when the body was read to its end, closed otherwise)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An :class:`httpx.AsyncBaseTransport` sending requests through one
    :class:`aiohttp.ClientSession` (made on the first request, inside the event loop)."""

    def __init__(
        self,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._limits = limits
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        # HTTP(S)_PROXY and NO_PROXY are honoured, as by httpx's own transport. aiohttp
        # reads them (and ~/.netrc) again on every request when told to trust the
        # environment, so it is told only when a proxy is configured.
        self._trust_env = bool(getproxies())
        self._session: aiohttp.ClientSession | None = None
        self._opening = False  # an open_connections under way (see there)

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=self._trust_env,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),  # httpx sent its own
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors(request):
            response = await self._opened().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=_aiohttp_timeout(
                    timeout.get("connect"), timeout.get("read"), timeout.get("pool")
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: aiohttp.ClientTimeout,
        max_bytes: int,
        answered: Callable[[int, Mapping[str, str]], Awaitable[None]] | None = None,
    ) -> Answer:
        """One call straight through aiohttp: no httpx request or response is made, and
        aiohttp decodes the body (gzip, deflate). ``answered(status, headers)`` is awaited
        once the headers are in, before the body is read (as httpx runs response hooks).
        A body longer than ``max_bytes`` decoded bytes is abandoned (its connection is
        not reused) and answered as ``None``."""
        with _as_httpx_errors(None):
            async with self._opened().request(
                method,
                url,
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=timeout,
                auto_decompress=True,
            ) as response:
                if answered is not None:
                    await answered(response.status, response.headers)
                body = await read_capped(response.content.iter_any(), max_bytes)
                if body is None:
                    response.close()  # the rest of the body is never read as the next answer
                return response.status, response.headers, body

    async def open_connections(self, url: str, count: int, *, timeout: float) -> None:
        """Have ``count`` connections to ``url``'s origin open (idle ones count), opening
        the rest together: at most half the pool, and one of these at a time (a burst of
        cold pages asks again while the first one's are opening), so calls always find
        room. The idle ones are taken only while the new ones are begun, and go back at
        once; each new one goes to the pool as it opens. A connection that cannot be opened
        within ``timeout`` seconds is left to the call that needs it to fail on. Behind a
        proxy nothing is opened (a proxied call asks the pool for a connection by its
        proxy, unknown here)."""
        count = min(count, (self._limits.max_connections or 64) // 2)
        if count < 1 or self._trust_env or self._opening:
            return
        session = self._opened()
        if session.closed:
            return
        self._opening = True
        origin = URL(url).origin()
        limit = aiohttp.ClientTimeout(connect=timeout, sock_connect=timeout)

        async def one() -> aiohttp.connector.Connection:
            request = aiohttp.ClientRequest(
                "GET", origin, loop=asyncio.get_running_loop(), session=session
            )
            return await session.connector.connect(request, [], limit)  # type: ignore[union-attr]

        opening = {asyncio.create_task(one()) for _ in range(count)}
        try:
            # One turn of the loop: each has taken an idle connection (at once) or begun a
            # new one, so the idle ones can go back without being taken again.
            await asyncio.sleep(0)
            _release_opened(opening)
            while opening:
                await asyncio.wait(opening, return_when=asyncio.FIRST_COMPLETED)
                _release_opened(opening)
        finally:
            self._opening = False
            _release_opened(opening)
            for task in opening:
                task.cancel()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _release_opened(opening: set[asyncio.Task[aiohttp.connector.Connection]]) -> None:
    """Give the pool the connections of the ended ``opening`` (and forget those)."""
    for task in [task for task in opening if task.done()]:
        opening.discard(task)
        if not task.cancelled() and task.exception() is None:
            task.result().release()


@runtime_checkable
class _ConnectionOpener(Protocol):
    async def open_connections(self, url: str, count: int, *, timeout: float) -> None: ...


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing: answers' ``Set-Cookie`` headers are ignored, so
    no request ever carries a ``Cookie`` header."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class CallObserver(Protocol):
    """Told of every call an :class:`UpstreamClient` makes, whichever way it goes."""

    def sent(self) -> None:
        """A request is about to leave."""

    async def answered(self, url: str, status: int, headers: Mapping[str, str]) -> None:
        """``url`` answered ``status`` with ``headers`` (its body is still to be read)."""


class UpstreamClient(httpx.AsyncClient):
    """The httpx client a provider is given: it keeps no cookies (see the module's notes),
    and :meth:`open_connections` opens connections ahead of the calls when its transport
    can (:class:`AiohttpTransport` can; the sandbox's in-process emulators have nothing to
    open).

    Over :class:`AiohttpTransport`, :meth:`exchange` (which
    :func:`providers.base.fetch_json` calls when a client has one) makes no httpx request
    or response: the same request on the wire (the client's default headers and timeouts,
    no redirect followed, no cookie), its answer read and decoded by aiohttp. A call's CPU
    in a loop against a loopback server here: 330-440 us through httpx's API, 186-193 us
    this way, 155-162 us for aiohttp alone (building the httpx request took about 100 us
    of the difference in place, moving the answer through httpx's streams most of the
    rest); a cold page sends 14-40 calls one after another on the event loop. Over any
    other transport (tests' fakes, the sandbox) it is httpx's own API. ``observer`` hears
    of each call either way (as httpx event hooks on the latter)."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport,
        observer: CallObserver | None = None,
        **kwargs: Any,
    ) -> None:
        if observer is not None:
            kwargs["event_hooks"] = _hooks(observer)
        super().__init__(transport=transport, **kwargs)
        self._opener = transport if isinstance(transport, _ConnectionOpener) else None
        self._no_cookies = _NoCookies()
        self._observer = observer
        self._direct = transport if isinstance(transport, AiohttpTransport) else None
        # What httpx would send by default, less the encodings aiohttp cannot decode.
        self._default_headers = {**self.headers, "accept-encoding": "gzip, deflate"}
        self._wire_timeout = _aiohttp_timeout(
            self.timeout.connect, self.timeout.read, self.timeout.pool
        )

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty (httpx reads its jar through this property on every answer)."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise AttributeError("upstream clients keep no cookies")

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None,
        json_body: Any,
        max_bytes: int,
    ) -> Answer:
        """One call (see the class notes); failures are httpx's exceptions."""
        if self._direct is None:
            return await httpx_exchange(
                self, method, url, headers=headers, json_body=json_body, max_bytes=max_bytes
            )
        sent = dict(self._default_headers)  # names in lower case, as httpx keeps them
        if headers:
            sent.update((name.lower(), value) for name, value in headers.items())
        content = None
        if json_body is not None:
            content = orjson.dumps(json_body)
            sent["content-type"] = "application/json"
        observer = self._observer
        if observer is None:
            return await self._direct.exchange(
                method, url, sent, content, self._wire_timeout, max_bytes
            )

        async def answered(status: int, answer_headers: Mapping[str, str]) -> None:
            await observer.answered(url, status, answer_headers)

        observer.sent()
        return await self._direct.exchange(
            method, url, sent, content, self._wire_timeout, max_bytes, answered
        )

    async def open_connections(self, url: str, count: int) -> None:
        """``count`` connections to ``url``'s origin open in this client's pool, each
        given the client's connect timeout."""
        if self._opener is not None:
            timeout = self.timeout.connect
            await self._opener.open_connections(url, count, timeout=timeout or 5.0)


def _hooks(observer: CallObserver) -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
    """``observer`` as httpx event hooks (calls made through httpx's API)."""

    async def sent(request: httpx.Request) -> None:
        observer.sent()

    async def answered(response: httpx.Response) -> None:
        await observer.answered(str(response.request.url), response.status_code, response.headers)

    return {"request": [sent], "response": [answered]}


def _aiohttp_timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """httpx's timeouts as aiohttp counts them: a free connection from the pool, then the
    connection itself, within ``connect`` + ``pool``; each read within ``read``."""
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=read,
    )
