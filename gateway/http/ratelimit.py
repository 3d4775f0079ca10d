"""Client access: optional client API keys and token-bucket rate limits per key and per IP.

* ``NFTGW_CLIENT_API_KEYS`` (comma list) turns keys on: every API request must then carry
  one in ``X-API-Key`` (401 ``UNAUTHORIZED`` otherwise). Keys are compared in constant
  time and never stored or logged: a key's bucket is named by a hash prefix.
* Rate limits (``NFTGW_RATE_LIMIT``; ``auto`` = on in the production profile or when
  client keys are configured) are token buckets of ``NFTGW_RATE_LIMIT_PER_MINUTE`` tokens a
  minute holding at most ``NFTGW_RATE_LIMIT_BURST``; one bucket per client IP and one per
  key, and a request takes a token from each. An empty bucket is a 429 with
  ``Retry-After`` (whole seconds until a token is back).
* Buckets live in process (:class:`MemoryRateLimiter`, LRU-bounded) or in Redis
  (:class:`RedisRateLimiter`, one atomic Lua script using Redis' clock, so every replica
  shares them). A Redis failure falls back to the local buckets: an outage of the limiter
  store must not take the API down with it.

The operational routes (health, metrics, the OpenAPI document, static assets) are exempt.
The client IP is the socket peer. Behind a proxy, list it in ``NFTGW_TRUSTED_PROXIES``:
``serve`` then lets uvicorn read ``X-Forwarded-For`` from those peers only (and from no one
by default), so a client cannot choose its own bucket with a header.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http.security import encode_json, request_header
from gateway.settings import Settings

__all__ = [
    "API_KEY_HEADER",
    "ClientAccessMiddleware",
    "MemoryRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "build_rate_limiter",
    "client_bucket",
    "rate_limit_redis",
]

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/livez", "/metrics", "/openapi.json"})
EXEMPT_PREFIXES = ("/static/",)
MAX_TRACKED_CLIENTS = 100_000


class RateLimiter(Protocol):
    async def acquire(self, bucket: str) -> float:
        """Take a token from ``bucket``: 0 when allowed, else seconds until one is back."""
        ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class MemoryRateLimiter:
    """Token buckets in this process, the least recently used forgotten past a cap."""

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        max_buckets: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_buckets = max_buckets
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    async def acquire(self, bucket: str) -> float:
        return self.take(bucket)

    def take(self, bucket: str) -> float:
        now = self.clock()
        state = self._buckets.pop(bucket, None) or _Bucket(self.burst, now)
        state.tokens = min(self.burst, state.tokens + (now - state.updated) * self.rate)
        state.updated = now
        self._buckets[bucket] = state
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        if state.tokens >= 1:
            state.tokens -= 1
            return 0.0
        return (1 - state.tokens) / self.rate


# KEYS[1] bucket; ARGV rate (tokens/ms), burst. Redis' own clock: replicas may drift.
_TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """Token buckets shared by every replica through Redis; local buckets if it fails."""

    def __init__(
        self,
        redis: Any,
        per_minute: int,
        burst: int,
        *,
        prefix: str = "nftgw:v1:rate",
        op_timeout: float = 0.1,
    ) -> None:
        self.redis = redis
        self.op_timeout = op_timeout
        self.rate_per_ms = per_minute / 60_000.0
        self.burst = burst
        self.prefix = prefix
        self.fallback = MemoryRateLimiter(per_minute, burst)
        self._script = redis.register_script(_TOKEN_BUCKET_LUA)

    async def acquire(self, bucket: str) -> float:
        try:
            async with asyncio.timeout(self.op_timeout):
                wait_ms = await self._script(
                    keys=[f"{self.prefix}:{bucket}"], args=[self.rate_per_ms, self.burst]
                )
        except Exception as exc:  # any Redis trouble: limit locally rather than fail
            logger.warning(
                "rate limit store unavailable (%s): limiting locally", type(exc).__name__
            )
            return self.fallback.take(bucket)
        return float(wait_ms) / 1000.0


def rate_limit_redis(settings: Settings) -> Any | None:
    """A Redis client for shared buckets, when rate limits are on and Redis is configured."""
    if not settings.rate_limited or settings.redis_url is None:
        return None
    from redis.asyncio import Redis

    timeout = settings.redis_op_timeout
    return Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=16,
    )


def build_rate_limiter(settings: Settings, redis: Any | None = None) -> RateLimiter | None:
    """The limiter the settings ask for: ``None`` when off, Redis-backed when given one."""
    if not settings.rate_limited:
        return None
    if redis is not None:
        return RedisRateLimiter(
            redis,
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            prefix=f"{settings.redis_namespace}:v1:rate",
            op_timeout=settings.redis_op_timeout,
        )
    return MemoryRateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)


class ClientAccessMiddleware:
    """Client keys and rate limits in front of the API routes (pure ASGI).

    The limiter is the app's ``state.rate_limiter`` (built in the lifespan, where a Redis
    client can exist), unless one is given here.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        client_keys: Sequence[str] = (),
        limiter: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.client_keys = [key.encode() for key in client_keys]
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        limiter = self._limiter
        if limiter is None and "app" in scope:
            limiter = getattr(scope["app"].state, "rate_limiter", None)
        ip = (scope.get("client") or ("unknown",))[0]
        if limiter is not None:
            wait = await limiter.acquire(f"ip:{ip}")
            if wait > 0:
                await _deny(scope, send, 429, "RATE_LIMITED", "too many requests", wait)
                return
        key = request_header(scope, b"x-api-key")
        if self.client_keys:
            if key is None or not any(hmac.compare_digest(key, k) for k in self.client_keys):
                await _deny(scope, send, 401, "UNAUTHORIZED", "a valid X-API-Key is required")
                return
            if limiter is not None:
                wait = await limiter.acquire(f"key:{hashlib.sha256(key).hexdigest()[:16]}")
                if wait > 0:
                    await _deny(scope, send, 429, "RATE_LIMITED", "too many requests", wait)
                    return
        await self.app(scope, receive, send)


def client_bucket(scope: Scope) -> str:
    """Who a request is, for per-client limits: ``key:<hash>`` of its ``X-API-Key`` when
    it sends one (never the key itself), else ``ip:<peer>``."""
    key = request_header(scope, b"x-api-key")
    if key:
        return f"key:{hashlib.sha256(key).hexdigest()[:16]}"
    return f"ip:{(scope.get('client') or ('unknown',))[0]}"


def _exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


async def _deny(
    scope: Scope, send: Send, status: int, code: str, message: str, wait: float | None = None
) -> None:
    """The error in the shape of the face asked: GraphQL ``errors`` or REST ``error``."""
    if scope.get("path", "").startswith("/graphql"):
        body = encode_json({"errors": [{"message": message, "extensions": {"code": code}}]})
    else:
        body = encode_json({"error": {"code": code, "message": message}})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if wait is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(wait))).encode()))
    if status == 401:
        headers.append((b"www-authenticate", b'ApiKey header="X-API-Key"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
