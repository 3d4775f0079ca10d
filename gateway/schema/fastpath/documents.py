"""Parse each GraphQL document once, validate it once.

Strawberry's ``ParserCache`` and ``ValidationCache`` do the same work in two more costly
ways: the first parses a document the view's limits check has just parsed, the second keys
its cache by the document's *hash*, which graphql-core computes over the whole tree on
every request (a tenth of a warm page). :class:`DocumentCache` takes the view's parse from
the request's context (:class:`ParsedDocument`, carried as ``Context.parsed``; a cached
parse for direct ``execute`` calls) and keys validation by the parsed document's identity,
which the parse caches keep stable per query text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

__all__ = ["DocumentCache", "ParsedDocument"]

PARSE_CACHE_SIZE = 512
MAX_CACHED_VALIDATIONS = 512

_parse = lru_cache(maxsize=PARSE_CACHE_SIZE)(parse)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A query text and its document, parsed (and checked) before the execution."""

    query: str
    document: DocumentNode


class DocumentCache(SchemaExtension):
    """Parse each document once (the view's, else a cached parse), validate it once."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query is not None:
            parsed = getattr(context.context, "parsed", None)  # gateway.schema.context.Context
            if isinstance(parsed, ParsedDocument) and parsed.query == context.query:
                context.graphql_document = parsed.document
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
    while len(_validations) > MAX_CACHED_VALIDATIONS:
        _validations.popitem(last=False)
    return errors
