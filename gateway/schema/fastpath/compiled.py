"""Compiled GraphQL execution: project resolved objects without per-field resolver calls.

graphql-core resolves every field of every object through the same general machinery
(resolve info, argument coercion, middleware, completion, path bookkeeping): about 3 µs a
field, and a 50-NFT page with every field selected has ~1,900 of them. Almost all of those
fields are plain attributes of objects a resolver already built (``NFTPage``, ``Asset``,
``NFT``...), so that machinery decides nothing.

:class:`ProjectingExecutor` keeps graphql-core for everything that decides something
(variable coercion, fields with resolvers and arguments such as ``wallet`` and ``nfts``,
errors and null propagation) and replaces only the *completion of plain subtrees*: when a
field's value is an object whose whole selection below consists of plain attribute fields,
it runs a projector generated once for that selection (Python source compiled with
``exec``: one straight-line function per object selection, no per-field calls). The
projector checks every value it emits; on anything unexpected (a ``None`` in a non-null
field, a value of another type, an ``Int`` out of range) it gives up and graphql-core
completes that subtree instead, so errors, messages and paths are graphql-core's own.

Projectors are cached per parsed operation (strawberry's ``ParserCache`` keeps one parsed
document per query text, so this is "per document text and operation") and per outcome of
the ``@include``/``@skip`` directives. Anything the compiler does not handle (abstract
types, custom directives, fields with resolvers, permission classes or field extensions,
per-field schema extensions) is simply not projected.

:class:`CompiledSchema` is ``strawberry.Schema`` with this executor and parse and
validation caches (:class:`DocumentCache`), and it logs only the gateway's own faults as
errors (:mod:`gateway.schema.errors`); the HTTP view is unchanged.
``tests/gateway/test_compiled_graphql.py`` runs generated documents through both paths and
compares the JSON.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache, partial
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLIncludeDirective,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLSkipDirective,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    get_named_type,
    parse,
)
from graphql.execution.values import get_directive_values
from graphql.utilities import type_from_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext, validate_document
from strawberry.types import ExecutionContext
from strawberry.types.base import StrawberryObjectDefinition

from gateway.schema.errors import log_errors

__all__ = [
    "CompiledSchema",
    "DocumentCache",
    "ProjectingExecutor",
    "compile_projector",
    "prepared_document",
]

# Operations whose projectors are kept (least recently used goes first).
MAX_CACHED_OPERATIONS = 512
PARSE_CACHE_SIZE = 512
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

Projector = Callable[[Any], Any]


class _Fallback(Exception):
    """Raised by a projector: let graphql-core complete this subtree."""


class _Unsupported(Exception):
    """Raised by the compiler: this selection is never projected."""


class CompiledSchema(strawberry.Schema):
    """``strawberry.Schema`` executing through :class:`ProjectingExecutor`, with parse and
    validation caches (:class:`DocumentCache`; the projector cache is keyed by the parsed
    operation)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("execution_context_class", ProjectingExecutor)
        kwargs.setdefault("extensions", [DocumentCache])
        super().__init__(*args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Not strawberry's default (every error at ERROR with a traceback): client errors
        # are answers, only the gateway's own faults are logged as errors.
        log_errors(errors)


# The document the HTTP view has already parsed (and checked against its limits) for the
# request being executed: (query text, document). See :func:`prepared_document`.
_prepared: ContextVar[tuple[str, DocumentNode] | None] = ContextVar(
    "nftgw_prepared_document", default=None
)
_parse = lru_cache(maxsize=PARSE_CACHE_SIZE)(parse)


@contextmanager
def prepared_document(query: str, document: DocumentNode) -> Iterator[None]:
    """Within this block, executing ``query`` uses ``document`` instead of parsing it again
    (the view's limits check parses every document before Strawberry does)."""
    token = _prepared.set((query, document))
    try:
        yield
    finally:
        _prepared.reset(token)


class DocumentCache(SchemaExtension):
    """Parse each document once, validate it once.

    Strawberry's ``ParserCache`` and ``ValidationCache`` do the same work in two more
    costly ways: the first parses a document the view's limits check has just parsed,
    the second keys its cache by the document's *hash*, which graphql-core computes over
    the whole tree on every request (a tenth of a warm page). Here the parse is the view's
    (or a cached one, for direct ``execute`` calls), and validation is keyed by the parsed
    document's identity, which the parse caches keep stable per query text.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query is not None:
            prepared = _prepared.get()
            if prepared is not None and prepared[0] == context.query:
                context.graphql_document = prepared[1]
            else:
                context.graphql_document = _parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = _validated(
                context.schema._schema, document, tuple(context.validation_rules)
            )
        yield


_validations: OrderedDict[tuple[int, int, tuple[Any, ...]], tuple[Any, ...]] = OrderedDict()


def _validated(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[Any, ...]
) -> list[GraphQLError]:
    """graphql-core's validation errors for ``document``, computed once per document."""
    key = (id(schema), id(document), rules)
    entry = _validations.get(key)
    if entry is not None and entry[0] is schema and entry[1] is document:
        _validations.move_to_end(key)
        errors: list[GraphQLError] = entry[2]
        return errors
    errors = validate_document(schema, document, rules)
    _validations[key] = (schema, document, errors)  # both kept alive: their ids stay unique
    while len(_validations) > MAX_CACHED_OPERATIONS:
        _validations.popitem(last=False)
    return errors


class ProjectingExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with plain object subtrees completed by a projector."""

    _directive_key: tuple[bool, ...] | None = None

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if (
            result is not None
            and not isinstance(result, Exception)
            and isinstance(get_named_type(return_type), GraphQLObjectType)
        ):
            projector = self._projector(return_type, field_details_list, info)
            if projector is not None:
                try:
                    return projector(result)
                except Exception:  # noqa: S110 - any surprise: graphql-core decides
                    pass
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _projector(
        self, return_type: GraphQLOutputType, field_details_list: Any, info: Any
    ) -> Projector | None:
        middleware = self.middleware_manager
        if middleware is not None and middleware.middlewares:
            return None  # per-field extensions must see every field
        if any(details.fragment_variable_values is not None for details in field_details_list):
            return None
        nodes = tuple(details.node for details in field_details_list)
        plans = _plans_for(self.operation, self._directives(), self.schema)
        key = (info.parent_type.name, *map(id, nodes))
        entry = plans.get(key)
        if entry is None:
            include = partial(_included, variables=self.variable_values)
            try:
                projector: Projector | None = compile_projector(
                    self.schema, return_type, nodes, self.fragment_definitions, include
                )
            except _Unsupported:
                projector = None
            entry = plans[key] = (nodes, projector)  # nodes kept alive: their ids stay unique
        return entry[1]

    def _directives(self) -> tuple[bool, ...]:
        """Every ``@include``/``@skip`` outcome in the document, for this request."""
        key = self._directive_key
        if key is None:
            nodes = _directive_nodes(self.operation, self.fragment_definitions)
            key = self._directive_key = tuple(
                _included(node, variables=self.variable_values) for node in nodes
            )
        return key


# -- the projector cache ------------------------------------------------------------------

_PlanCache = dict[tuple[Any, ...], tuple[tuple[FieldNode, ...], Projector | None]]
_operations: OrderedDict[int, tuple[OperationDefinitionNode, dict[tuple[bool, ...], _PlanCache]]]
_operations = OrderedDict()
_directive_nodes_cache: dict[int, tuple[OperationDefinitionNode, tuple[Any, ...]]] = {}


def _plans_for(
    operation: OperationDefinitionNode, directives: tuple[bool, ...], schema: GraphQLSchema
) -> _PlanCache:
    entry = _operations.get(id(operation))
    if entry is None or entry[0] is not operation:
        entry = _operations[id(operation)] = (operation, {})
        while len(_operations) > MAX_CACHED_OPERATIONS:
            _operations.popitem(last=False)
    else:
        _operations.move_to_end(id(operation))
    return entry[1].setdefault(directives, {})


def _directive_nodes(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[Any, ...]:
    """The selections carrying directives, in a fixed order (cached per operation)."""
    cached = _directive_nodes_cache.get(id(operation))
    if cached is not None and cached[0] is operation:
        return cached[1]
    found: list[Any] = []
    sets = [operation.selection_set, *(f.selection_set for f in fragments.values())]
    while sets:
        selection_set = sets.pop()
        for selection in selection_set.selections:
            if selection.directives:
                found.append(selection)
            child = getattr(selection, "selection_set", None)
            if child is not None:
                sets.append(child)
    if len(_directive_nodes_cache) > MAX_CACHED_OPERATIONS:
        _directive_nodes_cache.clear()
    _directive_nodes_cache[id(operation)] = (operation, tuple(found))
    return tuple(found)


def _included(node: Any, *, variables: Any) -> bool:
    """graphql-core's rule: ``@skip`` wins over ``@include``; values as coerced."""
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip["if"] is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include["if"] is False)


