"""Load from ``wrk`` (Debian's package), when it is installed: the same numbers as
:mod:`bench.driver` (requests, errors, rps, p50/p99 in ms) from a C load generator.

On a 2-core machine the load driver shares the cores with the server it loads: the Python
driver needs most of a core to send ~5,000 requests a second, wrk a fifth of that, so
with wrk the throughput figures measure the server rather than the driver (issue 14
measured "from outside" with wrk). One wrk thread: the connections multiplex on it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile

__all__ = ["available", "run_wrk"]

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)


def available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    port: int, path: str, body: bytes, *, connections: int, duration: float, method: str = "POST"
) -> dict[str, float]:
    """One wrk run against ``http://127.0.0.1:port/path`` sending ``body``."""
    script = (
        f"wrk.method = {json.dumps(method)}\n"
        'wrk.headers["content-type"] = "application/json"\n'
        'wrk.headers["accept"] = "application/json"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        command = [
            "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
            "-s", file.name, f"http://127.0.0.1:{port}{path}",
        ]  # fmt: skip
        output = subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=duration + 30
        ).stdout
    return parse(output)


def parse(output: str) -> dict[str, float]:
    """wrk's report as the driver's numbers."""
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: ([^\n]+)", output)
    errors = int(failed.group(1)) if failed else 0
    if socket_errors:  # connect, read, write and timeout counts
        errors += sum(int(count) for count in re.findall(r"\d+", socket_errors.group(1)))
    latency = {
        percentile: float(value) * _UNITS_MS[unit]
        for percentile, value, unit in _LATENCY.findall(output)
    }
    return {
        "requests": int(_found(r"(\d+) requests in", output)),
        "errors": errors,
        "rps": float(_found(r"Requests/sec:\s+([\d.]+)", output)),
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
    }


def _found(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise SystemExit(f"wrk printed no {pattern!r}:\n{output}")
    return match.group(1)
