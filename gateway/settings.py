"""Settings: one typed object, read from ``NFTGW_*`` environment variables once.

This is the only module that reads the environment. Everything else receives a
:class:`Settings` (or a slice of it) from the app factory.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from providers.models import Chain

__all__ = ["DEFAULT_FIELD_PRIORITY", "Settings"]

# Which provider wins each merged field, best first. OpenSea owns its slugs and ranks;
# Alchemy's list payload carries balances, media from its CDN and the token's own traits.
DEFAULT_FIELD_PRIORITY: dict[str, list[str]] = {
    "token_standard": ["alchemy", "opensea"],
    "name": ["opensea", "alchemy"],
    "description": ["opensea", "alchemy"],
    "image": ["alchemy", "opensea"],
    "animation_url": ["alchemy", "opensea"],
    "collection_name": ["opensea", "alchemy"],
    "collection_slug": ["opensea", "alchemy"],
    "collection_opensea_slug": ["opensea", "alchemy"],
    "traits": ["alchemy", "opensea"],
    "rarity": ["opensea", "alchemy"],
    "owner_addresses": ["opensea", "alchemy"],
    "quantity": ["alchemy", "opensea"],
}

# Hosts the embedded sandbox answers on, routed in process to its emulators.
SANDBOX_OPENSEA_URL = "http://opensea.sandbox"
SANDBOX_ALCHEMY_URL = "http://{network}.alchemy.sandbox"
SANDBOX_API_KEY = "sandbox-key"


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the gateway. The README's configuration table lists them all."""

    model_config = SettingsConfigDict(env_prefix="NFTGW_", extra="ignore", frozen=True)

    # -- upstreams ------------------------------------------------------------------
    opensea_api_key: SecretStr | None = None
    opensea_base_url: str = "https://api.opensea.io"
    alchemy_api_key: SecretStr | None = None
    alchemy_base_url: str = "https://{network}.g.alchemy.com"
    chains: Annotated[list[Chain], NoDecode] = Field(
        default_factory=lambda: [
            Chain.ETHEREUM,
            Chain.POLYGON,
            Chain.BASE,
            Chain.ARBITRUM,
            Chain.OPTIMISM,
        ]
    )
    sandbox: Literal["auto", "on", "off"] = "auto"

    # -- merging and media ----------------------------------------------------------
    field_priority: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_FIELD_PRIORITY.items()}
    )
    ipfs_gateway: str = "https://ipfs.io/ipfs/"
    arweave_gateway: str = "https://arweave.net/"
    max_data_uri_bytes: int = Field(default=64 * 1024, ge=0)

    # -- paging and walks -----------------------------------------------------------
    max_page_size: int = Field(default=100, ge=1, le=100)
    walk_cap: int = Field(default=10_000, ge=1)
    # A page waits this long for the walk to finish so `total` is exact (clients page by it);
    # past it, a page is served as soon as its prefix is known. 0 favours first-page latency.
    exact_total_wait: float = Field(default=8.0, ge=0)
    detail_concurrency: int = Field(default=8, ge=1)

    # -- caching --------------------------------------------------------------------
    snapshot_ttl: int = Field(default=60, ge=1)
    enrichment_ttl: int = Field(default=3600, ge=1)
    collection_ttl: int = Field(default=86_400, ge=1)

    # -- deadlines ------------------------------------------------------------------
    request_deadline: float = Field(default=10.0, gt=0)
    provider_deadline: float = Field(default=8.0, gt=0)
    connect_timeout: float = Field(default=2.0, gt=0)
    read_timeout: float = Field(default=5.0, gt=0)

    # -- serving --------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("chains", mode="before")
    @classmethod
    def _split_chains(cls, value: object) -> object:
        return _comma_list(value)

    @property
    def sandbox_enabled(self) -> bool:
        """``auto`` turns the sandbox on when no NFT provider key is configured."""
        if self.sandbox == "auto":
            return self.opensea_api_key is None and self.alchemy_api_key is None
        return self.sandbox == "on"

    def upstreams(self) -> Settings:
        """These settings with the base URLs and keys actually used (sandbox applied)."""
        if not self.sandbox_enabled:
            return self
        key = SecretStr(SANDBOX_API_KEY)
        return self.model_copy(
            update={
                "opensea_base_url": SANDBOX_OPENSEA_URL,
                "opensea_api_key": key,
                "alchemy_base_url": SANDBOX_ALCHEMY_URL,
                "alchemy_api_key": key,
            }
        )
