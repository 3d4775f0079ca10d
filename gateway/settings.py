"""Settings: one typed object, read from ``NFTGW_*`` environment variables once.

This is the only module that reads the environment. Everything else receives a
:class:`Settings` (or a slice of it) from the app factory.

:class:`Settings` is composed of slices, one per concern (:class:`UpstreamSettings`,
:class:`ResilienceSettings`, :class:`GraphQLLimitSettings`, ...). Each slice is a frozen
pydantic model holding its fields, their defaults and their bounds, written once;
``Settings`` inherits every slice, so the environment stays flat (``NFTGW_RETRY_MAX``, not
``NFTGW_RESILIENCE__RETRY_MAX``) and every attribute keeps its name
(``settings.provider_deadline``). A component that needs only its budgets takes its slice:
``ResilienceSettings.from_settings(settings)`` copies those fields by name, so a default
never has a second home (``gateway.resilience.GuardPolicy`` is that slice).

Over 400 lines on purpose: it is the one place that reads the environment, and every
setting with its bound and comment is written here once.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from providers.models import Chain

__all__ = [
    "DEFAULT_FIELD_PRIORITY",
    "CacheSettings",
    "ClientSettings",
    "GraphQLDocumentSettings",
    "GraphQLLimitSettings",
    "MergeSettings",
    "PagingSettings",
    "Rate",
    "ResilienceSettings",
    "ServingSettings",
    "Settings",
    "SettingsSlice",
    "SpamSettings",
    "UpstreamSettings",
]

# Which provider wins each merged field, best first. OpenSea owns its slugs and ranks;
# Alchemy's list payload carries balances, media from its CDN and the token's own traits.
# Moralis comes last for NFT fields (its normalised metadata is the token's own JSON, which
# the other two already read) and second for floors: its floor comes with every list page,
# while Alchemy's is OpenSea's floor as Alchemy last ingested it.
DEFAULT_FIELD_PRIORITY: dict[str, list[str]] = {
    "token_standard": ["alchemy", "opensea", "moralis"],
    "name": ["opensea", "alchemy", "moralis"],
    "description": ["opensea", "alchemy", "moralis"],
    "image": ["alchemy", "opensea", "moralis"],
    "animation_url": ["alchemy", "opensea", "moralis"],
    "collection_name": ["opensea", "alchemy", "moralis"],
    "collection_slug": ["opensea", "alchemy", "moralis"],
    "collection_opensea_slug": ["opensea", "alchemy", "moralis"],
    "traits": ["alchemy", "opensea", "moralis"],
    "rarity": ["opensea", "alchemy", "moralis"],
    "owner_addresses": ["opensea", "alchemy", "moralis"],
    "quantity": ["alchemy", "opensea", "moralis"],
    "floor": ["opensea", "moralis", "alchemy"],
}

# Hosts the embedded sandbox answers on, routed in process to its emulators.
SANDBOX_OPENSEA_URL = "http://opensea.sandbox"
SANDBOX_ALCHEMY_URL = "http://{network}.alchemy.sandbox"
SANDBOX_MORALIS_URL = "http://moralis.sandbox"
SANDBOX_DOTBIT_URL = "http://dotbit.sandbox"
SANDBOX_NEXTID_URL = "http://nextid.sandbox"
SANDBOX_NAMETAG_URL = "http://nametag.sandbox"
SANDBOX_API_KEY = "sandbox-key"


# Each vendor's entry tier (README "Configuration").
DEFAULT_RATES = {"opensea": "600/h", "alchemy": "50/10s", "nametag": "2/s", "moralis": "10/s"}
# "600/h", "4/s", "120/min", "10/10s", or "off".
RATE_PATTERN = r"^(off|[0-9]{1,9}/[0-9]{0,6}(s|sec|m|min|h|hour|d|day))$"
_PERIOD_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}
_PERIOD_SECONDS |= {"d": 86_400, "day": 86_400}


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` calls per ``period`` seconds: a token bucket of ``count`` tokens that
    refills at ``count / period`` tokens a second."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """``"600/h"`` -> ``Rate(600, 3600)``; ``"off"`` (or a zero count) -> ``None``."""
        match = re.fullmatch(r"([0-9]+)/([0-9]*)([a-z]+)", text.strip().lower())
        if match is None:
            return None
        count, multiple, unit = int(match[1]), int(match[2] or 1), match[3]
        if count == 0 or multiple == 0 or unit not in _PERIOD_SECONDS:
            return None
        return cls(count, float(multiple * _PERIOD_SECONDS[unit]))

    @property
    def per_second(self) -> float:
        return self.count / self.period


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class SettingsSlice(BaseModel):
    """A frozen group of settings; :class:`Settings` inherits every slice."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_settings(cls, settings: BaseModel, **overrides: Any) -> Self:
        """This slice's fields of ``settings`` (by name), plus ``overrides``."""
        values = {name: getattr(settings, name) for name in cls.model_fields - overrides.keys()}
        return cls.model_validate({**values, **overrides})


