"""GraphQL document limits, checked in the HTTP view before validation and execution.

graphql-core's costs are not linear in what a client sends (``shared/RELIABILITY.md``):

* ``parse()`` recurses per nesting level; a document 300 levels deep raises
  ``RecursionError``. So tokens are first counted with the lexer alone (no AST), the
  bracket nesting is bounded on the way, and only then is the document parsed.
* ``validate()`` compares fields pairwise (OverlappingFieldsCanBeMerged): 1000 duplicated
  fields take seconds. So field selections are counted on the AST *before* validation,
  expanded through fragment spreads (a fragment spread twice costs twice).
* Aliases, depth and root fields are counted through fragments too, with memoisation so a
  fragment graph built to explode exponentially is still counted in linear time, and with
  cycle detection so circular fragments are a clean error instead of a ``RecursionError``.
* Introspection (everything under ``__schema`` and ``__type``) is counted apart, against
  its own depth and field caps: the standard query GraphiQL and codegen tools send is 15
  deep and selects about 230 fields, far past what a data query may cost, and it must
  load where introspection is allowed. Aliases and tokens still count as anywhere else.
* A directive repeated on one node (unless the schema declares it repeatable) is refused
  before validation, which would report each repetition as one more error.

Every check raises :class:`QueryRejected` with a stable ``extensions.code``:
``QUERY_TOO_LARGE`` (bytes, tokens), ``QUERY_TOO_DEEP`` (depth, nesting),
``QUERY_TOO_COMPLEX`` (aliases, fields, root fields, directives, and the introspection
caps), ``CIRCULAR_FRAGMENT``, ``INTROSPECTION_DISABLED``, ``GRAPHQL_PARSE_FAILED``,
``GRAPHQL_VALIDATION_FAILED`` (a repeated directive).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Self

from graphql import GraphQLSyntaxError, Source, parse
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    Lexer,
    OperationDefinitionNode,
    SelectionSetNode,
    TokenKind,
)
from pydantic import BaseModel

from gateway.settings import GraphQLLimitSettings

__all__ = [
    "DocumentStats",
    "GraphQLLimits",
    "QueryRejected",
    "check_document",
    "checked_document",
    "parse_limited",
    "scan_tokens",
]

_OPENING = {TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L}
_CLOSING = {TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R}
_INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class QueryRejected(Exception):
    """A document refused before execution; rendered as a GraphQL request error."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        limit: str | None = None,
        maximum: int | None = None,
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.limit = limit
        self.maximum = maximum
        self.status = status

    def extensions(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code}
        if self.limit is not None:
            extensions["limit"] = self.limit
            extensions["max"] = self.maximum
        return extensions


class GraphQLLimits(GraphQLLimitSettings):
    """The limits one view enforces: the settings' GraphQL slice (defaults and bounds live
    there, README "Configuration") plus what the profile and the schema decide: whether
    introspection is allowed, whether requests must force a CORS preflight, and which
    directives may repeat. Frozen and hashable: :func:`checked_document` caches by it."""

    introspection: bool = True
    preflight_required: bool = False
    repeatable_directives: frozenset[str] = frozenset()

    @property
    def max_nesting(self) -> int:
        """Bracket nesting the lexer allows: room for the depth limit plus arguments and
        list/object values, far below what would exhaust the parser's recursion."""
        return 2 * self.graphql_max_depth + 16

    @classmethod
    def from_settings(cls, settings: BaseModel, **overrides: Any) -> Self:
        """The limits ``settings`` configure; the ``production`` profile turns off
        introspection (and, in the app, the GraphiQL explorer) and, unless
        ``graphql_csrf_prevention`` says otherwise, requires a preflight."""
        production = getattr(settings, "profile", "default") == "production"
        overrides.setdefault("introspection", not production)
        csrf = overrides.get(
            "graphql_csrf_prevention", getattr(settings, "graphql_csrf_prevention", "auto")
        )
        overrides.setdefault("preflight_required", csrf == "on" or (csrf == "auto" and production))
        overrides.setdefault("repeatable_directives", frozenset())  # the view knows its schema
        return super().from_settings(settings, **overrides)


@dataclass(slots=True)
class DocumentStats:
    """What a document costs, counted through fragment spreads."""

    tokens: int = 0
    depth: int = 0
    aliases: int = 0
    fields: int = 0
    root_fields: int = 0
    directives: int = 0
    introspection: bool = False
    introspection_depth: int = 0
    introspection_fields: int = 0


# -- lexing and parsing -------------------------------------------------------------------


