"""Errors a client sees, each with a stable code.

Both faces render the same tree: REST as ``{"error": {"code", "message"}}`` with the
status below, GraphQL as an error with ``extensions.code``::

    GatewayError                      500  INTERNAL (never raised on purpose)
    ├── InvalidInput                  422  INVALID_INPUT and the more precise codes below
    │   ├── InvalidAddress            422  INVALID_ADDRESS
    │   ├── InvalidName               422  INVALID_NAME
    │   ├── InvalidPagination         422  INVALID_PAGINATION
    │   ├── InvalidCursor             422  INVALID_CURSOR
    │   ├── InvalidUserId             422  INVALID_USER_ID
    │   ├── InvalidMaxAge             422  INVALID_MAX_AGE (maxAge / max_age)
    │   ├── TooManyWallets            422  TOO_MANY_WALLETS (wallets(addresses:) past its bound)
    │   └── MissingField              422  MISSING_FIELD
    ├── BadRequest                    400  BAD_REQUEST (malformed JSON, body not an object)
    ├── BodyTooLarge                  413  BODY_TOO_LARGE
    ├── UnsupportedMediaType          415  UNSUPPORTED_MEDIA_TYPE (POST bodies must be JSON)
    ├── NameNotFound                  404  NAME_NOT_FOUND (unknown or expired name)
    ├── RefreshRateLimited            429  RATE_LIMITED (refreshNft asked too often)
    └── UpstreamUnavailable           503  UPSTREAM_UNAVAILABLE (every provider failed)

:class:`UpstreamUnavailable` also carries what each provider did (``providers``), so a face
can say on a 503 which provider failed and why, as it does on a partial answer.

Services raise these without naming the client's field: they do not know how a face spells
its input (``wallet_address`` in REST, ``address`` in GraphQL). A face names it where it
passes the input in, with :func:`input_field` (or :meth:`GatewayError.for_field`); only
errors about the input (:class:`InvalidInput` and :class:`NameNotFound`) take a field.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, Self

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "GatewayError",
    "InvalidAddress",
    "InvalidCursor",
    "InvalidInput",
    "InvalidMaxAge",
    "InvalidName",
    "InvalidPagination",
    "InvalidUserId",
    "MissingField",
    "NameNotFound",
    "ProviderOutcome",
    "RefreshRateLimited",
    "TooManyWallets",
    "UnsupportedMediaType",
    "UpstreamUnavailable",
    "input_field",
]


class GatewayError(Exception):
    status = 500
    code = "INTERNAL"
    about_input = False  # True: the client's input is at fault, and a face may name it

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def for_field(self, field: str) -> Self:
        """This error blamed on the client's input ``field``: for faces. Errors not about
        input, and ones that already name a field, stay as they are."""
        if self.about_input and self.field is None:
            self.field = field
        return self

    def to_json(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


class InvalidInput(GatewayError):
    status = 422
    code = "INVALID_INPUT"
    about_input = True


class InvalidAddress(InvalidInput):
    code = "INVALID_ADDRESS"


class InvalidName(InvalidInput):
    code = "INVALID_NAME"


class InvalidPagination(InvalidInput):
    code = "INVALID_PAGINATION"


class InvalidCursor(InvalidInput):
    code = "INVALID_CURSOR"


class InvalidUserId(InvalidInput):
    code = "INVALID_USER_ID"


class InvalidMaxAge(InvalidInput):
    code = "INVALID_MAX_AGE"


class TooManyWallets(InvalidInput):
    code = "TOO_MANY_WALLETS"


class MissingField(InvalidInput):
    code = "MISSING_FIELD"


class BadRequest(GatewayError):
    status = 400
    code = "BAD_REQUEST"


class BodyTooLarge(GatewayError):
    status = 413
    code = "BODY_TOO_LARGE"


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class NameNotFound(GatewayError):
    status = 404
    code = "NAME_NOT_FOUND"
    about_input = True


class ProviderOutcome(Protocol):
    """How one provider did for an answer (``gateway.nfts.pages.ProviderReport`` is one):
    what a 503 names about each provider, defined here so this module stays a leaf."""

    @property
    def provider(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def error_kind(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def failed_chains(self) -> tuple[str, ...]: ...


class RefreshRateLimited(GatewayError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamUnavailable(GatewayError):
    status = 503
    code = "UPSTREAM_UNAVAILABLE"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int = 30,
        providers: Sequence[ProviderOutcome] = (),
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.providers = tuple(providers)  # each provider's failure, when the raiser knows


@contextmanager
def input_field(field: str) -> Iterator[None]:
    """Errors about input raised inside name the client's ``field`` (see the docstring)."""
    try:
        yield
    except GatewayError as exc:
        exc.for_field(field)
        raise