class UpstreamSettings(SettingsSlice):
    """Where the providers are and the keys they take (README "Configuration")."""

    opensea_api_key: SecretStr | None = None
    opensea_base_url: str = "https://api.opensea.io"
    alchemy_api_key: SecretStr | None = None
    alchemy_base_url: str = "https://{network}.g.alchemy.com"
    moralis_api_key: SecretStr | None = None
    # The adapter appends /api/v2.2/...
    moralis_base_url: str = "https://deep-index.moralis.io"
    # DID sources: .bit and Next.ID need no key; NameTag (Etherscan) is off without one.
    dotbit_base_url: str = "https://indexer-v1.did.id"
    nextid_base_url: str = "https://proof-service.next.id"
    nametag_api_key: SecretStr | None = None
    nametag_base_url: str = "https://api.etherscan.io"
    # A key without Etherscan's name-tag plan is remembered this long (one call per period).
    nametag_not_entitled_ttl: float = Field(default=6 * 3600.0, ge=3600)
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
    # Per attempt (httpx); the provider deadline (ResilienceSettings) covers all attempts.
    connect_timeout: float = Field(default=2.0, gt=0)
    read_timeout: float = Field(default=5.0, gt=0)

    @field_validator("chains", mode="before")
    @classmethod
    def _split_chains(cls, value: object) -> object:
        return _comma_list(value)

    @property
    def sandbox_enabled(self) -> bool:
        """``auto`` turns the sandbox on when no NFT provider key is configured."""
        if self.sandbox == "auto":
            keys = (self.opensea_api_key, self.alchemy_api_key, self.moralis_api_key)
            return all(key is None for key in keys)
        return self.sandbox == "on"

    def upstreams(self) -> Self:
        """These settings with the base URLs and keys actually used (sandbox applied)."""
        if not self.sandbox_enabled:
            return self
        # Configured keys travel to the emulators (they accept any key): a canary key set
        # with NFTGW_SANDBOX=on goes everywhere a real key would.
        key = SecretStr(SANDBOX_API_KEY)
        return self.model_copy(
            update={
                "opensea_base_url": SANDBOX_OPENSEA_URL,
                "opensea_api_key": self.opensea_api_key or key,
                "alchemy_base_url": SANDBOX_ALCHEMY_URL,
                "alchemy_api_key": self.alchemy_api_key or key,
                "moralis_base_url": SANDBOX_MORALIS_URL,
                "moralis_api_key": self.moralis_api_key or key,
                "dotbit_base_url": SANDBOX_DOTBIT_URL,
                "nextid_base_url": SANDBOX_NEXTID_URL,
                "nametag_base_url": SANDBOX_NAMETAG_URL,
                "nametag_api_key": self.nametag_api_key or key,
            }
        )


class MergeSettings(SettingsSlice):
    """How merged NFTs are filled and their media rewritten (gateway/nfts/)."""

    field_priority: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_FIELD_PRIORITY.items()}
    )
    ipfs_gateway: str = "https://ipfs.io/ipfs/"
    arweave_gateway: str = "https://arweave.net/"
    max_data_uri_bytes: int = Field(default=64 * 1024, ge=0)


