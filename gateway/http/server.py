"""The HTTP/1.1 protocol ``nft-gateway serve`` runs: uvicorn's h11 protocol plus deadlines
for slow clients and a connection cap that prefers clients who talk.

uvicorn closes a keep-alive connection idle between requests (``timeout_keep_alive``) but
has nothing for a connection that never finishes its request: its header and body
timeouts are an open wish (uvicorn issue #157), and ``limit_concurrency`` answers 503 only
*after* a request's headers arrived, so silent connections are never counted out. 20,000
of them used every file descriptor of the process (issue 16). Alternatives were weighed:
hypercorn's ``read_timeout`` is per read, so a client sending one byte every few seconds
never trips it; granian (hyper, in Rust) has a header read timeout but a process model of
its own (an import string, its own workers), while ``serve`` binds its socket first and
the tests and benches drive uvicorn in process. uvicorn takes a protocol class as its
``http`` option, so the missing parts are added here, in one small subclass:

* **Header deadline.** A request's headers must be complete ``header_timeout`` seconds
  after its first byte could arrive (the connection opened, or the previous response was
  sent and the client began a new request); else the connection is closed.
* **Body deadline.** Its body must be complete ``body_timeout`` seconds after the headers.
* **Connection cap.** At ``max_connections`` open connections a newcomer makes room by
  closing the oldest connection that is waiting for a request (no headers yet, or idle
  between requests): a flood of silent connections churns among itself while a client
  that sends its request at once gets in. Only when every connection is busy with a
  request is the newcomer refused, closed at once without reading a byte.

Both deadlines are timers on the event loop (one per connection), cancelled when the
awaited part arrives; nothing here runs per byte.

* **One send per response.** uvicorn writes a response's head and its body separately,
  and on an idle socket each write is a send of its own: the head went out as a packet of
  its own, and the client woke up twice to read one answer. The protocol's transport
  (:class:`OneSendTransport`) gathers what is written in one turn of the event loop and
  sends it together at the end of that turn: a warm answer is one send.

:class:`WorkerListener` gives each ``serve --workers`` process a listening socket of its
own on the one address, so the kernel spreads new connections over the workers.
"""

from __future__ import annotations

import asyncio
import socket
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "ConnectionLimits",
    "OneSendTransport",
    "WorkerListener",
    "guarded_protocol",
    "serving_socket",
]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Deadlines and cap of :func:`guarded_protocol` (``ServingSettings``' fields)."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections: int = 1000


def guarded_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` enforcing ``limits``.

    Each call makes a class of its own, holding the table of connections waiting for a
    request, so two servers in one process (tests) do not share it."""

    class GuardedH11Protocol(_GuardedH11Protocol):
        _limits = limits
        _waiting: OrderedDict[_GuardedH11Protocol, None] = OrderedDict()

    return GuardedH11Protocol


class _GuardedH11Protocol(H11Protocol):
    _limits: ConnectionLimits
    # Connections waiting for a request (none started, or between two), oldest first.
    _waiting: OrderedDict[_GuardedH11Protocol, None]
    _deadline: asyncio.TimerHandle | None = None
    _reading_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneSendTransport(transport))
        if len(self.connections) > self._limits.max_connections and not self._make_room():
            transport.abort()  # refused: every connection is busy with a request
            return
        self._await_request()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:  # (part of) a request line or headers: the header deadline
            if self._deadline is None:
                self._arm(self._limits.header_timeout)
            self._waiting.pop(self, None)  # it talks: not the first to make room
        elif state is h11.SEND_BODY:
            if not self._reading_body:
                self._arm(self._limits.body_timeout)
                self._reading_body = True
            self._waiting.pop(self, None)
        else:  # the whole request is in (DONE), or the connection is ending
            self._disarm()
            self._waiting.pop(self, None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            # uvicorn's keep-alive timer now runs; once the client starts its next
            # request, the header deadline applies to it again.
            self._waiting[self] = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._waiting.pop(self, None)
        super().connection_lost(exc)

    # -- deadlines -------------------------------------------------------------------------

    def _await_request(self) -> None:
        self._waiting[self] = None
        self._arm(self._limits.header_timeout)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._reading_body = False

    def _expire(self) -> None:
        self._deadline = None
        self._waiting.pop(self, None)
        if not self.transport.is_closing():
            self.transport.abort()

    # -- the cap ---------------------------------------------------------------------------

    def _make_room(self) -> bool:
        """Close the oldest connection waiting for a request; ``False`` if there is none."""
        for waiting in self._waiting:
            if waiting is not self:
                del self._waiting[waiting]
                waiting._disarm()
                waiting.transport.abort()
                return True
        return False


# -- one send per response -------------------------------------------------------------------


class OneSendTransport(asyncio.Transport):
    """``transport``, with what is written in one turn of the event loop sent at its end,
    in one write (see the module docstring). Everything else is ``transport``'s own.

    Writes keep their order, and a close sends what is pending first; an abort drops it
    (as ``transport``'s abort drops its buffer). Flow control is ``transport``'s: at most
    one turn's writes wait here, and ``pause_writing`` still comes from ``transport``.
    """

    __slots__ = ("_flush", "_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._pending: list[bytes | bytearray | memoryview] = []
        self._flush: asyncio.Handle | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._pending.append(data)
        if self._flush is None:
            self._flush = self._loop.call_soon(self._send)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def _send(self) -> None:
        self._flush = None
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self._transport.write(data)

    def close(self) -> None:
        self._send()  # the turn's end finds nothing left to send
        self._transport.close()

    def abort(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._pending.clear()
        self._transport.abort()

    def write_eof(self) -> None:
        self._send()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)


# -- one listening socket per worker ---------------------------------------------------------


class WorkerListener(socket.socket):
    """The address ``serve --workers N`` listens on, bound (``SO_REUSEPORT``) but never
    listened on in the supervisor: sent to a worker, it arrives as a new socket bound to
    the same address, which that worker alone listens on.

    uvicorn's supervisor sends every worker the sockets it was given. Sharing one listening
    socket, the worker that wakes first accepts every connection waiting (asyncio accepts up
    to the backlog at a time), so a burst of keep-alive clients landed on one worker: two
    workers served 1.1 to 1.5 times what one did (issue 14). With a socket each in one
    ``SO_REUSEPORT`` group, the kernel hands each new connection to one worker's socket,
    spread by the connection's addresses. A restarted worker gets a socket of its own too.
    """

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        host, port = self.getsockname()[:2]
        return _worker_socket, (self.family, host, port)


def serving_socket(family: socket.AddressFamily, *, reuse_port: bool = False) -> socket.socket:
    """An unbound TCP socket for ``serve`` to listen on; with ``reuse_port`` a
    :class:`WorkerListener` that may share its port with the workers' (``SO_REUSEPORT``).

    ``IPPROTO_TCP`` spelled out: asyncio turns Nagle off (``TCP_NODELAY``) only on sockets
    whose proto says TCP, and accepted sockets inherit the listener's. With proto 0 every
    keep-alive answer's last segment waited ~40 ms for the client's delayed ACK."""
    kind = WorkerListener if reuse_port else socket.socket
    sock = kind(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _worker_socket(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    """In a worker: its own socket on the supervisor's address (uvicorn listens on it)."""
    sock = serving_socket(family, reuse_port=True)
    sock.bind((host, port))
    return sock
