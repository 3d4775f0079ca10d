"""A sandbox gateway served by uvicorn on a free loopback port, in a thread: for the tests
that must talk to it over real HTTP (the browser tests, the schemathesis contract test, the
GraphQL-over-HTTP audit)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from gateway.app import create_app
from gateway.http.server import ConnectionLimits, guarded_protocol
from tests.conftest import sandbox_settings

__all__ = ["LiveServer"]

SERVER_START_TIMEOUT = 20.0


class LiveServer:
    """uvicorn serving a sandbox gateway on 127.0.0.1:<free port>, in a thread."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(
            create_app(sandbox_settings()),
            http=guarded_protocol(ConnectionLimits()),  # the protocol `serve` runs
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
