"""The canary sweep: with canary API keys that really travel to the emulators and every
logger at DEBUG, succeeding and failing requests leave no key in any response body or
header, log record, cache key or value, or metric."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.http.redaction import REDACTED, install_log_redaction, redact, redact_bytes
from providers.sandbox import Sandbox
from providers.sandbox.world import SMALL_WALLET
from tests.conftest import sandbox_settings

CANARIES = {
    "opensea_api_key": "canary-opensea-5f1e2d9c",
    "alchemy_api_key": "canary-alchemy-9a8b7c6d",
    "nametag_api_key": "canary-nametag-3c4d5e6f",
}
CLIENT_KEY = "canary-client-7e6f5a4b"
ALL_CANARIES = [*CANARIES.values(), CLIENT_KEY]

PAGE_QUERY = """query ($a: String!) { wallet(address: $a) { nfts(page: 1, size: 20) {
  total assets { quantity nft { name image traits { type value } rarity { rank } } }
  providers { provider status errorKind errorMessage } } } }"""


class CapturingHandler(logging.Handler):
    """Every record, formatted the way a handler would write it, plus its raw parts."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.__dict__))


class RecordingTransport(httpx.AsyncBaseTransport):
    """The sandbox, recording every upstream request; can fail a few as a network would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[str] = []
        self.connect_errors = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.url} {dict(request.headers)}")
        if self.connect_errors:
            self.connect_errors -= 1
            raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def capture() -> Iterator[CapturingHandler]:
    handler = CapturingHandler()
    root = logging.getLogger()
    loggers = [root] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    levels = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for lg, level, disabled in levels:
            lg.setLevel(level)
            lg.disabled = disabled


def cache_contents(state: Any) -> list[str]:
    """Keys and values of every in-memory cache the app's services hold."""
    texts: list[str] = []
    for service_name in ("nft_service", "identity_service"):
        service = getattr(state, service_name, None)
        cache = getattr(service, "cache", None) or getattr(service, "_cache", None)
        backend = getattr(cache, "_memory", None)
        # The memory backend's own table (its attribute name is the cache module's business).
        store = (
            next(
                (v for v in vars(backend).values() if isinstance(v, dict) and v),
                None,
            )
            if backend is not None and hasattr(backend, "__dict__")
            else None
        )
        assert isinstance(store, dict), f"no memory cache found on {service_name}"
        texts += [f"{key!r} {value!r}" for key, value in store.items()]
    assert texts, "the requests should have cached something"
    return texts


async def test_no_canary_key_leaks_anywhere(sandbox: Sandbox, capture: CapturingHandler) -> None:
    settings = sandbox_settings(
        **CANARIES, client_api_keys=CLIENT_KEY, log_level="DEBUG", rate_limit="off"
    )
    upstream = RecordingTransport(sandbox.transport())
    app = create_app(settings, transport=upstream)
    seen: list[str] = []
    echo = b'{"error": "invalid key %s"}'

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        headers = {"x-api-key": CLIENT_KEY}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=headers
        ) as client:

            async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
                response = await client.request(method, path, **kwargs)
                seen.append(f"{response.status_code} {response.headers!r} {response.text}")
                return response

            nfts = {"wallet_address": SMALL_WALLET, "page": 1, "size": 20}
            assert (await call("POST", "/users/u1/nfts", json=nfts)).status_code == 200
            await call(
                "POST", "/graphql", json={"query": PAGE_QUERY, "variables": {"a": SMALL_WALLET}}
            )
            await call("POST", "/users/u1/dids", json={"wallet_address": SMALL_WALLET})
            await call("POST", "/users/u1/dids", json={"wallet_address": "alice.bit"})

            # Failures: upstreams that echo the key back, refuse it, rate-limit, vanish.
            other = "0x" + "4" * 40
            alchemy, opensea = sandbox.faults("alchemy"), sandbox.faults("opensea")
            alchemy.fail_next(401, body=echo % CANARIES["alchemy_api_key"].encode(), times=20)
            opensea.fail_next(500, body=echo % CANARIES["opensea_api_key"].encode(), times=20)
            await call("POST", "/users/u1/nfts", json={**nfts, "wallet_address": other})
            await call("POST", "/graphql", json={"query": PAGE_QUERY, "variables": {"a": other}})
            alchemy.reset()
            opensea.reset()
            alchemy.fail_next(429, headers={"Retry-After": "1"}, times=20)
            upstream.connect_errors = 50
            third = "0x" + "6" * 40
            await call("POST", "/users/u1/nfts", json={**nfts, "wallet_address": third})
            upstream.connect_errors = 0
            await call("POST", "/users/u1/nfts", json={**nfts, "page": 0})
            await call(
                "POST", "/users/u1/nfts", content=b"{", headers={"content-type": "application/json"}
            )
            await call("GET", "/graphql", params={"query": "{ nope }"})
            # A client that puts a key in the path: the access line shows the path too.
            await call("POST", f"/users/{CANARIES['opensea_api_key']}/nfts", json=nfts)
            await call("GET", "/metrics")
            await call("GET", "/openapi.json")
        # A client that sends a wrong key: the answer must not echo what it sent either.
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as stranger:
            response = await stranger.post("/users/u1/nfts", json=nfts)
            seen.append(f"{response.status_code} {response.headers!r} {response.text}")

        caches = cache_contents(app.state)

    # The canaries really travelled: the Alchemy key in URL paths, OpenSea's in headers.
    travelled = " ".join(upstream.requests)
    for name in ("opensea_api_key", "alchemy_api_key"):
        assert CANARIES[name] in travelled, f"{name} never reached an emulator"

    logs = capture.texts
    assert any("HTTP Request" in text for text in logs), "httpx request logs were captured"
    haystacks = {"responses": seen, "logs": logs, "cache": caches}
    hits = {
        (where, canary)
        for where, texts in haystacks.items()
        for text in texts
        for canary in ALL_CANARIES
        if canary in text
    }
    assert hits == set(), hits
    assert any(REDACTED in text for text in logs), "the key-bearing URLs were redacted"


