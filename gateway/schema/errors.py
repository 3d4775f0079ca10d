"""Which GraphQL errors are the client's and which are ours, and how each is logged.

Strawberry's default ``Schema.process_errors`` logs every error of every answer at
``ERROR`` with a traceback, so a client sending a misspelt field or a malformed address
would flood the error log with stack traces of code that worked exactly as it should. The
schema (:class:`gateway.schema.fastpath.compiled.CompiledSchema`) logs through :func:`log_errors`
instead:

* **expected** errors (:func:`is_expected`): the gateway's own
  :class:`~gateway.errors.GatewayError` (bad input, an upstream down: already answered with
  its code), graphql-core's parse and validation errors, and its verdicts on input values
  (``BAD_USER_INPUT``): one ``DEBUG`` line each, no traceback;
* everything else is a fault of the gateway: ``ERROR`` with the traceback. It is exactly
  what the HTTP view masks as ``INTERNAL`` (:func:`gateway.schema.view.error_json` uses the
  same classification), so every masked error is logged once, where it happened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from graphql import GraphQLError, ValueNode

from gateway.errors import GatewayError

__all__ = ["UNEXPECTED_MESSAGE", "is_expected", "is_input_error", "log_errors"]

logger = logging.getLogger(__name__)

UNEXPECTED_MESSAGE = "unexpected error in a resolver"


def is_expected(error: GraphQLError) -> bool:
    """Whether ``error`` is an answer to the client's request rather than a gateway fault."""
    original = error.original_error
    return (
        original is None  # parse and validation errors
        or isinstance(original, GatewayError)
        or is_input_error(error, original)
    )


def is_input_error(error: GraphQLError, original: Exception) -> bool:
    """Whether graphql-core refused a value the client sent, in its own words.

    * A variable that is missing, null for a non-null type, or of the wrong type: a request
      error (no path: nothing ran), reported at the variable's definition.
    * An argument whose value cannot be coerced at execution (``null`` through a nullable
      variable with a default, into a non-null argument): reported at the value node.

    Output values that fail to serialise also carry a ``GraphQLError``, but at no input
    node: those stay unexpected.
    """
    if not isinstance(original, GraphQLError):
        return False
    if not error.path:
        return True
    return any(isinstance(node, ValueNode) for node in original.nodes or ())


def log_errors(errors: Iterable[GraphQLError]) -> None:
    """Log one answer's errors: client errors quietly, gateway faults loudly."""
    for error in errors:
        if is_expected(error):
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("GraphQL client error: %s (path %s)", error.message, error.path)
            continue
        logger.error(
            "%s: %s (path %s)",
            UNEXPECTED_MESSAGE,
            error.message,
            error.path,
            exc_info=error.original_error or error,
        )
