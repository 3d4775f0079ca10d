"""What a page asks for (the window) and what its answer is made of: the slice, the
per-provider reports, and how reports combine.

Every answer the services give carries one :class:`ProviderReport` per provider, and every
answer built from several parts (a wallet's streams and its detail calls; an identity's
wallets; a GraphQL response that read several pages) combines them with
:func:`combine_reports`, the one rule for it: ``ok`` when every part was ok, ``failed``
when every part failed, else ``partial``; the first error found is kept, failed chains are
united, latency is the slowest part's.

Pure values, no I/O: faces may import these types; nothing here imports a service.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.nfts.merging import Holding, NsfwFilter, SpamFilter
from gateway.resilience import CircuitOpen, CoolingDown, Overloaded
from providers.errors import ProviderError
from providers.models import Chain

logger = logging.getLogger("gateway.upstream")

__all__ = [
    "HoldingsSlice",
    "ListWindow",
    "PageKey",
    "ProviderReport",
    "ProviderStatus",
    "SliceKey",
    "combine_reports",
    "detail_failure_reports",
]


@dataclass(frozen=True, slots=True)
class ListWindow:
    """Which holdings a page asks for: ``offset .. offset+limit`` of the order the filters
    admit, on ``chains`` (None: every chain walked), with the per-NFT details or without
    (``enrich``), from a walk that read the providers at most ``max_age`` seconds ago (if
    given). Every service method that answers a page takes one."""

    offset: int
    limit: int
    chains: tuple[Chain, ...] | None = None
    spam: SpamFilter = SpamFilter.EXCLUDE
    enrich: bool = True
    max_age: float | None = None
    nsfw: NsfwFilter = NsfwFilter.INCLUDE


class ProviderStatus(StrEnum):
    """How a provider did for one answer (the values are what clients read)."""

    OK = "ok"
    PARTIAL = "partial"  # some chains or detail calls failed
    FAILED = "failed"  # no data from it


@dataclass(frozen=True, slots=True)
class ProviderReport:
    """One provider's part in an answer, with the first error's kind and message."""

    provider: str
    status: ProviderStatus
    error_kind: str | None = None
    error_message: str | None = None
    failed_chains: tuple[str, ...] = ()
    latency_ms: float = 0.0


# (owner, chains, spam filter, offset, limit, enrich): one page request of one wallet.
PageKey = tuple[str, tuple[Chain, ...], SpamFilter, NsfwFilter, int, int, bool]
# (page key, walk serial, walk version, admission number): one page the page cache keeps.
# The walk state alone is not enough: a page rebuilt from the same walk after its TTL may
# carry fresher details, so each admission gets a number of its own.
SliceKey = tuple[PageKey, int, int, int]


@dataclass(frozen=True, slots=True)
class HoldingsSlice:
    """One page of a wallet's holdings, immutable: a kept one is served to many requests,
    and faces keep what they make of it in caches of their own, by :attr:`key`."""

    holdings: tuple[Holding, ...]
    offset: int
    total: int
    total_is_exact: bool
    has_more: bool
    providers: tuple[ProviderReport, ...]
    stale: bool = False  # every provider failed: this is an older snapshot
    stale_age_seconds: int | None = None
    # When the walk behind this page read the providers (Unix seconds; None: not known).
    fetched_at: float | None = None
    # Upstream calls made for this answer, per provider (empty when served warm): the
    # answer's cost (REST ``X-NFTGW-Upstream-Calls``, GraphQL ``extensions.cost``).
    upstream_calls: Mapping[str, int] = field(default_factory=dict, compare=False)
    # Names this exact page content while the page cache serves it to many requests, so a
    # face may keep what it made of it (bytes, objects) keyed by it; None: not kept, build
    # nothing to keep.
    key: SliceKey | None = field(default=None, compare=False)


def combine_reports(
    groups: Iterable[Iterable[ProviderReport]], *, providers: Sequence[str] | None = None
) -> tuple[ProviderReport, ...]:
    """One report per provider from several parts (see the module docstring).

    Providers come in the order first seen; with ``providers``, exactly those, in that
    order (one without any part is ``ok``: it had nothing to do).
    """
    by_provider: dict[str, list[ProviderReport]] = {name: [] for name in providers or ()}
    for group in groups:
        for report in group:
            parts = by_provider.get(report.provider)
            if parts is None:
                if providers is not None:
                    continue
                parts = by_provider[report.provider] = []
            parts.append(report)
    return tuple(_combine(provider, parts) for provider, parts in by_provider.items())


# What a client reads about a provider's failure: the kind, in the gateway's own words.
# Upstream error text (an error page, a body that quotes our request and its key) never
# reaches a client; the log keeps it, redacted (issue 16).
CLIENT_MESSAGES = {
    "timeout": "the provider did not answer in time",
    "unavailable": "the provider is unavailable",
    "rate_limited": "the provider asked the gateway to slow down",
    "auth": "the provider refused the gateway's credentials",
    "not_found": "the provider does not know this",
    "bad_request": "the provider refused the request",
    "cursor_expired": "the provider forgot where paging was",
    "bad_data": "the provider's answer was unusable",
    "internal": "unexpected adapter failure",
}


def client_message(provider: str, exc: ProviderError) -> str:
    """The message a client gets for ``exc``; the upstream's own text goes to the log.

    The guard's verdicts (circuit open, overloaded, cooling down) are the gateway's own
    words and pass as they are."""
    if isinstance(exc, CircuitOpen | Overloaded | CoolingDown):
        return exc.message
    logger.info("%s failed (%s): %s", provider, exc.kind, exc.message)
    return CLIENT_MESSAGES.get(exc.kind, f"the provider call failed ({exc.kind})")


def detail_failure_reports(
    failures: Sequence[tuple[str, ProviderError]],
) -> tuple[ProviderReport, ...]:
    """Failed detail calls as reports: they cost enrichment only, so ``partial``, never
    ``failed``; the first error per provider."""
    first: dict[str, ProviderError] = {}
    for name, exc in failures:
        first.setdefault(name, exc)
    return tuple(
        ProviderReport(name, ProviderStatus.PARTIAL, exc.kind, client_message(name, exc))
        for name, exc in first.items()
    )


def _combine(provider: str, parts: Sequence[ProviderReport]) -> ProviderReport:
    if not parts:
        return ProviderReport(provider, ProviderStatus.OK)
    if len(parts) == 1:
        return parts[0]
    statuses = {part.status for part in parts}
    status = statuses.pop() if len(statuses) == 1 else ProviderStatus.PARTIAL
    first_error = next((part for part in parts if part.error_kind), None)
    chains = dict.fromkeys(chain for part in parts for chain in part.failed_chains)
    return ProviderReport(
        provider=provider,
        status=status,
        error_kind=first_error.error_kind if first_error else None,
        error_message=first_error.error_message if first_error else None,
        failed_chains=tuple(chains),
        latency_ms=max(part.latency_ms for part in parts),
    )