# -- the compiler -------------------------------------------------------------------------


def compile_projector(
    schema: GraphQLSchema,
    return_type: GraphQLOutputType,
    nodes: Sequence[FieldNode],
    fragments: dict[str, FragmentDefinitionNode],
    include: Callable[[Any], bool],
) -> Projector:
    """A function completing a value of ``return_type`` for the selection of ``nodes``.

    Raises :class:`_Unsupported` when some part of the selection cannot be projected.
    """
    compiler = _Compiler(schema, fragments, include)
    name = compiler.value_function(return_type, nodes)
    namespace = compiler.namespace
    exec("\n".join(compiler.lines), namespace)  # noqa: S102 - our own generated source
    projector: Projector = namespace[name]
    return projector


class _Compiler:
    """Generates Python source: one function per object selection and per list."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        include: Callable[[Any], bool],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.include = include
        strawberry_schema: Any = getattr(schema, "_strawberry_schema", None)
        if strawberry_schema is None:
            raise _Unsupported("not a strawberry schema")
        self.strawberry = strawberry_schema
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"_FB": _Fallback, "_isfinite": math.isfinite}
        self._ids = itertools.count()

    def _name(self, prefix: str, value: Any = None) -> str:
        name = f"_{prefix}{next(self._ids)}"
        if value is not None:
            self.namespace[name] = value
        return name

    # value functions take a value (maybe None) and return its completed form

    def value_function(self, type_: GraphQLOutputType, nodes: Sequence[FieldNode]) -> str:
        name = self._name("v")
        self.lines += [
            f"def {name}(v):",
            *(f"    {line}" for line in self.complete("v", type_, nodes)),
        ]
        self.lines.append("    return v")
        return name

    def complete(self, var: str, type_: GraphQLOutputType, nodes: Sequence[FieldNode]) -> list[str]:
        """Statements that check ``var`` and rebind it to its completed value."""
        if isinstance(type_, GraphQLNonNull):
            return [f"if {var} is None: raise _FB", *self.complete_inner(var, type_.of_type, nodes)]
        inner = self.complete_inner(var, type_, nodes)
        if not inner:
            return []
        return [f"if {var} is not None:", *(f"    {line}" for line in inner)]

    def complete_inner(self, var: str, type_: Any, nodes: Sequence[FieldNode]) -> list[str]:
        """``var`` is not None here."""
        if isinstance(type_, GraphQLList):
            return [f"{var} = {self.list_function(type_.of_type, nodes)}({var})"]
        if isinstance(type_, GraphQLObjectType):
            return [f"{var} = {self.object_function(type_, nodes)}({var})"]
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return self.leaf(var, type_)
        raise _Unsupported(f"type {type_} is not projected")

    def leaf(self, var: str, type_: GraphQLScalarType | GraphQLEnumType) -> list[str]:
        if type_ is GraphQLString or type_ is GraphQLID:
            return [f"if {var}.__class__ is not str: raise _FB"]
        if type_ is GraphQLBoolean:
            return [f"if {var}.__class__ is not bool: raise _FB"]
        if type_ is GraphQLInt:
            return [
                f"if {var}.__class__ is not int or not {_INT_MIN} <= {var} <= {_INT_MAX}:",
                "    raise _FB",
            ]
        if type_ is GraphQLFloat:
            return [
                f"if {var}.__class__ is int: {var} = float({var})",
                f"if {var}.__class__ is not float or not _isfinite({var}): raise _FB",
            ]
        # enums and custom scalars: their own serialize, checked as graphql-core does
        serialize = self._name("ser", type_.serialize)
        undefined = self._name("undef", Undefined)
        return [
            f"{var} = {serialize}({var})",
            f"if {var} is None or {var} is {undefined}: raise _FB",
        ]

    def list_function(self, item_type: Any, nodes: Sequence[FieldNode]) -> str:
        name = self._name("l")
        body = self.complete("x", item_type, nodes)
        self.lines += [
            f"def {name}(seq):",
            "    if seq.__class__ is not list and seq.__class__ is not tuple: raise _FB",
            "    out = []",
            "    append = out.append",
            "    for x in seq:",
            *(f"        {line}" for line in body),
            "        append(x)",
            "    return out",
        ]
        return name

    def object_function(self, type_: GraphQLObjectType, nodes: Sequence[FieldNode]) -> str:
        definition = self.strawberry.get_type_by_name(type_.name)
        if not isinstance(definition, StrawberryObjectDefinition):
            raise _Unsupported(f"{type_.name} has no strawberry definition")
        plain = _plain_fields(self.strawberry, definition)
        grouped = self.collect(type_, nodes)
        statements: list[str] = []
        items: list[str] = []
        for index, (key, field_nodes) in enumerate(grouped.items()):
            field_name = field_nodes[0].name.value
            if field_name == "__typename":
                items.append(f"{key!r}: {type_.name!r}")
                continue
            if any(node.arguments for node in field_nodes) or field_name not in plain:
                raise _Unsupported(f"{type_.name}.{field_name} has a resolver or arguments")
            var = f"f{index}"
            statements.append(f"{var} = s.{plain[field_name]}")
            statements += self.complete(var, type_.fields[field_name].type, field_nodes)
            items.append(f"{key!r}: {var}")
        name = self._name("o")
        cls = self._name("cls", definition.origin)
        self.lines += [
            f"def {name}(s):",
            f"    if s.__class__ is not {cls}: raise _FB",
            *(f"    {line}" for line in statements),
            "    return {" + ", ".join(items) + "}",
        ]
        return name

    def collect(
        self, type_: GraphQLObjectType, nodes: Sequence[FieldNode]
    ) -> dict[str, list[FieldNode]]:
        """The sub-fields of ``nodes`` on ``type_`` by response key, as graphql-core
        collects them (first appearance order, fragments and directives applied)."""
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for node in nodes:
            if node.selection_set is not None:
                self._collect(type_, node.selection_set, grouped, visited)
        return grouped

    def _collect(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            _check_directives(selection)
            if isinstance(selection, FieldNode):
                if self.include(selection):
                    key = selection.alias.value if selection.alias else selection.name.value
                    grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self.include(selection) and self._matches(selection, type_):
                    self._collect(type_, selection.selection_set, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited or not self.include(selection):
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is None or not self._matches(fragment, type_):
                    continue
                if fragment.variable_definitions:
                    raise _Unsupported("fragment arguments")
                self._collect(type_, fragment.selection_set, grouped, visited)
            else:
                raise _Unsupported(f"selection {selection.kind}")

    def _matches(
        self, fragment: InlineFragmentNode | FragmentDefinitionNode, type_: GraphQLObjectType
    ) -> bool:
        condition = fragment.type_condition
        if condition is None:
            return True
        conditional = type_from_ast(self.schema, condition)
        if conditional is type_:
            return True
        if isinstance(conditional, GraphQLObjectType) or conditional is None:
            return False
        raise _Unsupported("abstract type conditions")


def _check_directives(selection: Any) -> None:
    for directive in selection.directives or ():
        if directive.name.value not in ("include", "skip"):
            raise _Unsupported(f"directive @{directive.name.value}")


_plain_cache: dict[int, tuple[StrawberryObjectDefinition, dict[str, str]]] = {}


def _plain_fields(strawberry_schema: Any, definition: StrawberryObjectDefinition) -> dict[str, str]:
    """GraphQL name -> Python attribute, for fields strawberry resolves with ``getattr``."""
    cached = _plain_cache.get(id(definition))
    if cached is not None and cached[0] is definition:
        return cached[1]
    default_resolver = strawberry_schema.config.default_resolver
    names: dict[str, str] = {}
    if default_resolver is getattr:
        for field in definition.fields:
            if (
                field.base_resolver is None
                and not field.permission_classes
                and not field.extensions
                and not field.arguments
                and not field.directives
            ):
                names[strawberry_schema.config.name_converter.get_graphql_name(field)] = (
                    field.python_name
                )
    _plain_cache[id(definition)] = (definition, names)
    return names