def test_redact_replaces_every_registered_secret() -> None:
    from gateway.http.redaction import install_log_redaction

    install_log_redaction(["canary-unit-0001", "abc"])  # too short to register: "abc"
    assert redact("GET /nft/v3/canary-unit-0001/x abc") == f"GET /nft/v3/{REDACTED}/x abc"


def test_a_kept_body_is_redacted_again_once_another_secret_is_registered() -> None:
    from gateway.http.redaction import RedactedBytes, install_log_redaction

    # Secrets sharing no 8-character piece: any such piece of a key is redacted too.
    install_log_redaction(["canary-unit-0003"])
    kept = RedactedBytes(b'{"error":"canary-unit-0003 kept-later-5c4b3a29"}')
    assert kept.get() == f'{{"error":"{REDACTED} kept-later-5c4b3a29"}}'.encode()
    install_log_redaction(["kept-later-5c4b3a29"])  # another app in this process, later
    assert kept.get() == f'{{"error":"{REDACTED} {REDACTED}"}}'.encode()


def test_an_access_path_logged_before_a_secret_was_registered_is_redacted_after() -> None:
    from gateway.http.redaction import clean_log_text, install_log_redaction

    path = "/users/path-later-7d6e5f41/nfts"
    assert clean_log_text(path) == path  # clean, and remembered as clean
    install_log_redaction(["path-later-7d6e5f41"])
    assert clean_log_text(path) == f"/users/{REDACTED}/nfts"


# -- log records keep their shape -------------------------------------------------------------

UNIT_SECRET = "canary-unit-0002"


def make_record(msg: str, args: Any) -> logging.LogRecord:
    """A record as any logger makes it: through the (redacting) record factory."""
    from gateway.http.redaction import install_log_redaction

    install_log_redaction([UNIT_SECRET])
    return logging.getLogger("gateway.test").makeRecord(
        "gateway.test", logging.INFO, __file__, 1, msg, args, None
    )


def test_a_uvicorn_access_record_keeps_its_five_args_and_formats() -> None:
    from uvicorn.logging import AccessFormatter

    args = ("127.0.0.1:5000", "GET", f"/graphql?key={UNIT_SECRET}\r\nforged", "1.1", 200)
    record = make_record('%s - "%s %s HTTP/%s" %d', args)

    assert record.args == (
        "127.0.0.1:5000",
        "GET",
        f"/graphql?key={REDACTED}\\r\\nforged",
        "1.1",
        200,
    )
    formatter = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s')
    line = formatter.format(record)
    assert line == f'127.0.0.1:5000 - "GET /graphql?key={REDACTED}\\r\\nforged HTTP/1.1" 200 OK'


def test_a_clean_record_is_left_exactly_as_it_was() -> None:
    args = ("GET", "/healthz", 200)
    record = make_record("%s %s %d", args)
    assert record.args is args and record.msg == "%s %s %d"