def scan_tokens(query: str, limits: GraphQLLimits) -> int:
    """Token count of ``query`` by the lexer alone; refuses too many or too deeply nested."""
    lexer = Lexer(Source(query))
    count = 0
    nesting = 0
    try:
        token = lexer.advance()
        while token.kind != TokenKind.EOF:
            count += 1
            if count > limits.graphql_max_tokens:
                raise QueryRejected(
                    "QUERY_TOO_LARGE",
                    f"the document has more than {limits.graphql_max_tokens} tokens",
                    limit="tokens",
                    maximum=limits.graphql_max_tokens,
                )
            if token.kind in _OPENING:
                nesting += 1
                if nesting > limits.max_nesting:
                    raise QueryRejected(
                        "QUERY_TOO_DEEP",
                        f"the document nests more than {limits.max_nesting} brackets deep",
                        limit="nesting",
                        maximum=limits.max_nesting,
                    )
            elif token.kind in _CLOSING:
                nesting -= 1
            token = lexer.advance()
    except GraphQLSyntaxError as exc:
        raise QueryRejected("GRAPHQL_PARSE_FAILED", exc.message) from None
    return count


def parse_limited(query: str, limits: GraphQLLimits) -> tuple[DocumentNode, int]:
    """The parsed document and its token count, after the size, token and nesting caps."""
    if len(query) > limits.graphql_max_document_bytes or (
        len(query.encode("utf-8")) > limits.graphql_max_document_bytes
    ):
        raise QueryRejected(
            "QUERY_TOO_LARGE",
            f"the document may be at most {limits.graphql_max_document_bytes} bytes",
            limit="document_bytes",
            maximum=limits.graphql_max_document_bytes,
        )
    tokens = scan_tokens(query, limits)
    try:
        # No ``max_tokens`` here: the scan above has capped the tokens already, and from
        # graphql-core 3.3 that option counts comments too, so it failed documents the cap
        # let through (comments are bounded by the byte cap instead).
        document = parse(query)
    except GraphQLSyntaxError as exc:
        raise QueryRejected("GRAPHQL_PARSE_FAILED", exc.message) from None
    except RecursionError:  # unreachable under the nesting cap; kept as the last line
        raise QueryRejected("QUERY_TOO_DEEP", "the document is nested too deeply") from None
    return document, tokens


# -- counting through fragments -----------------------------------------------------------


@dataclass(slots=True)
class _Cost:
    """A selection set's cost; what lies under ``__schema``/``__type`` goes to the
    ``introspection_*`` counts (their depth measured from the operation's root)."""

    fields: int = 0
    aliases: int = 0
    depth: int = 0
    root_fields: int = 0
    introspection: bool = False
    introspection_fields: int = 0
    introspection_depth: int = 0


