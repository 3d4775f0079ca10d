"""How each provider did, for a GraphQL response's ``extensions``; and the request's trace.

Issue 4 asks every GraphQL answer that lists NFTs or DIDs to say which provider failed and
why in ``extensions`` too, not only in the ``providers`` fields a client may not select,
and to flag a stale snapshot with its age. The response then carries::

    "extensions": {
      "providers": [{"provider": "opensea", "status": "ok", "errorKind": null,
                     "errorMessage": null, "failedChains": []}, ...],
      "stale": false
    }

with ``"stale": true, "staleAgeSeconds": 42`` when any answer was an older snapshot. The
entries are the schema's ``ProviderStatus`` fields, one per provider for the whole
response: several answers of one provider (two aliased wallets, a wallet and an identity)
combine as :func:`gateway.nfts.pages.combine_reports` does (``partial`` when they differ).

Why not a per-field extension or a schema extension's ``resolve`` hook: either is called
for every field of every object and turns off the compiled projection
(:mod:`gateway.schema.fastpath.compiled`). Instead each request gets one :class:`AnswerLog`,
and its resolvers reach the services through :class:`RecordingServices`, which makes each
typed call (:mod:`gateway.schema.calls`) and notes its answer's reports as it passes; the
view merges the log into ``extensions``. The cost is two small objects per request and one
append per answer.

The same log keeps the request's *trace*: every call its resolvers made, in the order the
answers came, with what each returned. :mod:`gateway.schema.fastpath.replay` keeps a warm
answer with its trace and serves it again when replaying those calls returns the very same
answers; when it does not, the calls it replayed are handed to the execution
(:meth:`AnswerLog.prefetch`), so a request never asks a service twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar, cast

from gateway.nfts.pages import ProviderReport, combine_reports
from gateway.resilience import CallMeter
from gateway.schema.calls import ProviderAnswer, ServiceCall, Services

__all__ = ["AnswerLog", "RecordingServices", "Trace", "provider_status_json"]

R = TypeVar("R")
_MISSING = object()

# Every call a request made and its answer, in the order the answers came.
Trace = list[tuple[ServiceCall[Any], Any]]


class AnswerLog:
    """The provider reports of one GraphQL request's answers, in the order they came."""

    __slots__ = ("_cost", "_groups", "_metered", "_prefetched", "_stale_age", "meter", "trace")

    def __init__(self) -> None:
        self._groups: list[Sequence[ProviderReport]] = []
        self._stale_age: int | None = None
        self._cost: dict[str, int] = {}
        # Calls made for this request without a meter of their own (see the view), and
        # whether some answer (a name, a persona) may have cost upstream calls.
        self.meter = CallMeter()
        self._metered = False
        # None once a call raised: an answer with an error is never kept.
        self.trace: Trace | None = []
        self._prefetched: list[tuple[ServiceCall[Any], Any]] = []

    # -- the trace ------------------------------------------------------------------------

    async def call(self, call: ServiceCall[R], services: Services) -> R:
        """``call`` made on ``services`` (or its prefetched outcome), noted."""
        outcome = self._take_prefetched(call)
        try:
            if outcome is _MISSING:
                outcome = await call.run(services)
            elif isinstance(outcome, BaseException):
                raise outcome
        except BaseException:
            self.trace = None
            raise
        self.note(call, outcome)
        return cast(R, outcome)

    def note(self, call: ServiceCall[Any], answer: Any) -> None:
        """``call`` answered ``answer``: trace it, and keep its provider reports."""
        if self.trace is not None:
            self.trace.append((call, answer))
        self._metered = self._metered or call.metered
        reports = call.reports(answer)
        if reports is not None:
            self.record(reports)

    def prefetch(self, outcomes: Iterable[tuple[ServiceCall[Any], Any]]) -> None:
        """Outcomes (results or exceptions) of calls already made for this request: the
        execution takes each instead of making the same call again."""
        self._prefetched.extend(outcomes)

    def _take_prefetched(self, call: ServiceCall[Any]) -> Any:
        for index, (made, outcome) in enumerate(self._prefetched):
            if made == call:
                del self._prefetched[index]
                return outcome
        return _MISSING

    # -- provider reports -----------------------------------------------------------------

    def record(self, answer: ProviderAnswer) -> None:
        self._groups.append(answer.providers)
        for provider, calls in answer.upstream_calls.items():
            self._cost[provider] = self._cost.get(provider, 0) + calls
        if answer.stale:
            self._stale_age = max(self._stale_age or 0, answer.stale_age_seconds or 0)

    def extensions(self) -> dict[str, Any]:
        """``providers`` and ``stale`` (with ``staleAgeSeconds``); empty when no answer
        listed NFTs or DIDs."""
        cost = {"upstreamCalls": self._upstream_calls()}
        if not self._groups:  # a name or persona alone: what it cost, if it may have
            return {"cost": cost} if self._metered else {}
        by_provider: dict[str, list[ProviderReport]] = {}
        for group in self._groups:
            for report in group:
                by_provider.setdefault(report.provider, []).append(report)
        entry: dict[str, Any] = {
            "providers": [provider_status_json(_combined(parts)) for parts in by_provider.values()],
            "stale": self._stale_age is not None,
        }
        if self._stale_age is not None:
            entry["staleAgeSeconds"] = self._stale_age
        # Upstream calls made for this response, per provider ({} when served warm).
        entry["cost"] = cost
        return entry

    def _upstream_calls(self) -> dict[str, int]:
        calls = dict(self._cost)
        for provider, count in self.meter.counts.items():
            calls[provider] = calls.get(provider, 0) + count
        return calls


def _combined(parts: list[ProviderReport]) -> ProviderReport:
    # Most responses hear from each provider once, or several times alike (the gallery's
    # page and its spam count): nothing to combine then, and the JSON is the same.
    first = parts[0]
    if all(_alike(first, part) for part in parts[1:]):
        return first
    return combine_reports([parts])[0]


def _alike(one: ProviderReport, other: ProviderReport) -> bool:
    """Whether two reports read the same in ``providers`` (latency is not shown)."""
    return (
        one.status == other.status
        and one.error_kind == other.error_kind
        and one.error_message == other.error_message
        and one.failed_chains == other.failed_chains
    )


def provider_status_json(report: ProviderReport) -> dict[str, Any]:
    """A report as the schema's ``ProviderStatus`` type spells it."""
    return {
        "provider": report.provider,
        "status": report.status,
        "errorKind": report.error_kind,
        "errorMessage": report.error_message,
        "failedChains": list(report.failed_chains),
    }


class RecordingServices:
    """The services as one request's resolvers see them: every call goes through the
    request's :class:`AnswerLog` (traced, reports kept)."""

    __slots__ = ("log", "services")

    def __init__(self, services: Services, log: AnswerLog) -> None:
        self.services = services
        self.log = log

    async def call(self, call: ServiceCall[R]) -> R:
        return await self.log.call(call, self.services)