class SpamSettings(SettingsSlice):
    """The spam verdict's operator lists (gateway/nfts/spam.py; README "Spam verdict").

    Entries are contract addresses, optionally chain-qualified (``polygon:0xabc...``). The
    file (one ``allow <contract>`` or ``deny <contract>`` per line, ``#`` comments) is
    re-read when its modification time changes, checked at most every
    ``spam_lists_check_interval`` seconds: no restart needed.
    """

    spam_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    spam_deny: Annotated[list[str], NoDecode] = Field(default_factory=list)
    spam_lists_file: str | None = None
    spam_lists_check_interval: float = Field(default=5.0, ge=0)

    @field_validator("spam_allow", "spam_deny", mode="before")
    @classmethod
    def _split_contract_lists(cls, value: object) -> object:
        return _comma_list(value)


class PagingSettings(SettingsSlice):
    """Pages, wallet walks and detail fan-out (gateway/nfts/)."""

    max_page_size: int = Field(default=100, ge=1, le=100)
    walk_cap: int = Field(default=10_000, ge=1)
    # A whole request, every provider and retry included (RELIABILITY.md: 10 s).
    request_deadline: float = Field(default=10.0, gt=0)
    # A page waits this long for the walk to finish so `total` is exact (clients page by it);
    # past it, a page is served as soon as its prefix is known. 0 favours first-page latency.
    exact_total_wait: float = Field(default=8.0, ge=0)
    # Retry-After (seconds) on a 503 when every provider failed.
    unavailable_retry_after: int = Field(default=30, ge=1)


