"""The GraphQL HTTP endpoint: Strawberry's ASGI view with our context and error shapes.

Expected errors (bad input, unknown names, all providers down) keep their message and get
``extensions.code``; anything unexpected is logged and masked as ``INTERNAL``, so no
traceback or upstream detail reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from gateway.errors import GatewayError
from gateway.schema.context import Context

__all__ = ["GraphQLView", "error_json"]

logger = logging.getLogger(__name__)


class GraphQLView(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.app.state
        return Context(settings=state.settings, nft_service=state.nft_service)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            data["errors"] = [error_json(error) for error in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data


def error_json(error: GraphQLError) -> dict[str, Any]:
    """A GraphQL error as the client sees it, always with ``extensions.code``."""
    original = error.original_error
    payload = error.formatted
    if isinstance(original, GatewayError):
        payload["message"] = original.message
        payload["extensions"] = {
            "code": original.code,
            **({"field": original.field} if original.field else {}),
        }
        return dict(payload)
    if original is None:
        payload["extensions"] = {"code": "GRAPHQL_VALIDATION_FAILED", **(error.extensions or {})}
        return dict(payload)
    logger.error("unexpected error in a resolver", exc_info=original)
    payload["message"] = "Internal server error"
    payload["extensions"] = {"code": "INTERNAL"}
    return dict(payload)
