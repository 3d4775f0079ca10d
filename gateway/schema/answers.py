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
combine as :func:`gateway.identity.combine_reports` does (``partial`` when they differ).

Why not a per-field extension or a schema extension's ``resolve`` hook: either is called
for every field of every object and turns off the compiled projection
(:mod:`gateway.schema.compiled`). Instead each request gets one :class:`AnswerLog`, and its
resolvers see the services through thin recording facades (:func:`recording_nfts`,
:func:`recording_identities`) that note each answer's reports as it passes; the view's
``process_result`` merges the log into ``extensions``. Resolvers stay unchanged and the
cost is two small objects per request and one append per answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar, cast

from gateway.identity import DIDAnswer, IdentityService, LinkedHoldingsSlice, combine_reports
from gateway.service import HoldingsSlice, NFTService, ProviderReport

__all__ = ["AnswerLog", "provider_status_json", "recording_identities", "recording_nfts"]

S = TypeVar("S")


class AnswerLog:
    """The provider reports of one GraphQL request's answers, in the order they came."""

    __slots__ = ("_groups", "_stale_age")

    def __init__(self) -> None:
        self._groups: list[Sequence[ProviderReport]] = []
        self._stale_age: int | None = None

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


class _Recording(Generic[S]):
    """A service as one request sees it; what a subclass does not record passes through."""

    __slots__ = ("_log", "_service")

    def __init__(self, service: S, log: AnswerLog) -> None:
        self._service = service
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


class _RecordingNFTs(_Recording[NFTService]):
    """:class:`NFTService` for one request: each page's reports go to the log."""

    __slots__ = ()

    async def list_holdings(self, *args: Any, **kwargs: Any) -> HoldingsSlice:
        page = await self._service.list_holdings(*args, **kwargs)
        self._log.record_page(page)
        return page


class _RecordingIdentities(_Recording[IdentityService]):
    """:class:`IdentityService` for one request: each DID list and NFT page is logged."""

    __slots__ = ()

    async def dids(self, address: str) -> DIDAnswer:
        answer = await self._service.dids(address)
        self._log.record(answer.providers)
        return answer

    async def dids_of(self, addresses: Sequence[str]) -> DIDAnswer:
        answer = await self._service.dids_of(addresses)
        self._log.record(answer.providers)
        return answer

    async def list_holdings(self, *args: Any, **kwargs: Any) -> LinkedHoldingsSlice:
        page = await self._service.list_holdings(*args, **kwargs)
        self._log.record_page(page)
        return page


# The facades stand in for the services wherever a resolver holds one (the Context's
# fields are typed as the services): same methods, same results, plus the recording.


def recording_nfts(service: NFTService, log: AnswerLog) -> NFTService:
    return cast(NFTService, _RecordingNFTs(service, log))


def recording_identities(service: IdentityService, log: AnswerLog) -> IdentityService:
    return cast(IdentityService, _RecordingIdentities(service, log))
