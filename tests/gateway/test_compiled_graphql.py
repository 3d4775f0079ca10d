"""The compiled execution path answers exactly what graphql-core answers.

Differential tests: hypothesis generates documents over the schema (aliases, merged
fields, named and inline fragments with type conditions, ``@include``/``@skip`` with
variables and literals, ``__typename``) and both paths run them against the same data;
the JSON (key order included) and the errors must be identical. A small synthetic schema
adds the cases the sandbox data never produces: a ``None`` in a non-null field, values of
the wrong type, an ``Int`` out of range, nullable list items, enums and ``BigInt``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import partial
from typing import Any

import httpx
import orjson
import pytest
import strawberry
from asgi_lifespan import LifespanManager
from graphql import GraphQLObjectType, get_named_type
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from gateway.app import create_app
from gateway.nfts.merging import SpamFilter
from gateway.nfts.service import HoldingsSlice
from gateway.schema import Query, schema
from gateway.schema.context import Context
from gateway.schema.fastpath.compiled import CompiledSchema
from gateway.schema.fastpath.kept import KeptPages
from gateway.schema.fastpath.replay import AnswerCache
from gateway.schema.types import BIG_INT_SCALAR, BigInt
from providers.sandbox import build_sandbox
from providers.sandbox.world import EMPTY_WALLET, SMALL_WALLET, WHALE_WALLET
from tests.conftest import sandbox_settings

CONFIG = StrawberryConfig(scalar_map={BigInt: BIG_INT_SCALAR})
REFERENCE = strawberry.Schema(query=Query, config=CONFIG, extensions=[ParserCache, ValidationCache])


def answer(result: Any) -> tuple[bytes, list[dict[str, Any]]]:
    """The JSON a client would see (key order matters) and the formatted errors."""
    return (
        orjson.dumps(result.data),
        [error.formatted for error in result.errors or ()],
    )


# -- the document generator --------------------------------------------------------------


@dataclass
class Document:
    """What a generated document needs beside its selections."""

    fragments: list[str] = field(default_factory=list)
    variables: dict[str, bool] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=itertools.count)


DIRECTIVES = ["", "@include(if: true)", "@skip(if: true)", "@include(if: false)", "VAR"]


@st.composite
def directive(draw: st.DrawFn, doc: Document) -> str:
    choice = draw(st.sampled_from(DIRECTIVES))
    if choice != "VAR":
        return choice
    name = draw(st.sampled_from(["yes", "no", "maybe"]))
    doc.variables.setdefault(name, draw(st.booleans()))
    return f"@{draw(st.sampled_from(['include', 'skip']))}(if: ${name})"


@st.composite
def selection_set(draw: st.DrawFn, type_: GraphQLObjectType, doc: Document, depth: int) -> str:
    count = draw(st.integers(min_value=1, max_value=4 if depth else 6))
    items = [draw(selection(type_, doc, depth)) for _ in range(count)]
    # Directives may skip every item: an empty answer object is valid and compared too.
    return "{ " + " ".join(items) + " }"


@st.composite
def selection(draw: st.DrawFn, type_: GraphQLObjectType, doc: Document, depth: int) -> str:
    kind = draw(st.sampled_from(["field", "field", "field", "typename", "inline", "spread"]))
    where = draw(directive(doc))
    if kind == "typename":
        alias = draw(st.sampled_from(["", "kind: ", "t: "]))
        return f"{alias}__typename {where}"
    if kind in ("inline", "spread") and depth < 3:
        body = draw(selection_set(type_, doc, depth + 1))
        condition = draw(st.sampled_from([f"on {type_.name} ", ""]))
        if kind == "inline":
            return f"... {condition}{where} {body}"
        name = f"F{next(doc.ids)}"
        doc.fragments.append(f"fragment {name} on {type_.name} {body}")
        return f"...{name} {where}"
    name = draw(st.sampled_from(sorted(type_.fields)))
    # aliases from a small pool per field name, so merges happen and conflicts cannot
    alias = draw(st.sampled_from(["", f"{name}A: ", f"{name}B: "]))
    inner = get_named_type(type_.fields[name].type)
    if isinstance(inner, GraphQLObjectType):
        if depth >= 4:
            return f"{alias}{name} {where} {{ __typename }}"
        return f"{alias}{name} {where} {draw(selection_set(inner, doc, depth + 1))}"
    return f"{alias}{name} {where}"


def render(doc: Document, body: str) -> str:
    declared = ", ".join(f"${name}: Boolean!" for name in sorted(doc.variables))
    head = f"query Generated({declared})" if declared else "query Generated"
    return "\n".join([f"{head} {body}", *doc.fragments])


@st.composite
def wallet_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    doc = Document()
    page_type = schema._schema.get_type("NFTPage")
    connection_type = schema._schema.get_type("AssetConnection")
    assert isinstance(page_type, GraphQLObjectType)
    assert isinstance(connection_type, GraphQLObjectType)
    address = draw(st.sampled_from([SMALL_WALLET, SMALL_WALLET, WHALE_WALLET, "0xnothex"]))
    parts = [f"address {draw(directive(doc))}"]
    size = draw(st.sampled_from([3, 20, 50, 500]))
    spam = draw(st.sampled_from(["INCLUDE", "EXCLUDE", "ONLY"]))
    parts.append(
        f"nfts(page: 1, size: {size}, spam: {spam}) {draw(selection_set(page_type, doc, 0))}"
    )
    if draw(st.booleans()):
        parts.append(f"c: nftConnection(first: 4) {draw(selection_set(connection_type, doc, 0))}")
    body = f'{{ wallet(address: "{address}") {{ {" ".join(parts)} }} }}'
    return render(doc, body), dict(doc.variables)


# -- the sandbox, once per module (both paths see the same warm service) -------------------


@dataclass
class Harness:
    """One warm sandbox app: ``schema.execute`` in process, or a POST through its view."""

    loop: asyncio.AbstractEventLoop
    app: Any
    http: httpx.AsyncClient
    context: Context

    def __call__(self, target: Any, query: str, variables: dict[str, Any]) -> Any:
        return self.loop.run_until_complete(target.execute(query, variables, self.context))

    def post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
        response = self.loop.run_until_complete(self.http.post("/graphql", json=body))
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = orjson.loads(response.content)
        return answer


@pytest.fixture(scope="module")
def run() -> Iterator[Harness]:
    loop = asyncio.new_event_loop()
    app = create_app(sandbox_settings(), transport=build_sandbox().transport())

    async def start() -> tuple[LifespanManager, httpx.AsyncClient]:
        manager = LifespanManager(app)  # it detects the running loop, so built in one
        await manager.__aenter__()
        transport = httpx.ASGITransport(app=manager.app)
        return manager, httpx.AsyncClient(transport=transport, base_url="http://gateway.test")

    try:
        manager, http = loop.run_until_complete(start())
        context = Context.direct(app.state.settings, app.state.nft_service)
        harness = Harness(loop, app, http, context)
        for wallet in (SMALL_WALLET, WHALE_WALLET, EMPTY_WALLET):  # finish the walks first
            harness(REFERENCE, f'{{ wallet(address: "{wallet}") {{ nfts {{ total }} }} }}', {})
        yield harness
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(manager.__aexit__(None, None, None))
    finally:
        loop.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(wallet_documents())
def test_generated_documents_answer_the_same(run: Harness, document: Any) -> None:
    query, variables = document
    expected = answer(run(REFERENCE, query, variables))
    assert answer(run(schema, query, variables)) == expected, query


@settings(
    max_examples=30,
    # no shrinking: two requests an example make it take minutes; the document is printed
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(wallet_documents())
def test_generated_documents_answer_the_same_when_replayed(
    run: Harness, replays: list[bool], document: Any
) -> None:
    """Through the HTTP view twice: executed (and kept), then replayed (when kept)."""
    query, variables = fresh(document[0]), document[1]  # hypothesis repeats documents
    expected_data, expected_errors = answer(run(REFERENCE, query, variables))
    replays.clear()
    first, second = run.post(query, variables), run.post(query, variables)
    assert second == first, query
    if replays == []:  # refused by the view's limits before anything ran (the reference has none)
        assert {e["extensions"]["code"] for e in first["errors"]} <= LIMIT_CODES, first
        return
    assert orjson.dumps(first.get("data")) == expected_data, query
    # Only complete, error-free answers are kept; those are then served without executing.
    assert replays == [False, not expected_errors], query


FULL_PAGE = """
query Page($a: String!, $traits: Boolean!) {
  wallet(address: $a) {
    address
    nfts(page: 1, size: 50, spam: INCLUDE) {
      total totalIsExact page size hasNextPage
      assets {
        quantity quantityInt quantityKnown
        ...Identity
        nft { ... on NFT { chain tokenStandard name description image animationUrl }
              collectionName collectionSlug collectionOpenseaSlug ownerAddresses
              traits @include(if: $traits) { type value } rarity { rank score total }
              isSpam sources provenance { field provider } __typename }
      }
      providers { provider status errorKind errorMessage failedChains }
    }
  }
}
fragment Identity on Asset { nft { blockchain contractAddress tokenId } }
"""


@pytest.mark.parametrize("traits", [True, False])
def test_a_full_page_answers_the_same(run: Harness, traits: bool) -> None:
    variables = {"a": SMALL_WALLET, "traits": traits}
    compiled = answer(run(schema, FULL_PAGE, variables))
    assert compiled == answer(run(REFERENCE, FULL_PAGE, variables))
    assets = orjson.loads(compiled[0])["wallet"]["nfts"]["assets"]
    assert assets and all(("traits" in a["nft"]) is traits for a in assets)


# -- warm answers (gateway/schema/replay.py): kept, replayed, and never served stale --------


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each request through the view was served from a kept answer."""
    served: list[bool] = []
    original = AnswerCache.replay

    async def spying(self: AnswerCache, *args: Any) -> Any:
        kept = await original(self, *args)
        served.append(kept is not None)
        return kept

    monkeypatch.setattr(AnswerCache, "replay", spying)
    return served


