"""Two more OpenSea API v2 routes for the emulator: collection stats and metadata refresh.

Written from the 2026-07 OpenAPI document (``specs/opensea-v2-2026-07.full.json``):

* ``GET /api/v2/collections/{slug}/stats`` (``get_collection_stats``) answers a
  ``CollectionStatsResponse``: ``total`` with ``volume``, ``sales``, ``num_owners``,
  ``floor_price`` (a number) and ``floor_price_symbol``, and an ``intervals`` list;
  an unknown slug is a 404 with an ``errors`` list;
* ``POST /api/v2/chain/{chain}/contract/{address}/nfts/{identifier}/refresh``
  (``refresh_nft_metadata``) answers 200 with a bare string (the spec's schema is
  ``type: string``); an NFT OpenSea does not know is a 404. GET on it is a 405, as on any
  route that declares only POST.

Split from :mod:`providers.sandbox.opensea` to keep each module readable; it renders the
world's own floor (:attr:`SandboxCollection.floor_price`), with OpenSea's symbol.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from providers.sandbox.responses import JSONResponse
from providers.sandbox.tables import lower_evm_address, opensea_chain
from providers.sandbox.world import World

__all__ = ["stats_and_refresh_routes"]

REFRESH_QUEUED = "Successfully submitted refresh request."


def stats_and_refresh_routes(world: World) -> list[Route]:
    async def stats(request: Request) -> Response:
        collection = world.collection_by_slug(request.path_params["slug"])
        if collection is None:
            return _errors(404, "collection not found")
        floor = collection.floor_price
        total = {
            "volume": round((floor or 0.0) * 420, 4),
            "sales": 420,
            "num_owners": max(1, collection.total_supply // 3),
            # No listing, no floor: OpenSea sends 0 (the field is required).
            "floor_price": floor if floor is not None else 0,
            "floor_price_symbol": collection.floor_currency,
        }
        intervals = [
            {"interval": name, "volume": 0.0, "volume_diff": 0.0, "volume_change": 0.0,
             "sales": 0, "sales_diff": 0, "average_price": 0.0}
            for name in ("one_day", "seven_day", "thirty_day")
        ]  # fmt: skip
        return JSONResponse({"total": total, "intervals": intervals})

    async def refresh(request: Request) -> Response:
        chain = opensea_chain(request.path_params["chain"])
        contract = lower_evm_address(request.path_params["address"])
        if chain is None or contract is None:
            return _errors(400, "chain or address is not valid")
        nft = world.nft(chain, contract, request.path_params["identifier"])
        if nft is None or not nft.in_opensea:
            return _errors(404, "not found")
        return PlainTextResponse(REFRESH_QUEUED)

    return [
        Route("/api/v2/collections/{slug}/stats", stats),
        Route(
            "/api/v2/chain/{chain}/contract/{address}/nfts/{identifier}/refresh",
            refresh,
            methods=["POST"],
        ),
    ]


def _errors(status: int, *messages: str) -> Response:
    return JSONResponse({"errors": list(messages)}, status_code=status)