def test_objects_holding_a_secret_become_their_redacted_text_numbers_stay() -> None:
    url = httpx.URL(f"https://alchemy.test/nft/v3/{UNIT_SECRET}/getNFTs")
    record = make_record("GET %s took %.1f ms (%d bytes)", (url, 12.5, 300))
    assert record.args == (f"https://alchemy.test/nft/v3/{REDACTED}/getNFTs", 12.5, 300)
    assert record.getMessage().endswith("took 12.5 ms (300 bytes)")


def test_mapping_args_are_cleaned_even_where_the_format_does_not_use_them() -> None:
    record = make_record("%(path)s", {"path": f"/x/{UNIT_SECRET}", "unused": UNIT_SECRET})
    assert record.args == {"path": f"/x/{REDACTED}", "unused": REDACTED}
    assert UNIT_SECRET not in repr(record.__dict__)


def test_a_secret_split_across_two_args_is_still_redacted() -> None:
    half = len(UNIT_SECRET) // 2
    record = make_record("%s%s", (UNIT_SECRET[:half], UNIT_SECRET[half:]))
    assert record.getMessage().replace(REDACTED, "") == ""  # each half is a piece of a key
    assert UNIT_SECRET not in repr(record.__dict__)


# -- every spelling of a key, and upstreams that echo it (issue 16) ---------------------------


def spelled_anywhere(text: str, key: str) -> list[str]:
    """Spellings of ``key`` found in ``text``: any piece of 8+ characters, any case,
    URL-decoded or not."""
    texts = [text.lower(), unquote(text).lower()]
    low = key.lower()
    pieces = {low[i : i + 8] for i in range(len(low) - 7)}
    return [piece for piece in pieces for t in texts if piece in t]


@pytest.mark.parametrize(
    "spelled",
    [
        lambda k: k,
        lambda k: k.upper(),
        lambda k: k.lower().swapcase(),
        lambda k: quote(k, safe=""),
        lambda k: k[:10],  # an error text cut mid-key
        lambda k: k[-9:],
        lambda k: base64.b64encode(f"user:{k}".encode()).decode(),  # a Basic header
        lambda k: base64.b64encode(f"x{k}".encode()).decode(),
    ],
)
def test_a_key_is_redacted_in_every_spelling(spelled: Any) -> None:
    key = "Canary+Unit/Spelling=0002"
    install_log_redaction([key])
    text = f"upstream said: bad request for {spelled(key)} (see docs)"
    cleaned = redact(text)
    assert REDACTED in cleaned
    assert cleaned.startswith("upstream said: bad request for ") and "(see docs)" in cleaned
    assert redact_bytes(text.encode()) == cleaned.encode()


def test_ordinary_text_is_left_alone() -> None:
    install_log_redaction(["Canary+Unit/Spelling=0002"])
    text = "GET /users/u1/nfts 200 in 12.5 ms for 0x1111111111111111111111111111111111111111"
    assert redact(text) == text
    assert redact_bytes(text.encode()) == text.encode()


@pytest.mark.parametrize("provider", ["alchemy", "opensea"])
async def test_an_upstream_echoing_the_request_gets_no_key_to_the_client(
    sandbox: Sandbox, capture: CapturingHandler, provider: str
) -> None:
    settings = sandbox_settings(**CANARIES, log_level="DEBUG", rate_limit="off", retry_max=0)
    sandbox.faults(provider).echo_request = True
    app = create_app(settings, transport=sandbox.transport())
    bodies: list[str] = []
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            rest = await http.post(
                "/users/u1/nfts", json={"wallet_address": SMALL_WALLET, "page": 1, "size": 20}
            )
            graphql = await http.post(
                "/graphql", json={"query": PAGE_QUERY, "variables": {"a": SMALL_WALLET}}
            )
            for response in (rest, graphql):
                bodies.append(response.text + " " + str(dict(response.headers)))
    reports = rest.json().get("providers", [])
    # The failing provider is reported by kind, in the gateway's words.
    kinds = [(r.get("error") or {}).get("kind") for r in reports]
    assert "bad_request" in kinds, rest.text
    assert "bad request:" not in rest.text and "bad request:" not in graphql.text
    for key in CANARIES.values():
        assert not [b for b in bodies if spelled_anywhere(b, key)], key
        assert not [t for t in capture.texts if spelled_anywhere(t, key)], key
    # The log keeps what the upstream said (redacted).
    assert any("bad request:" in t for t in capture.texts)