LIMIT_CODES = {"QUERY_TOO_COMPLEX", "QUERY_TOO_DEEP", "QUERY_TOO_LARGE"}


def fresh(query: str) -> str:
    """``query`` as a document no other test has sent (so nothing is kept for it yet)."""
    return f"{query}\n# {next(_fresh_ids)}"


_fresh_ids = itertools.count()


def test_a_repeated_request_is_served_from_its_kept_answer(
    run: Harness, replays: list[bool]
) -> None:
    query, variables = fresh(FULL_PAGE), {"a": SMALL_WALLET, "traits": True}
    answers = [run.post(query, variables) for _ in range(3)]

    assert replays == [False, True, True]
    assert answers[0] == answers[1] == answers[2]
    assert orjson.dumps(answers[2]["data"]) == answer(run(REFERENCE, query, variables))[0]
    assert answers[2]["extensions"]["providers"]  # how each provider did, replayed too


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
def test_a_kept_answer_is_the_same_response(run: Harness, replays: list[bool], accept: str) -> None:
    body = {"query": fresh(FULL_PAGE), "variables": {"a": SMALL_WALLET, "traits": False}}
    send = partial(run.http.post, "/graphql", json=body, headers={"accept": accept})
    executed, replayed = (run.loop.run_until_complete(send()) for _ in range(2))

    assert replays == [False, True]
    assert replayed.status_code == executed.status_code == 200
    assert replayed.headers["content-type"] == executed.headers["content-type"]
    assert replayed.headers["content-type"].startswith(accept)
    assert replayed.content == executed.content


