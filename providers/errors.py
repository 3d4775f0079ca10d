"""Errors raised by provider adapters.

Every adapter translates its upstream's failures into this one tree, so the gateway can
report a provider's failure without knowing its wire format::

    ProviderError                  any failure of one upstream call; names the provider
    ├── ProviderTimeout            no complete answer within the deadline
    │   └── ProviderConnectTimeout no connection within the connect timeout (transient)
    ├── ProviderUnavailable        connection refused or reset, 5xx, circuit open
    │   └── ProviderTransient      connect error, reset, 502/503/504: worth another try
    ├── ProviderRateLimited        429 (or OpenSea's 599); carries ``retry_after`` seconds
    ├── ProviderAuthError          401 / 403: the key is missing, wrong or out of quota
    ├── ProviderNotFound           404 or the upstream's own "does not exist" answer
    ├── ProviderLocked             the record exists but is locked (.bit 20008): an answer,
    │                              not an outage
    ├── ProviderNotEntitled        the key works but its plan lacks this endpoint
    │                              (Etherscan name tags need Pro Plus)
    ├── ProviderBadRequest         400 the adapter did not expect
    │   ├── ProviderCursorExpired  the upstream forgot our cursor: restart that walk
    │   └── ProviderBatchTooLarge  a batch route refused the number of items: split it
    ├── ProviderUnsupported        the server lacks a route (404/405 on a batch route)
    └── ProviderBadData            the body is not what the contract promises

:class:`TransientError` marks the failures a retry may cure (the two subclasses above; a
429 is retried on its own terms). ``kind`` is a stable short string used in reports, headers
and metrics. Messages never contain request URLs: the Alchemy key is part of the URL path.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ProviderAuthError",
    "ProviderBadData",
    "ProviderBadRequest",
    "ProviderBatchTooLarge",
    "ProviderConnectTimeout",
    "ProviderCursorExpired",
    "ProviderError",
    "ProviderLocked",
    "ProviderNotEntitled",
    "ProviderNotFound",
    "ProviderRateLimited",
    "ProviderTimeout",
    "ProviderTransient",
    "ProviderUnavailable",
    "ProviderUnsupported",
    "TransientError",
    "error_for_status",
]


class ProviderError(Exception):
    kind = "error"

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class ProviderTimeout(ProviderError):
    kind = "timeout"


class ProviderUnavailable(ProviderError):
    kind = "unavailable"


class TransientError:
    """Marker: the upstream never answered this attempt (or said "try again"), so a retry
    may succeed. Kept as a type so it survives adapters that re-create errors by type."""


class ProviderConnectTimeout(ProviderTimeout, TransientError):
    pass


class ProviderTransient(ProviderUnavailable, TransientError):
    pass


class ProviderRateLimited(ProviderError):
    kind = "rate_limited"

    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after


class ProviderAuthError(ProviderError):
    kind = "auth"


class ProviderNotFound(ProviderError):
    kind = "not_found"


class ProviderLocked(ProviderError):
    kind = "locked"


class ProviderNotEntitled(ProviderError):
    kind = "not_entitled"


class ProviderBadRequest(ProviderError):
    kind = "bad_request"


class ProviderCursorExpired(ProviderBadRequest):
    kind = "cursor_expired"


class ProviderBatchTooLarge(ProviderBadRequest):
    kind = "batch_too_large"


class ProviderUnsupported(ProviderError):
    kind = "unsupported"


class ProviderBadData(ProviderError):
    kind = "bad_data"


_STATUS_ERRORS: Mapping[int, type[ProviderError]] = {
    400: ProviderBadRequest,
    401: ProviderAuthError,
    403: ProviderAuthError,
    404: ProviderNotFound,
    429: ProviderRateLimited,
    599: ProviderRateLimited,  # OpenSea's SDK treats 599 as a rate limit
    502: ProviderTransient,
    503: ProviderTransient,
    504: ProviderTransient,
}


def error_for_status(provider: str, status: int, detail: str = "") -> ProviderError:
    """The error a non-2xx upstream status stands for (the one status-to-error table)."""
    error_type = _STATUS_ERRORS.get(status)
    if error_type is None:
        error_type = ProviderUnavailable if status >= 500 else ProviderBadRequest
    message = f"HTTP {status}" + (f": {detail}" if detail else "")
    return error_type(provider, message)
