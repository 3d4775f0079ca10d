"""The projector compiler: Python source for completing one object selection.

:func:`compile_projector` turns a selection (fields, fragments, ``@include``/``@skip``
already decided) on an object type into one straight-line function per object selection
and per list, compiled with ``exec``. The generated code checks every value it emits and
raises :class:`Fallback` on anything unexpected, so the caller
(:class:`gateway.schema.fastpath.compiled.ProjectingExecutor`) lets graphql-core complete
that subtree instead; a selection it cannot project at all raises :class:`Unsupported`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
)
from graphql.utilities import type_from_ast
from strawberry.types.base import StrawberryObjectDefinition

__all__ = ["Fallback", "Projector", "Unsupported", "compile_projector"]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

Projector = Callable[[Any], Any]


class Fallback(Exception):
    """Raised by a projector: let graphql-core complete this subtree."""


class Unsupported(Exception):
    """Raised by the compiler: this selection is never projected."""


def compile_projector(
    schema: GraphQLSchema,
    return_type: GraphQLOutputType,
    nodes: Sequence[FieldNode],
    fragments: dict[str, FragmentDefinitionNode],
    include: Callable[[Any], bool],
) -> Projector:
    """A function completing a value of ``return_type`` for the selection of ``nodes``.

    Raises :class:`Unsupported` when some part of the selection cannot be projected.
    """
    compiler = _Compiler(schema, fragments, include)
    name = compiler.value_function(return_type, nodes)
    namespace = compiler.namespace
    exec("\n".join(compiler.lines), namespace)  # our own generated source
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
            raise Unsupported("not a strawberry schema")
        self.strawberry = strawberry_schema
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"_FB": Fallback, "_isfinite": math.isfinite}
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
        raise Unsupported(f"type {type_} is not projected")

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
            raise Unsupported(f"{type_.name} has no strawberry definition")
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
                raise Unsupported(f"{type_.name}.{field_name} has a resolver or arguments")
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
                    raise Unsupported("fragment arguments")
                self._collect(type_, fragment.selection_set, grouped, visited)
            else:
                raise Unsupported(f"selection {selection.kind}")

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
        raise Unsupported("abstract type conditions")


def _check_directives(selection: Any) -> None:
    for directive in selection.directives or ():
        if directive.name.value not in ("include", "skip"):
            raise Unsupported(f"directive @{directive.name.value}")


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