def test_other_variables_are_not_served_from_another_answer(
    run: Harness, replays: list[bool]
) -> None:
    query = fresh(FULL_PAGE)
    cases = [
        {"a": SMALL_WALLET, "traits": True},
        {"a": SMALL_WALLET, "traits": False},  # another @include outcome, the same page
        {"a": WHALE_WALLET, "traits": True},  # another wallet
    ]
    for variables in cases:
        replays.clear()
        # (three: the service's page cache keeps a page the second time it builds it, and
        # an answer is kept with the page object the service hands out again)
        answers = [run.post(query, variables) for _ in range(3)]
        assert replays[0] is False and replays[-1] is True, variables
        expected = answer(run(REFERENCE, query, variables))[0]
        assert {orjson.dumps(a["data"]) for a in answers} == {expected}


def test_a_changed_page_is_not_served_from_the_cache(
    run: Harness, replays: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    query, variables = fresh(FULL_PAGE), {"a": SMALL_WALLET, "traits": True}
    before = run.post(query, variables)
    service = run.app.state.nft_service
    original = service.list_holdings
    calls: list[dict[str, Any]] = []

    async def changed(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        page = await original(*args, **kwargs)
        # A new page: not one the service keeps (no slice key), so nothing is kept for it.
        return replace(page, total=page.total + 1, holdings=page.holdings[1:], key=None)

    monkeypatch.setattr(service, "list_holdings", changed)
    monkeypatch.setattr(service, "kept_page", lambda *args, **kwargs: None)  # none ready
    replays.clear()
    after = [run.post(query, variables) for _ in range(2)]

    # A new page every call: never the kept answer, always the new page's own.
    assert replays == [False, False]
    assert after[0] == after[1] != before
    assert (
        after[0]["data"]["wallet"]["nfts"]["total"] == before["data"]["wallet"]["nfts"]["total"] + 1
    )
    assert orjson.dumps(after[0]["data"]) == answer(run(REFERENCE, query, variables))[0]
    # The call the replay made is the one the execution used: one call per request.
    assert len(calls) == 2 + 1  # two requests, and the reference execution


def test_the_view_parses_a_document_once(run: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.schema.fastpath import documents

    def no_second_parse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the view's parse should have been used")

    monkeypatch.setattr(documents, "_parse", no_second_parse)
    query = fresh("query ($a: String!) { wallet(address: $a) { address } }")
    assert run.post(query, {"a": SMALL_WALLET})["data"]["wallet"]["address"]


def test_answers_with_errors_are_not_kept(run: Harness, replays: list[bool]) -> None:
    query = fresh('{ wallet(address: "0xnothex") { address } }')
    answers = [run.post(query, {}) for _ in range(2)]
    assert replays == [False, False]
    assert answers[0] == answers[1] and answers[0]["errors"]


def test_what_the_face_keeps_is_bounded_by_pages() -> None:
    """Converted objects and warm answers are kept for at most ``max_pages`` kept pages
    (least recently used out); a page the service does not keep (no slice key) gets none."""

    def page(n: int | None) -> HoldingsSlice:
        key = None if n is None else (("0xabc", (), SpamFilter.EXCLUDE, n, 20, False), 1, 1, n)
        return HoldingsSlice(
            holdings=(),
            offset=0,
            total=0,
            total_is_exact=True,
            has_more=False,
            providers=(),
            key=key,
        )

    kept = KeptPages(max_pages=2)
    first, second, third = page(1), page(2), page(3)
    assert kept.memo(page(None)) is None
    memo = kept.memo(first)
    assert memo is not None and kept.memo(replace(first)) is memo  # the key, not the object
    kept.memo(second)
    kept.memo(first)  # used again: the second is now the oldest
    kept.memo(third)
    assert len(kept) == 2
    assert kept.peek(second) is None and kept.peek(first) is memo


# -- a synthetic schema for the values the sandbox never produces -------------------------


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    text: str
    maybe_text: str | None
    count: int
    ratio: float | None
    big: BigInt
    color: Color
    tags: list[str | None]


@strawberry.type
class Node:
    name: str
    leaf: Leaf
    maybe_leaf: Leaf | None
    leaves: list[Leaf]
    maybe_leaves: list[Leaf | None] | None


def good_leaf(i: int) -> Leaf:
    return Leaf(
        text=f"t{i}",
        maybe_text=None if i % 2 else "m",
        count=i,
        ratio=None if i % 3 else (i if i else 0.5),  # an int in a Float field: 3.0
        big=BigInt(2**70 + i),
        color=Color.RED if i % 2 else Color.BLUE,
        tags=["a", None, "b"],
    )


def bad_leaves() -> list[Leaf]:
    broken: list[dict[str, Any]] = [
        {"text": None},
        {"count": 2**40},
        {"count": "7"},
        {"ratio": float("inf")},
        {"color": "GREEN"},
        {"tags": "not-a-list"},
        {"tags": None},
    ]
    leaves = []
    for i, change in enumerate(broken):
        leaf = good_leaf(i)
        for key, value in change.items():
            object.__setattr__(leaf, key, value)
        leaves.append(leaf)
    return leaves


@strawberry.type
class SyntheticQuery:
    @strawberry.field
    def node(self, bad: int = -1) -> Node:
        leaves = [good_leaf(i) for i in range(4)]
        wrong = bad_leaves()
        if 0 <= bad < len(wrong):
            leaves[1] = wrong[bad]
        return Node(
            name="n",
            leaf=leaves[1],
            maybe_leaf=leaves[1],
            leaves=leaves,
            maybe_leaves=[leaves[0], None, leaves[1]],
        )

    @strawberry.field
    def maybe_node(self, bad: int = -1) -> Node | None:
        return self.node(bad)


SYNTHETIC_COMPILED = CompiledSchema(query=SyntheticQuery, config=CONFIG)
SYNTHETIC_REFERENCE = strawberry.Schema(query=SyntheticQuery, config=CONFIG)


@st.composite
def synthetic_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    doc = Document()
    node_type = SYNTHETIC_COMPILED._schema.get_type("Node")
    assert isinstance(node_type, GraphQLObjectType)
    root = draw(st.sampled_from(["node", "maybeNode"]))
    bad = draw(st.integers(min_value=-1, max_value=len(bad_leaves()) - 1))
    body = f"{{ {root}(bad: {bad}) {draw(selection_set(node_type, doc, 0))} }}"
    return render(doc, body), dict(doc.variables)


@settings(max_examples=80, deadline=None)
@given(synthetic_documents())
def test_wrong_values_give_graphql_cores_errors(document: Any) -> None:
    query, variables = document
    expected = answer(SYNTHETIC_REFERENCE.execute_sync(query, variables))
    compiled = asyncio.run(SYNTHETIC_COMPILED.execute(query, variables))
    assert answer(compiled) == expected, query


def test_every_bad_value_is_an_error_located_like_graphql_core() -> None:
    query = "{ maybeNode(bad: %d) { leaves { text count ratio color tags big } } }"
    for bad in range(len(bad_leaves())):
        expected = answer(SYNTHETIC_REFERENCE.execute_sync(query % bad))
        compiled = answer(asyncio.run(SYNTHETIC_COMPILED.execute(query % bad)))
        assert compiled == expected
        assert compiled[1], f"bad value {bad} should be an error"


def test_the_big_int_scalar_is_a_string_and_enums_their_names() -> None:
    result = asyncio.run(SYNTHETIC_COMPILED.execute("{ node { leaf { big color } } }"))
    assert result.data == {"node": {"leaf": {"big": str(2**70 + 1), "color": "RED"}}}


def test_a_page_takes_the_compiled_path(run: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.schema.fastpath import compiled as module

    projected: list[Any] = []
    original = module.compile_projector

    def recording(*args: Any) -> Any:
        projector = original(*args)
        projected.append(projector)
        return projector

    monkeypatch.setattr(module, "compile_projector", recording)
    fresh = FULL_PAGE.replace("query Page", "query PageAgain")  # a document not cached yet
    run(schema, fresh, {"a": SMALL_WALLET, "traits": True})
    assert projected, "the NFT page should be completed by a projector"


def test_a_repeated_body_is_parsed_once_and_still_checked_per_request(
    run: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.schema import view

    parsed: list[bytes] = []
    original = view.parse_post_body

    def counting(body: bytes, limits: Any) -> Any:
        parsed.append(body)
        return original(body, limits)

    monkeypatch.setattr(view, "parse_post_body", counting)
    query = fresh("query ($a: String!) { wallet(address: $a) { address } }")
    answers = [run.post(query, {"a": SMALL_WALLET}) for _ in range(3)]
    assert len(parsed) == 1
    assert answers[0] == answers[1] == answers[2]
    # What the headers say is checked every time: the same bytes as text/plain are refused.
    body = orjson.dumps({"query": query, "variables": {"a": SMALL_WALLET}})
    refused = run.loop.run_until_complete(
        run.http.post("/graphql", content=body, headers={"content-type": "text/plain"})
    )
    assert refused.status_code == 415
