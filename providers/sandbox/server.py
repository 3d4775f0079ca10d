"""Every sandbox emulator on one real port, for benchmarks and manual runs over loopback.

The in-process :class:`~providers.sandbox.transport.SandboxTransport` is what tests use;
this server is what a separately running gateway uses, so latency, connection pools and
serialisation are real. One ASGI app routes each request to an emulator by either

* the Host header suffix (``opensea.sandbox``, ``eth-mainnet.alchemy.sandbox``), as the
  embedded transport does, or
* a path prefix naming the emulator, which is stripped: ``/opensea/api/v2/...`` reaches
  the OpenSea emulator as ``/api/v2/...`` and ``/alchemy/eth-mainnet/nft/v3/...`` reaches
  the Alchemy emulator as ``/eth-mainnet/nft/v3/...`` (it reads the network from there).

So a gateway points its base URLs here::

    NFTGW_SANDBOX=off NFTGW_OPENSEA_API_KEY=k NFTGW_ALCHEMY_API_KEY=k \\
    NFTGW_OPENSEA_BASE_URL=http://127.0.0.1:8001/opensea \\
    NFTGW_ALCHEMY_BASE_URL=http://127.0.0.1:8001/alchemy/{network} nft-gateway serve

It parses HTTP with httptools when that is installed (the ``dev`` extra installs it; else
uvicorn's h11): a real upstream answers calls sent together on many machines side by side,
and this one process makes each answer as its request arrives, so its own cost per request
spaces out the answers to a cold page's 30 per-NFT calls. Through h11 a detail request
took it 0.35-0.4 ms, through httptools about 0.06.

Faults come from the command line (``--latency 0.05``, ``--set opensea.latency=0.2``;
any :class:`~providers.sandbox.faults.FaultSwitches` attribute by name). ``GET
/_sandbox/calls`` answers the upstream calls each emulator has seen, so a benchmark in
another process can count them; ``POST /_sandbox/reset-calls`` zeroes the counters.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from providers.sandbox import HOSTS, Sandbox, build_sandbox

__all__ = ["SandboxServer", "apply_setting", "main", "parse_value"]

CONTROL_PREFIX = "/_sandbox/"


class SandboxServer:
    """An ASGI app dispatching to the emulators by Host suffix or path prefix."""

    def __init__(self, sandbox: Sandbox, hosts: Mapping[str, str] | None = None) -> None:
        self.sandbox = sandbox
        host_map = dict(HOSTS if hosts is None else hosts)
        self._by_host = [(host_map[name], emu.app) for name, emu in sandbox.emulators.items()]
        self._by_prefix = {name: emu.app for name, emu in sandbox.emulators.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            await self._control(scope, send)
            return
        host = _host(scope)
        for suffix, app in self._by_host:
            if host == suffix or host.endswith("." + suffix):
                await app(scope, receive, send)
                return
        name, _, rest = path[1:].partition("/")
        emulator = self._by_prefix.get(name)
        if emulator is None:
            await _send_json(send, 404, {"error": f"no emulator for host {host!r}, path {path!r}"})
            return
        await emulator(_strip_prefix(scope, name, "/" + rest), receive, send)

    async def _control(self, scope: Scope, send: Send) -> None:
        action = scope["path"][len(CONTROL_PREFIX) :]
        emulators = self.sandbox.emulators
        if action == "calls" and scope["method"] == "GET":
            await _send_json(send, 200, {name: e.faults.calls for name, e in emulators.items()})
        elif action == "reset-calls" and scope["method"] == "POST":
            for emulator in emulators.values():
                emulator.faults.calls = 0
            await _send_json(send, 200, {"ok": True})
        else:
            await _send_json(send, 404, {"error": f"unknown control {action!r}"})


def apply_setting(sandbox: Sandbox, assignment: str) -> None:
    """Apply ``NAME.FIELD=VALUE`` (``NAME`` may be ``*`` for every emulator)."""
    target, sep, raw = assignment.partition("=")
    name, dot, field_name = target.partition(".")
    if not sep or not dot:
        raise ValueError(f"expected NAME.FIELD=VALUE, got {assignment!r}")
    names = list(sandbox.emulators) if name == "*" else [name]
    for each in names:
        if each not in sandbox.emulators:
            raise ValueError(f"no emulator {each!r}; have {sorted(sandbox.emulators)}")
        switches = sandbox.faults(each)
        setattr(switches, field_name, parse_value(type(switches), field_name, raw))


def parse_value(cls: type[Any], field_name: str, raw: str) -> Any:
    """``raw`` converted to the declared type of dataclass field ``field_name`` of ``cls``.

    Generic on purpose: new fault switches work from the command line without code here.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    if field_name not in names:
        raise ValueError(f"{cls.__name__} has no field {field_name!r}; have {sorted(names)}")
    hint = typing.get_type_hints(cls)[field_name]
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    if raw.lower() in {"none", "null"} and type(None) in options:
        return None
    for option in options:
        if option is type(None):
            continue
        try:
            return _convert(option, raw)
        except (TypeError, ValueError):
            continue
    raise ValueError(f"cannot set {field_name} ({hint}) from {raw!r}")


def _convert(kind: Any, raw: str) -> Any:
    if kind is bool:
        lowered = raw.lower()
        if lowered not in {"true", "false", "1", "0", "on", "off"}:
            raise ValueError(raw)
        return lowered in {"true", "1", "on"}
    if kind in (int, float, str):
        return kind(raw)
    if kind is bytes:
        return raw.encode()
    raise TypeError(f"unsupported switch type {kind!r}")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _host(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return str(value.decode("latin-1").rsplit(":", 1)[0].lower())
    return ""


def _strip_prefix(scope: Scope, name: str, rest: str) -> Scope:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    prefix = b"/" + name.encode()
    stripped = raw_path[len(prefix) :] if raw_path.startswith(prefix) else rest.encode()
    return {**scope, "path": rest, "raw_path": stripped or b"/"}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send_json(send: Send, status: int, body: object) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def build_server(latency: float = 0.0, settings: Sequence[str] = ()) -> ASGIApp:
    """The server app with ``latency`` on every emulator, then each ``--set`` applied."""
    sandbox = build_sandbox()
    for emulator in sandbox.emulators.values():
        emulator.faults.latency = latency
    for assignment in settings:
        apply_setting(sandbox, assignment)
    return SandboxServer(sandbox)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m providers.sandbox.server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME.FIELD=VALUE",
        help="set a FaultSwitches attribute (NAME '*' = every emulator); repeatable",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        app = build_server(args.latency, args.settings)
    except ValueError as exc:
        parser.error(str(exc))
    import uvicorn

    # "auto": httptools when installed, else h11 (see the module's notes).
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level, lifespan="off", http="auto"
    )


if __name__ == "__main__":
    main()
