"""Warm GraphQL answers: a request served again from what the same request answered before.

A warm 50-NFT page costs the service a few microseconds (its page cache), but a GraphQL
request around it still costs about a millisecond of Strawberry and graphql-core:
operation preparation, validation lookups, argument coercion, the execution context, the
projection of 2,600 leaves (:mod:`gateway.schema.fastpath.compiled`) and serialising 85 KB. The
answer, however, is a function of the request and of what the services answered, nothing
else: resolvers only validate their arguments, call a service through the request's
recording facade (:mod:`gateway.schema.fastpath.recording`) and convert what it returns. So:

1. After a request is executed, its answer (``data`` serialised, no errors) is kept with
   its *trace*, the service calls its resolvers made and what each returned. The calls
   are remembered per request key (document text, operation name, variables, HTTP method:
   the :class:`Plan`); the answer is kept with the last kept page the request read (by its
   slice key, in the view's :class:`~gateway.schema.fastpath.kept.KeptPages`), so it lives as
   long as that page is asked for, and at most ``per_slice`` answers per page.
2. The next request with the same key replays the plan's calls (concurrently, on the
   services themselves; when every one is ready - kept pages - at once, with no task and
   no wait: :meth:`~gateway.schema.calls.ServiceCall.ready`). When every call answers
   *the same* (the very page objects, equal values otherwise), the resolvers would
   compute exactly the same answer from exactly the same inputs: the kept bytes are the
   answer, and graphql-core never runs. The provider reports for ``extensions`` come
   from the replayed answers, as usual.
3. Otherwise (a changed page, other variables, a call that failed) the request executes
   normally, and the answers the replay already fetched are handed to its resolvers
   (:meth:`AnswerLog.prefetch`): no service is asked twice.

The contract this relies on: what a field resolves to may depend on its arguments, the
document, ``info.context.settings`` (fixed per app, and so is this cache: one per view) and
what the calls of :mod:`gateway.schema.calls` return. The types hold that line: the context
gives resolvers no service, only ``services.call(<typed call>)``, and a call is replayed by
its own :meth:`~gateway.schema.calls.ServiceCall.run`, compared by value.
``tests/gateway/test_compiled_graphql.py`` checks replayed answers against graphql-core's.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from gateway.http.redaction import RedactedBytes, redact_bytes
from gateway.http.security import encode_json
from gateway.schema.calls import ServiceCall, Services
from gateway.schema.fastpath.kept import KeptPages, slice_key
from gateway.schema.fastpath.recording import AnswerLog, Trace

__all__ = ["AnswerCache", "Plan", "RequestKey", "request_key"]

MAX_PLANS = 256

RequestKey = tuple[str, str, str | None, bytes]


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """The service calls a request made, and which answer holds its kept response."""

    calls: tuple[ServiceCall[Any], ...]
    anchor: int  # index of the call whose answer (a kept page) keeps the response


@dataclass(slots=True, eq=False)
class _Kept:
    plan: Plan
    results: tuple[Any, ...]
    data: RedactedBytes  # the answer's "data", serialised
    # The whole response body of a replay that cost nothing, while replays answer with
    # the very objects in ``results`` (its extensions are then the same, byte for byte).
    body: RedactedBytes | None = None


def request_key(data: GraphQLRequestData, method: str) -> RequestKey | None:
    """What identifies a request's answer; None when it is never kept (extensions sent,
    variables orjson cannot write)."""
    if data.query is None or data.extensions:
        return None
    try:
        variables = orjson.dumps(data.variables) if data.variables else b""
    except orjson.JSONEncodeError:
        return None
    return (method, data.query, data.operation_name, variables)


class AnswerCache:
    """One view's warm answers (see the module docstring)."""

    def __init__(
        self, *, per_slice: int, pages: KeptPages | None = None, max_plans: int = MAX_PLANS
    ) -> None:
        self.per_slice = per_slice
        self.max_plans = max_plans
        self.pages = KeptPages() if pages is None else pages
        self._plans: OrderedDict[RequestKey, Plan] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.per_slice > 0

    async def replay(self, key: RequestKey, services: Services, log: AnswerLog) -> bytes | None:
        """The response body for ``key`` (JSON, redacted: the kept ``data`` and this
        request's ``extensions``) when replaying its calls answers the same; else None,
        with whatever the replay fetched prefetched into ``log``."""
        plan = self._plans.get(key)
        if plan is None:
            return None
        self._plans.move_to_end(key)
        outcomes = await _run_all(plan.calls, services)
        memo = self.pages.peek(outcomes[plan.anchor])
        kept: _Kept | None = None if memo is None else memo.answers.get(key)
        if kept is None or kept.plan is not plan or not _same(kept.results, outcomes):
            log.prefetch(zip(plan.calls, outcomes, strict=True))
            return None
        identical = all(old is new for old, new in zip(kept.results, outcomes, strict=True))
        if identical and kept.body is not None and not log.meter.counts:
            return kept.body.get()  # the very answers of the body written last time
        for call, result in zip(plan.calls, outcomes, strict=True):
            log.note(call, result)
        if not identical:
            # Equal answers in new objects (a page's warm copy): the next replays compare
            # by identity, and a body written for the old objects is not theirs.
            kept.results, kept.body = tuple(outcomes), None
        if log.meter.counts:  # this replay cost upstream calls: its extensions say so
            return _answer_body(kept.data.get(), log)
        if kept.body is None:
            kept.body = RedactedBytes(_answer_body(kept.data.get(), log))
        return kept.body.get()

    def keep(
        self, key: RequestKey, log: AnswerLog, result: ExecutionResult
    ) -> orjson.Fragment | None:
        """Keep ``result`` when it is a complete, error-free answer of traced calls; its
        ``data`` serialised (for the response too: it is written once), or None."""
        trace = log.trace
        if not trace or result.errors or result.data is None or result.extensions:
            return None
        anchor = _anchor(trace)
        memo = None if anchor is None else self.pages.memo(trace[anchor][1])
        if anchor is None or memo is None:
            return None
        try:  # a right-sized copy: orjson's buffer keeps its slack, and this one is kept
            data = bytes(memoryview(orjson.dumps(result.data)))
        except orjson.JSONEncodeError:
            return None
        plan = Plan(calls=tuple(call for call, _ in trace), anchor=anchor)
        self._plans[key] = plan
        self._plans.move_to_end(key)
        while len(self._plans) > self.max_plans:
            self._plans.popitem(last=False)
        answers = memo.answers
        answers[key] = _Kept(plan, tuple(answer for _, answer in trace), RedactedBytes(data))
        answers.move_to_end(key)
        while len(answers) > self.per_slice:
            answers.popitem(last=False)
        return orjson.Fragment(data)


