"""The emulators' JSON answers, encoded by orjson.

An emulator answers every call of a test or a bench run in one process, one after another:
what it spends encoding is time a gateway's concurrent calls wait in its queue, which no
vendor's fleet of servers makes them wait. Starlette's ``JSONResponse`` encodes with the
standard library: 40% of an Alchemy list answer's 2.1 ms in the emulator server here
(getNFTsForOwner, 18 NFTs, 52 KB). orjson writes the same compact UTF-8 JSON; what it
refuses (an integer past 64 bits, as a quirk fixture may send) is left to Starlette's
encoder, so every body the emulators could send before they still send.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette import responses

__all__ = ["JSONResponse"]


class JSONResponse(responses.JSONResponse):
    """Starlette's ``JSONResponse``, encoded by orjson where orjson can."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # orjson.JSONEncodeError: a big integer, a non-string key
            return super().render(content)
