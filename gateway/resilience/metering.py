"""What an answer cost upstream: calls per provider, counted where they are made.

The guard adds one to a :class:`CallMeter` for every attempt that reaches an upstream. A
request carries its own meter down (walks, details, collections), so the answer can say
what it cost (``X-NFTGW-Upstream-Calls``, GraphQL ``extensions.cost``); a call made for
several requests at once (a shared walk, a single-flight fetch) is counted once, on the
meter of the request that made it.

Services that do not thread a meter through (DIDs, names, identity unions) count on the
*request's* meter instead: a face opens :func:`metering` around its service calls and
every guarded call made without an explicit meter, in that task or the tasks it starts
(they copy the context), is counted there. A single-flight joiner makes no call, so it
counts 0; the fetch it waits on is counted on its leader's meter.

An attempt counts the HTTP requests it sent (:func:`count_request`, the client's request
hook), at least one: one adapter call may make several (.bit's reverse record, then the
accounts it names), and the sum of the answers' costs is what the upstreams counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token

__all__ = [
    "AttemptRequests",
    "CallMeter",
    "count_request",
    "metering",
    "request_meter",
]


class CallMeter:
    """Upstream calls per provider; ``drain`` hands what was counted to an answer."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def add(self, provider: str, calls: int = 1) -> None:
        self._counts[provider] = self._counts.get(provider, 0) + calls

    def merge(self, counts: Mapping[str, int]) -> None:
        for provider, calls in counts.items():
            self.add(provider, calls)

    def drain(self) -> dict[str, int]:
        """What was counted since the last drain (and zero from now on)."""
        counts, self._counts = self._counts, {}
        return counts

    @property
    def counts(self) -> Mapping[str, int]:
        return dict(self._counts)

    @property
    def total(self) -> int:
        return sum(self._counts.values())


_REQUEST_METER: ContextVar[CallMeter | None] = ContextVar("nftgw_request_meter", default=None)


class metering:  # a lower-case name: used as a function, ``with metering() as meter``
    """``meter`` (default: a new one) is the meter of the request answered inside the
    block (see the module doc). A class, not a generator: every request opens one."""

    __slots__ = ("_token", "meter")

    def __init__(self, meter: CallMeter | None = None) -> None:
        self.meter = meter or CallMeter()
        self._token: Token[CallMeter | None] | None = None

    def __enter__(self) -> CallMeter:
        self._token = _REQUEST_METER.set(self.meter)
        return self.meter

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _REQUEST_METER.reset(self._token)


def request_meter() -> CallMeter:
    """The meter :func:`metering` opened for this request, else a throwaway one."""
    return _REQUEST_METER.get() or CallMeter()


_ATTEMPT: ContextVar[AttemptRequests | None] = ContextVar("nftgw_attempt", default=None)


class AttemptRequests:
    """Counts the HTTP requests sent from its creation to :meth:`stop`, in this task and
    the tasks it starts (see :func:`count_request`)."""

    __slots__ = ("_token", "count")

    def __init__(self) -> None:
        self.count = 0
        self._token: Token[AttemptRequests | None] = _ATTEMPT.set(self)

    def stop(self) -> int:
        """Stop counting: the requests sent, at least one (an attempt is one call)."""
        _ATTEMPT.reset(self._token)
        return max(1, self.count)


def count_request() -> None:
    """One more request for the attempt being made (the upstream clients' observer calls
    it as each request leaves)."""
    sent = _ATTEMPT.get()
    if sent is not None:
        sent.count += 1