async def _run_all(calls: tuple[ServiceCall[Any], ...], services: Services) -> list[Any]:
    """Every call's result or exception, the calls running concurrently; answered at once,
    without a task or a wait, when every one is ready (:meth:`ServiceCall.ready`: a warm
    request's kept pages), as most replays are."""
    ready = [call.ready(services) for call in calls]
    if all(answer is not None for answer in ready):
        return ready
    if len(calls) == 1:  # without a task
        try:
            return [await calls[0].run(services)]
        except Exception as exc:  # an outcome like any other
            return [exc]
    return await asyncio.gather(*(call.run(services) for call in calls), return_exceptions=True)


def _answer_body(data: bytes, log: AnswerLog) -> bytes:
    """``{"data": ..., "extensions": ...}``: the bytes the view writes for an executed
    answer (see ``GraphQLView._answer``), ``data`` already serialised."""
    extensions = log.extensions()
    if not extensions:
        return b'{"data":' + data + b"}"
    return b'{"data":' + data + b',"extensions":' + redact_bytes(encode_json(extensions)) + b"}"


def _anchor(trace: Trace) -> int | None:
    """The last answer that can keep things (a kept page: one with a slice key)."""
    for index in range(len(trace) - 1, -1, -1):
        if slice_key(trace[index][1]) is not None:
            return index
    return None


def _same(kept: tuple[Any, ...], replayed: list[Any]) -> bool:
    """The very same answers: identical objects, or equal values (never an exception)."""
    return len(kept) == len(replayed) and all(
        old is new or (not isinstance(new, BaseException) and old == new)
        for old, new in zip(kept, replayed, strict=True)
    )