@dataclass(slots=True)
class _Counter:
    """Memoised costs of selection sets, following fragment spreads with cycle detection."""

    fragments: dict[str, FragmentDefinitionNode]
    done: dict[str, _Cost] = field(default_factory=dict)
    visiting: set[str] = field(default_factory=set)

    def selection_set(self, node: SelectionSetNode | None) -> _Cost:
        cost = _Cost()
        if node is None:
            return cost
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                child = self.selection_set(selection.selection_set)
                cost.aliases += (selection.alias is not None) + child.aliases
                if selection.name.value in _INTROSPECTION_FIELDS:  # all below is introspection
                    cost.introspection = True
                    below = child.fields + child.introspection_fields
                    cost.introspection_fields += 1 + below
                    deepest = max(child.depth, child.introspection_depth)
                    cost.introspection_depth = max(cost.introspection_depth, 1 + deepest)
                    continue
                cost.fields += 1 + child.fields
                cost.depth = max(cost.depth, 1 + child.depth)
                cost.root_fields += 1
                cost.introspection |= child.introspection
                cost.introspection_fields += child.introspection_fields
                if child.introspection_depth:
                    cost.introspection_depth = max(
                        cost.introspection_depth, 1 + child.introspection_depth
                    )
                continue
            if isinstance(selection, FragmentSpreadNode):
                child = self.fragment(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                child = self.selection_set(selection.selection_set)
            else:  # pragma: no cover - graphql-core has no other selection kinds
                continue
            cost.fields += child.fields
            cost.aliases += child.aliases
            cost.depth = max(cost.depth, child.depth)
            cost.root_fields += child.root_fields
            cost.introspection |= child.introspection
            cost.introspection_fields += child.introspection_fields
            cost.introspection_depth = max(cost.introspection_depth, child.introspection_depth)
        return cost

    def fragment(self, name: str) -> _Cost:
        known = self.done.get(name)
        if known is not None:
            return known
        if name in self.visiting:
            raise QueryRejected("CIRCULAR_FRAGMENT", f'fragment "{name}" spreads itself')
        definition = self.fragments.get(name)
        if definition is None:
            return _Cost()  # unknown fragment: validation reports it
        self.visiting.add(name)
        cost = self.selection_set(definition.selection_set)
        self.visiting.discard(name)
        self.done[name] = cost
        return cost


def _count_directives(document: DocumentNode, repeatable: frozenset[str]) -> int:
    """Directive uses anywhere in the document, as written (iterative walk); a directive
    used twice on one node is refused unless it is ``repeatable``."""
    count = 0
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        directives = getattr(node, "directives", None) or ()
        count += len(directives)
        if len(directives) > 1:
            _refuse_repeated(directives, repeatable)
        stack.extend(getattr(node, "variable_definitions", None) or ())
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count


def _refuse_repeated(directives: Any, repeatable: frozenset[str]) -> None:
    seen: set[str] = set()
    for directive in directives:
        name = directive.name.value
        if name in seen and name not in repeatable:
            # graphql-core's own wording (UniqueDirectivesPerLocationRule), said once.
            raise QueryRejected(
                "GRAPHQL_VALIDATION_FAILED",
                f"The directive '@{name}' can only be used once at this location.",
            )
        seen.add(name)


def _measure(document: DocumentNode, repeatable: frozenset[str] = frozenset()) -> DocumentStats:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    counter = _Counter(fragments)
    stats = DocumentStats(directives=_count_directives(document, repeatable))
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            cost = counter.selection_set(definition.selection_set)
            stats.fields += cost.fields
            stats.aliases += cost.aliases
            stats.depth = max(stats.depth, cost.depth)
            stats.root_fields = max(stats.root_fields, cost.root_fields)
            stats.introspection |= cost.introspection
            stats.introspection_fields += cost.introspection_fields
            stats.introspection_depth = max(stats.introspection_depth, cost.introspection_depth)
    # Fragments no operation uses are still validated (and then refused): count their
    # fields so they cannot carry the duplicated-field attack past the cap either.
    used = set(counter.done)
    for name in fragments:
        if name not in used:
            unused = counter.fragment(name)
            stats.fields += unused.fields
            stats.introspection_fields += unused.introspection_fields
    return stats


def check_document(document: DocumentNode, limits: GraphQLLimits, tokens: int) -> DocumentStats:
    """Measure ``document`` and raise :class:`QueryRejected` on the first limit it passes."""
    stats = _measure(document, limits.repeatable_directives)
    stats.tokens = tokens
    if stats.introspection and not limits.introspection:
        raise QueryRejected("INTROSPECTION_DISABLED", "introspection is disabled on this server")
    _at_most("depth", stats.depth, limits.graphql_max_depth, "QUERY_TOO_DEEP")
    _at_most("aliases", stats.aliases, limits.graphql_max_aliases, "QUERY_TOO_COMPLEX")
    _at_most("fields", stats.fields, limits.graphql_max_fields, "QUERY_TOO_COMPLEX")
    _at_most("root_fields", stats.root_fields, limits.graphql_max_root_fields, "QUERY_TOO_COMPLEX")
    _at_most("directives", stats.directives, limits.graphql_max_directives, "QUERY_TOO_COMPLEX")
    _at_most(
        "introspection_depth",
        stats.introspection_depth,
        limits.graphql_introspection_max_depth,
        "QUERY_TOO_DEEP",
    )
    _at_most(
        "introspection_fields",
        stats.introspection_fields,
        limits.graphql_introspection_max_fields,
        "QUERY_TOO_COMPLEX",
    )
    return stats


def _at_most(limit: str, value: int, maximum: int, code: str) -> None:
    if value > maximum:
        label = limit.replace("_", " ")
        raise QueryRejected(
            code,
            f"the document has {value} {label}, at most {maximum} allowed",
            limit=limit,
            maximum=maximum,
        )


@lru_cache(maxsize=256)
def checked_document(query: str, limits: GraphQLLimits) -> DocumentNode:
    """``query`` parsed and within ``limits``, else :class:`QueryRejected`.

    Clients send the same few documents with different variables, and lexing plus parsing
    costs about 1 ms, so accepted documents are remembered (refusals are not: they are
    recomputed, at a cost the caps bound). Callers must not mutate the returned AST.
    """
    document, tokens = parse_limited(query, limits)
    check_document(document, limits, tokens)
    return document
