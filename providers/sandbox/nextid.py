"""Emulator of the Next.ID Proof Service (UPSTREAMS.md §4), serving the sandbox personas.

``GET /v1/proof`` follows the real query semantics: ``identity`` is required (a comma list is
allowed); without ``exact=true`` it is a case-insensitive substring match on ``identity`` and
``alt_id``; ``platform`` filters (``nextid`` means "identity is a persona key"). Matching proof
*rows* are paged 40 at a time (``pagination.total`` counts rows), each page grouped per
persona with **all** of that persona's proofs, so a persona can appear on two pages.
Timestamps are strings of Unix seconds. Errors are ``{"message": ...}``.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from providers.sandbox.faults import Emulator, FaultInjector, FaultSwitches
from providers.sandbox.identities import Identities, Persona, Proof, identities
from providers.sandbox.responses import JSONResponse
from providers.sandbox.tables import NEXTID_PLATFORMS

__all__ = ["PER_PAGE", "nextid_emulator"]

PER_PAGE = 40  # the server's PER_PAGE (its docs show 10)
_TRUE = frozenset({"true", "1", "t"})


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _matches(value: str, queries: list[str], exact: bool) -> bool:
    value = value.lower()
    return any(value == q if exact else q in value for q in queries)


def _proof_rows(
    data: Identities, queries: list[str], platform: str, exact: bool
) -> list[tuple[Persona, Proof]]:
    rows: list[tuple[Persona, Proof]] = []
    for persona in data.personas:
        if platform == "nextid":
            if _matches(persona.public_key, queries, exact):
                rows += [(persona, proof) for proof in persona.proofs]
            continue
        for proof in persona.proofs:
            if platform and proof.platform != platform:
                continue
            if _matches(proof.identity, queries, exact) or (
                proof.alt_id and _matches(proof.alt_id, queries, exact)
            ):
                rows.append((persona, proof))
    return rows


def _proof_json(proof: Proof) -> dict[str, Any]:
    return {
        "platform": proof.platform,
        "identity": proof.identity,
        "alt_id": proof.alt_id,
        "created_at": str(proof.created_at),
        "last_checked_at": str(proof.last_checked_at),
        "is_valid": proof.is_valid,
        "invalid_reason": proof.invalid_reason,
    }


def _persona_json(persona: Persona) -> dict[str, Any]:
    return {
        "persona": persona.public_key,
        "avatar": persona.public_key,
        "alias": list(persona.alias),
        "last_arweave_id": persona.last_arweave_id,
        "activated_at": str(persona.activated_at),
        "proofs": [_proof_json(proof) for proof in persona.proofs],
    }


def _page_number(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return 1
    return int(raw) if raw.isdigit() and int(raw) >= 1 else None


class _ProofService:
    def __init__(self, data: Identities) -> None:
        self.data = data

    async def query(self, request: Request) -> JSONResponse:
        params = request.query_params
        queries = [q.strip().lower() for q in params.get("identity", "").split(",") if q.strip()]
        if not queries:
            return _error(400, "Param missing")
        page = _page_number(params.get("page"))
        if page is None:
            return _error(400, "Param error")
        exact = params.get("exact", "").lower() in _TRUE
        rows = _proof_rows(self.data, queries, params.get("platform", "").lower(), exact)
        if params.get("order", "desc").lower() != "asc":
            rows.reverse()  # default order is newest row first
        chunk = rows[(page - 1) * PER_PAGE : page * PER_PAGE]
        personas = list(dict.fromkeys(persona for persona, _ in chunk))
        more = page * PER_PAGE < len(rows)
        pagination = {
            "total": len(rows),
            "per": PER_PAGE,
            "current": page,
            "next": page + 1 if more else 0,
        }
        return JSONResponse({"pagination": pagination, "ids": [_persona_json(p) for p in personas]})

    async def exists(self, request: Request) -> JSONResponse:
        params = request.query_params
        platform, identity = params.get("platform", ""), params.get("identity", "").lower()
        persona = self.data.persona(params.get("public_key", ""))
        if not (platform and identity and params.get("public_key")):
            return _error(400, "Param missing")
        proofs = persona.proofs if persona else ()
        proof = next(
            (p for p in proofs if p.platform == platform and p.identity.lower() == identity), None
        )
        if proof is None:
            return _error(404, "record not found")
        body = _proof_json(proof)
        return JSONResponse(
            {k: body[k] for k in ("created_at", "last_checked_at", "is_valid", "invalid_reason")}
        )

    async def healthz(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "hello": "proof service",
                "built_at": "0",
                "revision": "sandbox",
                "environment": "sandbox",
                "platforms": list(NEXTID_PLATFORMS),
            }
        )


def nextid_emulator(data: Identities | None = None) -> Emulator:
    """The Next.ID Proof Service emulator (name ``"nextid"``) over ``data``."""
    service = _ProofService(data if data is not None else identities())
    routes = [
        Route("/v1/proof", service.query, methods=["GET"]),
        Route("/v1/proof/exists", service.exists, methods=["GET"]),
        Route("/healthz", service.healthz, methods=["GET"]),
    ]
    switches = FaultSwitches()
    return Emulator("nextid", FaultInjector(Starlette(routes=routes), switches), switches)
