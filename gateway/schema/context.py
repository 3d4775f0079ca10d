"""What every resolver gets: the services and settings, built once in the app lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.service import NFTService
from gateway.settings import Settings

__all__ = ["Context"]


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    nft_service: NFTService
