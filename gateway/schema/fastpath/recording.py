"""How each provider did, for a GraphQL response's ``extensions``.

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
combine as :func:`gateway.identity.service.combine_reports` does (``partial`` when they differ).

Why not a per-field extension or a schema extension's ``resolve`` hook: either is called
for every field of every object and turns off the compiled projection
(:mod:`gateway.schema.fastpath.compiled`). Instead each request gets one :class:`AnswerLog`, and its
resolvers see the services through thin recording facades (:func:`recording_nfts`,
:func:`recording_identities`) that note each answer's reports as it passes; the view's
``process_result`` merges the log into ``extensions``. Resolvers stay unchanged and the
cost is two small objects per request and one append per answer.

The same facades keep the request's *trace*: every service call its resolvers made, in the
order the answers came, with what each returned. :mod:`gateway.schema.fastpath.replay` keeps a
warm answer with its trace and serves it again when replaying those calls returns the
very same answers; when it does not, the calls it replayed are handed to the execution
(:meth:`AnswerLog.prefetch`), so a request never asks a service twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from gateway.identity.service import IdentityService, LinkedHoldingsSlice, combine_reports
from gateway.nfts.service import HoldingsSlice, NFTService, ProviderReport

__all__ = [
    "AnswerLog",
    "ServiceCall",
    "provider_status_json",
    "recording_identities",
    "recording_nfts",
]

NFTS, IDENTITIES = "nfts", "identities"  # the services a resolver can reach, by name
_MISSING = object()


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """One call a resolver made: which service, which method, with what."""

    service: str
    method: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]

    async def run(self, services: dict[str, Any]) -> Any:
        """Make this call again on ``services`` (by name: ``nfts``, ``identities``)."""
        return await getattr(services[self.service], self.method)(*self.args, **dict(self.kwargs))


class AnswerLog:
    """The provider reports of one GraphQL request's answers, in the order they came."""

    __slots__ = ("_groups", "_prefetched", "_stale_age", "trace")

    def __init__(self) -> None:
        self._groups: list[Sequence[ProviderReport]] = []
        self._stale_age: int | None = None
        # Every call and its answer; None once the request did something not traced (a
        # call that raised, an attribute that is not a coroutine method).
        self.trace: list[tuple[ServiceCall, Any]] | None = []
        self._prefetched: list[tuple[ServiceCall, Any]] = []

    # -- the trace ------------------------------------------------------------------------

    async def call(
        self, call: ServiceCall, function: Callable[..., Any], kwargs: dict[str, Any]
    ) -> Any:
        """``function(*call.args, **kwargs)``, or its prefetched outcome, noted."""
        outcome = self._take_prefetched(call)
        try:
            if outcome is _MISSING:
                outcome = await function(*call.args, **kwargs)
            elif isinstance(outcome, BaseException):
                raise outcome
        except BaseException:
            self.trace = None
            raise
        self.note(call, outcome)
        return outcome

    def note(self, call: ServiceCall, result: Any) -> None:
        """``call`` answered ``result``: trace it, and keep its provider reports."""
        if self.trace is not None:
            self.trace.append((call, result))
        if call.method == "list_holdings":
            self.record_page(result)
        elif call.method in ("dids", "dids_of"):
            self.record(result.providers)

    def untraced(self) -> None:
        """The request reached a service some other way: its answer is not replayable."""
        self.trace = None

    def prefetch(self, outcomes: Iterable[tuple[ServiceCall, Any]]) -> None:
        """Outcomes (results or exceptions) of calls already made for this request: the
        execution takes each instead of making the same call again."""
        self._prefetched.extend(outcomes)

    def _take_prefetched(self, call: ServiceCall) -> Any:
        for index, (made, outcome) in enumerate(self._prefetched):
            if made == call:
                del self._prefetched[index]
                return outcome
        return _MISSING

    # -- provider reports -----------------------------------------------------------------

    def record(
        self,
        providers: Sequence[ProviderReport],
        *,
        stale: bool = False,
        stale_age_seconds: int | None = None,
    ) -> None:
        self._groups.append(providers)
        if stale:
            self._stale_age = max(self._stale_age or 0, stale_age_seconds or 0)

    def record_page(self, page: HoldingsSlice | LinkedHoldingsSlice) -> None:
        self.record(page.providers, stale=page.stale, stale_age_seconds=page.stale_age_seconds)

    def extensions(self) -> dict[str, Any]:
        """``providers`` and ``stale`` (with ``staleAgeSeconds``); empty when no answer
        listed NFTs or DIDs."""
        if not self._groups:
            return {}
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
        return entry


def _combined(parts: list[ProviderReport]) -> ProviderReport:
    # Most responses hear from each provider once: nothing to combine then.
    return parts[0] if len(parts) == 1 else combine_reports([parts])[0]


def provider_status_json(report: ProviderReport) -> dict[str, Any]:
    """A report as the schema's ``ProviderStatus`` type spells it."""
    return {
        "provider": report.provider,
        "status": report.status,
        "errorKind": report.error_kind,
        "errorMessage": report.error_message,
        "failedChains": list(report.failed_chains),
    }


class _Recording:
    """A service as one request's resolvers see it: each coroutine method goes through the
    request's :class:`AnswerLog` (traced, reports kept), anything else passes through."""

    __slots__ = ("_log", "_name", "_service")

    def __init__(self, name: str, service: object, log: AnswerLog) -> None:
        self._name = name
        self._service = service
        self._log = log

    def __getattr__(self, method: str) -> Any:
        attribute = getattr(self._service, method)
        if not inspect.iscoroutinefunction(attribute):
            self._log.untraced()
            return attribute
        log, name = self._log, self._name

        async def traced(*args: Any, **kwargs: Any) -> Any:
            call = ServiceCall(name, method, args, tuple(kwargs.items()))
            return await log.call(call, attribute, kwargs)

        return traced


# The facades stand in for the services wherever a resolver holds one (the Context's
# fields are typed as the services): same methods, same results, plus the recording.


def recording_nfts(service: NFTService, log: AnswerLog) -> NFTService:
    return cast(NFTService, _Recording(NFTS, service, log))


def recording_identities(service: IdentityService, log: AnswerLog) -> IdentityService:
    return cast(IdentityService, _Recording(IDENTITIES, service, log))