class CacheSettings(SettingsSlice):
    """TTLs, the in-process page cache and the shared cache (gateway/cache/)."""

    snapshot_ttl: int = Field(default=60, ge=1)
    enrichment_ttl: int = Field(default=3600, ge=1)
    collection_ttl: int = Field(default=86_400, ge=1)
    # Floors asked of OpenSea's collection stats (gateway/nfts/floors.py): they move.
    floor_ttl: int = Field(default=300, ge=1)
    # Finished pages kept in process (gateway/nfts/page_cache.py); 0 turns it off. The
    # TTL is capped by the enrichment and collection TTLs.
    page_cache_ttl: int = Field(default=60, ge=0)
    page_cache_entries: int = Field(default=256, ge=0)
    # Warm GraphQL answers kept per cached page (gateway/schema/fastpath/); 0 turns them off.
    graphql_answers_per_page: int = Field(default=4, ge=0)
    did_ttl: int = Field(default=300, ge=1)
    name_ttl: int = Field(default=300, ge=1)
    # Unknown or expired names are remembered this long (RELIABILITY.md: negative cache 30 s).
    name_negative_ttl: int = Field(default=30, ge=1)
    # The shared cache: memory, plus Redis when a URL is set.
    redis_url: SecretStr | None = None
    redis_namespace: str = Field(default="nftgw", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    redis_op_timeout: float = Field(default=0.1, gt=0)
    cache_max_entries: int = Field(default=10_000, ge=1)
    cache_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    # Wallet walks kept in process (gateway/nfts/walks.py), counted at about 2 KiB a holding.
    walk_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    stale_ttl: int = Field(default=3600, ge=1)
    singleflight_lease: float = Field(default=15.0, gt=0)
    singleflight_wait: float = Field(default=5.0, ge=0)
    singleflight_heartbeat: float = Field(default=0.5, gt=0)


class ResilienceSettings(SettingsSlice):
    """Every budget of a provider guard (gateway/resilience/; RELIABILITY.md's table)."""

    # Total per provider call, every attempt and back-off included (asyncio.timeout).
    provider_deadline: float = Field(default=8.0, gt=0)
    retry_max: int = Field(default=2, ge=0, le=5)
    retry_backoff_base: float = Field(default=0.1, gt=0)
    retry_backoff_cap: float = Field(default=2.0, gt=0)
    retry_budget_ratio: float = Field(default=0.2, ge=0, le=1)
    retry_budget_floor: int = Field(default=3, ge=0)
    max_retry_after: float = Field(default=300.0, ge=0)
    breaker_window: int = Field(default=20, ge=1)
    breaker_min_calls: int = Field(default=10, ge=1)
    breaker_failure_ratio: float = Field(default=0.5, gt=0, le=1)
    breaker_window_seconds: float = Field(default=30.0, gt=0)
    # Every opening lasts this long, a failed probe's too (gateway/resilience/breaker.py).
    breaker_open_seconds: float = Field(default=30.0, gt=0)
    breaker_half_open_probes: int = Field(default=3, ge=1)
    bulkhead_max_in_flight: int = Field(default=64, ge=1)
    # Calls one provider may have waiting (for a slot or its budget) before new ones are
    # shed as `overloaded`; a waiting call gives up only when its deadline cannot be met.
    bulkhead_queue_max: int = Field(default=1024, ge=1)
    # Per provider and key: calls a budget (token bucket) allows, as "600/h", "4/s",
    # "120/min"; "off" spends no budget. Unset: each vendor's entry tier (README): OpenSea's
    # instant key 600 reads/hour, Alchemy's free tier 500 CU/s over 10 s (a list call
    # costs 100 throughput CU: 50 per 10 s), Etherscan's name tags 2 calls/s on every plan;
    # on the embedded sandbox, whose emulators meter nothing unless told to, "off".
    # Moralis's free plan allows 150 CU/s (docs "Rate Limits"); getWalletNFTs' rate-limit
    # cost is not in the documents read (its /info/endpointWeights says): 10 calls/s stays
    # within it up to 15 CU a call.
    opensea_rate: str | None = Field(default=None, pattern=RATE_PATTERN)
    alchemy_rate: str | None = Field(default=None, pattern=RATE_PATTERN)
    nametag_rate: str | None = Field(default=None, pattern=RATE_PATTERN)
    moralis_rate: str | None = Field(default=None, pattern=RATE_PATTERN)
    # OpenSea's batch routes (`POST /api/v2/nfts/batch`): identifiers per call to start
    # with. The maximum is not documented: a 400 naming the size halves it, remembered.
    opensea_batch_size: int = Field(default=50, ge=1, le=200)


class ServingSettings(SettingsSlice):
    """The server process (gateway/cli.py)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # json: one object per line with the request id (gateway/http/logs.py).
    log_format: Literal["json", "text"] = "json"
    # The same log message (logger, level, text) within this many seconds is counted, not
    # repeated: a flood of one error is one line with a count (gateway/http/logrepeats.py).
    log_repeat_window: float = Field(default=10.0, ge=0)
    # Idle and slow clients (gateway/http/server.py): a connection has ``header_timeout``
    # seconds to send a request's headers and ``body_timeout`` more for its body; at
    # ``max_connections`` open, the oldest one still waiting for its headers is closed to
    # make room, or the newcomer is refused when none is waiting.
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=10.0, gt=0)
    keep_alive_timeout: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)


class ClientSettings(SettingsSlice):
    """Hostile clients: profile, CORS, client keys, inbound rates, body sizes (gateway/http/)."""

    profile: Literal["default", "production"] = "default"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    client_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    rate_limit: Literal["auto", "on", "off"] = "auto"
    rate_limit_per_minute: int = Field(default=60, ge=1)
    rate_limit_burst: int = Field(default=20, ge=1)
    # refreshNft costs every provider a call: a bucket per client (API key, else IP), in
    # process, whatever NFTGW_RATE_LIMIT says.
    refresh_per_minute: int = Field(default=6, ge=1)
    refresh_burst: int = Field(default=3, ge=1)
    # wallets(addresses:) reads every wallet whole: at most this many per query.
    max_wallets: int = Field(default=10, ge=1, le=100)
    rest_max_body_bytes: int = Field(default=16 * 1024, ge=64)
    graphql_max_body_bytes: int = Field(default=64 * 1024, ge=64)
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or CIDR
    # networks); empty: nobody's, so the client is always the socket peer.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Bearer token for GET /metrics; without one, /metrics is refused in production.
    metrics_token: SecretStr | None = None

    @field_validator("cors_origins", "client_api_keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _comma_list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _production_needs_an_explicit_cors_allowlist(self) -> Self:
        if self.profile == "production" and "*" in self.cors_origins:
            raise ValueError("NFTGW_PROFILE=production needs explicit NFTGW_CORS_ORIGINS, not *")
        return self

    @property
    def rate_limited(self) -> bool:
        """``auto`` limits inbound rates in production or when client keys are configured."""
        if self.rate_limit == "auto":
            return self.profile == "production" or bool(self.client_api_keys)
        return self.rate_limit == "on"


class GraphQLLimitSettings(SettingsSlice):
    """What one GraphQL document may cost (gateway/schema/limits.py; RELIABILITY.md)."""

    graphql_max_document_bytes: int = Field(default=16 * 1024, ge=64)
    graphql_max_variables_bytes: int = Field(default=16 * 1024, ge=2)
    graphql_max_tokens: int = Field(default=500, ge=1)
    graphql_max_depth: int = Field(default=8, ge=1)
    graphql_max_aliases: int = Field(default=15, ge=0)
    graphql_max_fields: int = Field(default=128, ge=1)
    graphql_max_root_fields: int = Field(default=5, ge=1)
    graphql_max_directives: int = Field(default=20, ge=0)
    # Introspection (__schema, __type) is bounded on its own: the standard query that
    # GraphiQL and codegen tools send is 15 deep and selects about 230 fields.
    graphql_introspection_max_depth: int = Field(default=20, ge=1)
    graphql_introspection_max_fields: int = Field(default=300, ge=1)
    # Errors one response may carry (validation and execution alike); the rest are cut.
    graphql_max_errors: int = Field(default=20, ge=1)
    # CSRF prevention: GET and simple-content-type requests need a preflight-forcing
    # header; auto = on in the production profile.
    graphql_csrf_prevention: Literal["auto", "on", "off"] = "auto"
    # JSON nesting of any request body, REST's too (deep JSON raises RecursionError).
    max_json_depth: int = Field(default=32, ge=2, le=512)


class GraphQLDocumentSettings(SettingsSlice):
    """Which documents GraphQL runs: persisted by hash, trusted from a manifest
    (gateway/schema/persisted.py)."""

    # Automatic persisted queries (Apollo's APQ): documents registered by sha256 hash.
    graphql_persisted_queries: bool = True
    graphql_persisted_query_ttl: int = Field(default=86400, ge=1)
    # An Apollo persisted-query manifest: when set, only its documents run.
    graphql_trusted_documents: Path | None = None


class Settings(
    UpstreamSettings,
    MergeSettings,
    SpamSettings,
    PagingSettings,
    CacheSettings,
    ResilienceSettings,
    ServingSettings,
    ClientSettings,
    GraphQLLimitSettings,
    GraphQLDocumentSettings,
    BaseSettings,
):
    """Every knob of the gateway. The README's configuration table lists them all."""

    model_config = SettingsConfigDict(env_prefix="NFTGW_", extra="ignore", frozen=True)

    def rate_for(self, provider: str) -> Rate | None:
        """The budget of ``provider``, or ``None`` (no budget: unmetered). Unset rates are
        the vendor's entry tier, or off on the embedded sandbox."""
        configured = {
            "opensea": self.opensea_rate,
            "alchemy": self.alchemy_rate,
            "nametag": self.nametag_rate,
            "moralis": self.moralis_rate,
        }
        if provider not in configured:
            return None
        text = configured[provider]
        if text is None:
            text = "off" if self.sandbox_enabled else DEFAULT_RATES[provider]
        return Rate.parse(text)

    def secrets(self) -> list[str]:
        """Every configured secret value (any ``SecretStr`` field), for log redaction."""
        found: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            for item in value if isinstance(value, list | tuple) else [value]:
                if isinstance(item, SecretStr) and item.get_secret_value():
                    found.append(item.get_secret_value())
        return found
