"""A flood of one log message is one line with a count (gateway/http/logrepeats.py)."""

from __future__ import annotations

import io
import logging

from gateway.http.logrepeats import RepeatFilter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def logger_writing_to(stream: io.StringIO, clock: FakeClock) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RepeatFilter(10.0, clock=clock))
    logger = logging.getLogger("test.repeats")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_ten_thousand_identical_errors_are_two_lines_with_the_count() -> None:
    stream, clock = io.StringIO(), FakeClock()
    logger = logger_writing_to(stream, clock)
    for _ in range(10_000):
        logger.error("socket.accept() out of system resource")
    clock.now += 11
    logger.error("socket.accept() out of system resource")
    lines = stream.getvalue().splitlines()
    assert lines == [
        "socket.accept() out of system resource",
        "socket.accept() out of system resource (and 9999 more like it in the last 11s)",
    ]


def test_distinct_messages_and_info_lines_pass() -> None:
    stream, clock = io.StringIO(), FakeClock()
    logger = logger_writing_to(stream, clock)
    logger.warning("redis unavailable (%s)", "TimeoutError")
    logger.warning("redis unavailable (%s)", "ConnectionError")
    for _ in range(3):
        logger.info("GET /healthz 200")
    assert len(stream.getvalue().splitlines()) == 5
