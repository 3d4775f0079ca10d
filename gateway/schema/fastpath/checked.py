"""Requests seen before, by their bytes: a repeated POST skips reading and checking its body.

Before anything runs, a GraphQL POST body is parsed (orjson), its depth checked, its fields
read, its document parsed, measured against the limits and validated, and its operation
chosen (:mod:`gateway.schema.requests`). All of that is a function of the body's bytes and
of the view's limits, which are fixed per view. So the outcome for a body that passed every
check is kept by the bytes (bounded, least recently used out), and the same bytes again go
straight to the answer: a gallery polling one page sends the very same body each time.

Only bodies that stand for themselves are kept: no ``extensions`` (an APQ hash or a
registration must be resolved against the cache each time). What depends on the headers
(content type, size, CSRF preflight, ``Accept``) is still checked for every request.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from graphql import DocumentNode
from strawberry.http import GraphQLRequestData

from gateway.schema.fastpath.replay import RequestKey

__all__ = ["CheckedBodies", "CheckedRequest"]

MAX_BODIES = 256
MAX_KEPT_BODY_BYTES = 16 * 1024  # a body this long is kept with its outcome, not longer


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    """A request that passed the checks: its data, its document and the key of its answer."""

    data: GraphQLRequestData
    query: str  # the document's text (a persisted query's, resolved)
    document: DocumentNode
    key: RequestKey | None


class CheckedBodies:
    """The checked outcome of recent POST bodies, by their bytes."""

    __slots__ = ("_outcomes", "max_bodies")

    def __init__(self, max_bodies: int = MAX_BODIES) -> None:
        self.max_bodies = max_bodies
        self._outcomes: OrderedDict[bytes, CheckedRequest] = OrderedDict()

    def get(self, body: bytes) -> CheckedRequest | None:
        checked = self._outcomes.get(body)
        if checked is not None:
            self._outcomes.move_to_end(body)
        return checked

    def keep(self, body: bytes, sent: GraphQLRequestData, checked: CheckedRequest) -> None:
        """Remember ``checked`` for ``body`` (whose request as sent is ``sent``) when it
        stands for itself: ``sent`` has no extensions (see above)."""
        if sent.extensions or len(body) > MAX_KEPT_BODY_BYTES or self.max_bodies <= 0:
            return
        self._outcomes[body] = checked
        while len(self._outcomes) > self.max_bodies:
            self._outcomes.popitem(last=False)
