"""The shared cache: one acceptance suite over the memory and the Redis backends.

The Redis cases use the real server on 127.0.0.1:6379, database 13, under a key prefix of
their own (``nftgw-test-<random>``), and delete only their own keys afterwards. They never
skip: CI starts Redis first (.ci/run).
"""

from __future__ import annotations

import asyncio
import gc
import secrets
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from gateway.cache import BoundedMemoryCache, RedisLayer, SharedCache, cache_key, cache_kind
from gateway.cache.backends import UNAVAILABLE, within_call_deadline

REDIS_URL = "redis://127.0.0.1:6379/13"

Factory = Callable[[], SharedCache]


@pytest.fixture
async def raw_redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def namespace(raw_redis: Redis) -> AsyncIterator[str]:
    prefix = f"nftgw-test-{secrets.token_hex(6)}"
    yield prefix
    keys = [key async for key in raw_redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await raw_redis.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
async def replicas(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[Factory]:
    """Builds caches that share what a deployment shares: nothing (memory) or Redis."""
    made: list[SharedCache] = []

    def build() -> SharedCache:
        redis = None
        if request.param == "redis":
            redis = RedisLayer.from_url(REDIS_URL, namespace=namespace)
        cache = SharedCache(BoundedMemoryCache(), redis=redis, heartbeat_seconds=0.1)
        made.append(cache)
        return cache

    yield build
    for cache in made:
        await cache.close()


def same(value: Any) -> Any:
    return value


async def test_values_round_trip_as_json(replicas: Factory) -> None:
    cache = replicas()
    value = {"name": "Ape #1", "quantity": str(2**64 + 7), "traits": [["eyes", "laser"]]}
    await cache.set("v1:detail:x", value, ttl=60)
    assert await cache.get("v1:detail:x") == value
    assert await cache.get("v1:detail:missing") is None


async def test_every_key_needs_a_ttl(replicas: Factory) -> None:
    with pytest.raises(ValueError):
        await replicas().set("v1:detail:x", {"a": 1}, ttl=0)


async def test_identical_concurrent_misses_fetch_once(replicas: Factory) -> None:
    cache = replicas()
    fetches = [0]

    async def fetch() -> dict[str, int]:
        fetches[0] += 1
        await asyncio.sleep(0.05)
        return {"n": 1}

    results = await asyncio.gather(
        *(cache.get_or_fetch("v1:k", fetch, ttl=60, encode=same, decode=same) for _ in range(50))
    )
    assert fetches[0] == 1
    assert all(value == {"n": 1} for value, _ in results)
    assert (await cache.get_or_fetch("v1:k", fetch, ttl=60, encode=same, decode=same))[1]


async def test_failures_are_never_cached(replicas: Factory) -> None:
    cache = replicas()
    fetches = [0]

    async def flaky() -> dict[str, int]:
        fetches[0] += 1
        if fetches[0] == 1:
            raise RuntimeError("upstream down")
        return {"n": 2}

    with pytest.raises(RuntimeError):
        await cache.get_or_fetch("v1:k", flaky, ttl=60, encode=same, decode=same)
    assert await cache.get("v1:k") is None
    value, hit = await cache.get_or_fetch("v1:k", flaky, ttl=60, encode=same, decode=same)
    assert (value, hit, fetches[0]) == ({"n": 2}, False, 2)


async def test_a_stored_shape_that_no_longer_decodes_is_a_miss(replicas: Factory) -> None:
    cache = replicas()
    await cache.set("v1:k", {"old": "shape"}, ttl=60)

    def decode(data: Any) -> int:
        return int(data["n"])

    async def fetch() -> int:
        return 7

    assert await cache.get_or_fetch(
        "v1:k", fetch, ttl=60, encode=lambda n: {"n": n}, decode=decode
    ) == (7, False)


class Lookups:
    """A cache observer that remembers what it heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, bool]] = []

    def cache_lookup(self, kind: str, hit: bool) -> None:
        self.heard.append((kind, hit))


async def test_the_observer_hears_each_lookup_as_a_hit_or_a_miss_by_kind() -> None:
    lookups = Lookups()
    cache = SharedCache(BoundedMemoryCache(), observer=lookups)

    async def fetch() -> dict[str, int]:
        return {"n": 1}

    key = cache_key("detail", "opensea", "ethereum", "0xabc", "1")
    assert (await cache.get_or_fetch(key, fetch, ttl=60, encode=same, decode=same))[1] is False
    assert (await cache.get_or_fetch(key, fetch, ttl=60, encode=same, decode=same))[1] is True
    _, lease = await cache.lead_or_wait(cache_key("snapshot", "0xabc", "ethereum"))
    assert lease is not None
    await lease.release()
    assert lookups.heard == [("detail", False), ("detail", True), ("snapshot", False)]


async def test_another_replicas_value_counts_as_a_hit(namespace: str) -> None:
    def replica(observer: Lookups | None = None) -> SharedCache:
        redis = RedisLayer.from_url(REDIS_URL, namespace=namespace)
        return SharedCache(BoundedMemoryCache(), redis=redis, observer=observer)

    lookups = Lookups()
    writer, reader = replica(), replica(lookups)

    async def fetch() -> dict[str, int]:
        raise AssertionError("the value is in Redis already")

    try:
        await writer.set("v1:dids:a", {"n": 1}, ttl=60)
        found = await reader.get_or_fetch("v1:dids:a", fetch, ttl=60, encode=same, decode=same)
        assert found == ({"n": 1}, True)
        assert lookups.heard == [("dids", True)]
    finally:
        await writer.close()
        await reader.close()


@pytest.mark.parametrize(
    ("key", "kind"),
    [("v1:detail:opensea:x", "detail"), ("v1:name", "name"), ("snapshot", "other"), ("", "other")],
)
def test_a_keys_kind_is_its_second_part(key: str, kind: str) -> None:
    assert cache_kind(key) == kind


async def test_memory_stays_bounded_by_entries_and_bytes() -> None:
    memory = BoundedMemoryCache(max_entries=100, max_bytes=10_000)
    cache = SharedCache(memory)
    for wallet in range(1_000):
        await cache.set(f"v1:snapshot:{wallet}", {"pad": "x" * 50}, ttl=60)
    assert len(memory) <= 100 and memory.bytes <= 10_000
    assert await cache.get("v1:snapshot:999") is not None  # the newest survive
    assert await cache.get("v1:snapshot:0") is None
    await cache.set("v1:too-big", {"pad": "x" * 20_000}, ttl=60)
    assert await cache.get("v1:too-big") is None and memory.bytes <= 10_000


async def test_the_byte_budget_counts_what_memory_really_holds() -> None:
    # orjson's output keeps its whole growth buffer (8 KB for this 1 KB value): stored as
    # is, a 256 MB budget would hold gigabytes. Traced: what the stored entries occupy.
    memory = BoundedMemoryCache()
    cache = SharedCache(memory)
    value = {"name": "Ape #1", "description": "d" * 900, "traits": [["eyes", "laser"]]}
    await cache.set("v1:detail:warm-up", value, ttl=60)  # first-use allocations, not traced
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(200):
            await cache.set(f"v1:detail:{n}", value, ttl=60)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert memory.bytes == 201 * len(orjson.dumps(value))
    assert held < 1.5 * memory.bytes  # the counted bytes plus keys and bookkeeping


async def test_one_value_under_several_keys_is_read_under_each(replicas: Factory) -> None:
    cache = replicas()
    value = {"holdings": [["opensea", "ethereum", "0xc", "1"]]}
    await cache.set_many([("v1:snapshot:w", 60), ("v1:stale:w", 3600)], value)
    assert await cache.get("v1:snapshot:w") == value
    assert await cache.get("v1:stale:w") == value


async def test_one_value_under_several_keys_is_held_once_in_memory() -> None:
    # A big wallet's snapshot is kept as the fresh copy and the stale-if-error one.
    cache = SharedCache(BoundedMemoryCache())
    value = {"zlib": ["x" * 4096 for _ in range(25)]}
    await cache.set_many([("v1:snapshot:warm-up", 60)], value)  # first-use allocations
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await cache.set_many([("v1:snapshot:w", 60), ("v1:stale:w", 3600)], value)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1.2 * len(orjson.dumps(value))


async def test_a_peek_reads_what_is_stored_and_never_fetches(replicas: Factory) -> None:
    cache = replicas()
    await cache.set("v1:collection:x", {"n": 3}, ttl=60)
    await cache.set("v1:collection:old", {"old": "shape"}, ttl=60)

    def decode(data: Any) -> int:
        return int(data["n"])

    keys = ["v1:collection:x", "v1:collection:missing", "v1:collection:old"]
    assert await cache.peek_many(keys, decode) == [3, None, None]  # undecodable: a miss
    if cache.shared:  # another replica reads what this one stored, through Redis
        assert await replicas().peek_many(keys, decode) == [3, None, None]


async def test_a_memory_entry_lives_as_long_as_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("gateway.cache.backends.time.monotonic", lambda: now[0])
    memory = BoundedMemoryCache()
    cache = SharedCache(memory)
    await cache.set("v1:detail:a", {"n": 1}, ttl=30)
    now[0] += 29.9
    assert await cache.get("v1:detail:a") == {"n": 1}
    now[0] += 0.2
    assert await cache.get("v1:detail:a") is None
    assert len(memory) == 0 and memory.bytes == 0  # the expired entry's bytes are given back


async def test_memory_evicts_the_least_recently_used() -> None:
    cache = SharedCache(BoundedMemoryCache(max_entries=2))
    await cache.set("v1:a", 1, ttl=60)
    await cache.set("v1:b", 2, ttl=60)
    assert await cache.get("v1:a") == 1  # a is now the most recent
    await cache.set("v1:c", 3, ttl=60)
    assert await cache.get("v1:b") is None and await cache.get("v1:a") == 1


# -- Redis only: what replicas share ------------------------------------------------------


@pytest.fixture
async def redis_replicas(namespace: str) -> AsyncIterator[Factory]:
    made: list[SharedCache] = []

    def build() -> SharedCache:
        cache = SharedCache(
            BoundedMemoryCache(),
            redis=RedisLayer.from_url(REDIS_URL, namespace=namespace),
            heartbeat_seconds=0.1,
            wait_seconds=5.0,
        )
        made.append(cache)
        return cache

    yield build
    for cache in made:
        await cache.close()


async def test_redis_keys_are_namespaced_json_with_a_ttl(
    redis_replicas: Factory, raw_redis: Redis, namespace: str
) -> None:
    cache = redis_replicas()

    async def fetch() -> dict[str, int]:
        return {"n": 1}

    await cache.get_or_fetch("v1:detail:a", fetch, ttl=60, encode=same, decode=same)
    await cache.set("v1:snapshot:b", {"holdings": []}, ttl=30)
    await cache.close()  # waits for the write and lease release that run off the request path
    keys = [key async for key in raw_redis.scan_iter(match=f"{namespace}:*")]
    assert {k.decode() for k in keys} == {f"{namespace}:v1:detail:a", f"{namespace}:v1:snapshot:b"}
    for key in keys:
        assert 0 < await raw_redis.pttl(key) <= 60_000
        orjson.loads(await raw_redis.get(key))  # JSON, never pickle


async def test_replicas_share_one_fetch(redis_replicas: Factory) -> None:
    fetches = [0]

    async def fetch() -> dict[str, int]:
        fetches[0] += 1
        await asyncio.sleep(0.3)
        return {"n": 3}

    caches = [redis_replicas() for _ in range(3)]
    results = await asyncio.gather(
        *(
            cache.get_or_fetch("v1:k", fetch, ttl=60, encode=same, decode=same)
            for cache in caches
            for _ in range(20)
        )
    )
    assert fetches[0] == 1
    assert {value["n"] for value, _ in results} == {3}


async def test_concurrent_reads_of_another_replicas_value_share_one_redis_round_trip(
    redis_replicas: Factory,
) -> None:
    writer, reader = redis_replicas(), redis_replicas()
    await writer.set("v1:detail:k", {"traits": ["gold"]}, ttl=60)
    reads = count_round_trips(reader)
    values = await asyncio.gather(*(reader.get("v1:detail:k") for _ in range(50)))
    assert values == [{"traits": ["gold"]}] * 50
    assert reads == [1]  # a burst's identical peeks cost Redis one read, not fifty
    values[0]["traits"].append("silver")
    assert values[1] == {"traits": ["gold"]}, "each reader gets a copy of its own"


def count_round_trips(cache: SharedCache) -> list[int]:
    """A counter of the Redis commands ``cache`` sends from now on (every read, write and
    lease goes through its layer's ``_run``)."""
    layer = cache.redis_layer
    assert layer is not None
    sent = [0]
    run = layer._run

    async def counted(operation: Any, **options: Any) -> Any:
        sent[0] += 1
        return await run(operation, **options)

    layer._run = counted  # type: ignore[method-assign]
    return sent


async def test_a_peek_at_many_keys_costs_redis_one_round_trip(redis_replicas: Factory) -> None:
    writer, reader = redis_replicas(), redis_replicas()
    keys = [f"v1:detail:{n}" for n in range(20)]
    await writer.set_each([(key, {"n": n}, 60 + n) for n, key in enumerate(keys)])
    sent = count_round_trips(reader)
    wanted = [*keys, "v1:detail:missing"]
    peeks = await asyncio.gather(*(reader.peek_many(wanted, same) for _ in range(10)))
    assert peeks == [[{"n": n} for n in range(20)] + [None]] * 10
    assert sent == [1]  # one command for 21 keys, shared by the burst of identical peeks
    peeks[0][0]["n"] = 99
    assert peeks[1][0] == {"n": 0}, "each peek gets a copy of its own"
    assert await reader.peek_many(keys, same) == [{"n": n} for n in range(20)]
    assert sent == [1], "what Redis had is now in this replica's memory too"


async def test_values_stored_together_keep_each_its_own_life(
    redis_replicas: Factory, raw_redis: Redis, namespace: str
) -> None:
    cache = redis_replicas()
    sent = count_round_trips(cache)
    await cache.set_each([("v1:detail:a", {"a": 1}, 30), ("v1:collection:b", [2], 600)])
    assert sent == [1]
    assert orjson.loads(await raw_redis.get(f"{namespace}:v1:detail:a")) == {"a": 1}
    assert 29_000 < await raw_redis.pttl(f"{namespace}:v1:detail:a") <= 30_000
    assert 599_000 < await raw_redis.pttl(f"{namespace}:v1:collection:b") <= 600_000
    assert await redis_replicas().get("v1:collection:b") == [2]  # another replica reads it
    with pytest.raises(ValueError):  # every entry needs a TTL, as for set()
        await cache.set_each([("v1:detail:c", 1, 60), ("v1:detail:d", 2, 0)])


async def test_a_cold_fetch_asks_redis_once_before_it_goes_upstream(
    redis_replicas: Factory,
) -> None:
    first, second = redis_replicas(), redis_replicas()
    sent = count_round_trips(first)
    asked_before: list[int] = []

    async def fetch() -> dict[str, int]:
        asked_before.append(sent[0])
        return {"n": 1}

    assert await first.get_or_fetch("v1:detail:c", fetch, ttl=60, encode=same, decode=same) == (
        {"n": 1},
        False,
    )
    # One command found nothing stored and took the lease: not a read, a lease, a read again.
    assert asked_before == [1]
    await first.close()  # the value's write and the lease's release run off the request path
    sent = count_round_trips(second)
    found = await second.get_or_fetch("v1:detail:c", fetch, ttl=60, encode=same, decode=same)
    assert found == ({"n": 1}, True) and asked_before == [1]
    assert sent == [1]  # the same command found the first replica's value instead


async def test_a_fetch_answers_before_redis_has_what_it_stored_and_replicas_still_read_it(
    redis_replicas: Factory,
) -> None:
    leader, follower = redis_replicas(), redis_replicas()
    layer = leader.redis_layer
    assert layer is not None
    redis_has_details = asyncio.Event()  # released by the test: a slow Redis write
    write = layer.set_each

    async def slow_write(entries: Any, **options: Any) -> bool:
        if any(key.startswith("v1:detail:") for key, _, _ in entries):
            await redis_has_details.wait()
        return await write(entries, **options)

    layer.set_each = slow_write  # type: ignore[method-assign]
    details = [(f"v1:detail:{n}", {"n": n}, 60) for n in range(3)]
    keys = [key for key, _, _ in details]

    async def fetch() -> int:  # a page's detail batch: each detail cached, the count marked
        await leader.set_each(details, behind=True)
        return len(details)

    flight = ("v1:details:page", fetch)
    try:
        assert await leader.get_or_fetch(*flight, ttl=60, encode=same, decode=same) == (3, False)
        # The leader answered from memory; Redis has neither the details nor the marker yet.
        assert await leader.peek_many(keys, same) == [{"n": n} for n in range(3)]
        assert await follower.peek_many(keys, same) == [None] * 3
        waiting = asyncio.create_task(
            follower.get_or_fetch(*flight, ttl=60, encode=same, decode=same)
        )
        await asyncio.sleep(0.2)
        assert not waiting.done(), "the leader still holds the flight's lease"
        redis_has_details.set()
        assert await waiting == (3, True)  # the marker, published once the details were written
        assert await follower.peek_many(keys, same) == [{"n": n} for n in range(3)]
    finally:
        redis_has_details.set()  # a failed assertion must not leave the write hanging


async def test_a_dead_leader_does_not_wedge_the_others(redis_replicas: Factory) -> None:
    leader, other = redis_replicas(), redis_replicas()
    found, lease = await leader.lead_or_wait("v1:k")
    assert found is None and lease is not None and lease.owned
    lease._heart.cancel()  # type: ignore[union-attr]  # the process died: no heartbeat, no release

    async def fetch() -> dict[str, int]:
        return {"n": 4}

    async with asyncio.timeout(3):  # takes over once the heartbeat expires
        value, _ = await other.get_or_fetch("v1:k", fetch, ttl=60, encode=same, decode=same)
    assert value == {"n": 4}


async def test_undecodable_bytes_in_redis_are_a_miss(
    redis_replicas: Factory, raw_redis: Redis, namespace: str
) -> None:
    await raw_redis.set(f"{namespace}:v1:k", b"\x80\x04\x95pickle?", px=60_000)
    assert await redis_replicas().get("v1:k") is None


async def test_connections_opened_ahead_serve_a_burst_without_opening_more(
    raw_redis: Redis, namespace: str
) -> None:
    async def connected() -> int:  # this cache's connections only (named after it)
        return sum(client["name"] == namespace for client in await raw_redis.client_list())

    redis = RedisLayer.from_url(f"{REDIS_URL}?client_name={namespace}", namespace=namespace)
    cache = SharedCache(BoundedMemoryCache(), redis=redis)
    await cache.open_connections(6)
    assert await connected() == 6
    # Six commands side by side, as a cold page's wave sends them: none opens another.
    await asyncio.gather(*(cache.peek_many([f"v1:detail:{n}"], same) for n in range(6)))
    assert await connected() == 6
    await cache.close()


async def test_connections_ahead_to_a_redis_that_is_down_open_none_and_raise_nothing() -> None:
    cache = SharedCache(BoundedMemoryCache(), redis=RedisLayer.from_url("redis://127.0.0.1:1/13"))
    async with asyncio.timeout(2):
        await cache.open_connections(4)
        assert await cache.get("v1:k") is None  # a miss, as ever
    await cache.close()


async def test_redis_down_falls_back_to_memory() -> None:
    cache = SharedCache(
        BoundedMemoryCache(), redis=RedisLayer.from_url("redis://127.0.0.1:1/13")
    )  # nothing listens on port 1

    async def fetch() -> dict[str, int]:
        return {"n": 5}

    async with asyncio.timeout(2):
        assert await cache.get_or_fetch("v1:k", fetch, ttl=60, encode=same, decode=same) == (
            {"n": 5},
            False,
        )
        assert await cache.get("v1:k") == {"n": 5}  # from the memory layer
        # A page's writes and peeks of many keys fall back alike.
        await cache.set_each([("v1:detail:a", {"a": 1}, 60), ("v1:detail:b", [2], 60)])
        found = await cache.peek_many(["v1:detail:a", "v1:detail:b", "v1:detail:c"], same)
        assert found == [{"a": 1}, [2], None]
    await cache.close()


async def test_a_unix_socket_url_without_a_server_falls_back_to_memory(tmp_path: Path) -> None:
    redis = RedisLayer.from_url(f"unix://{tmp_path}/nobody.sock?db=13")
    cache = SharedCache(BoundedMemoryCache(), redis=redis)

    async def fetch() -> dict[str, int]:
        return {"n": 8}

    assert await cache.get_or_fetch("v1:k", fetch, ttl=60, encode=same, decode=same) == (
        {"n": 8},
        False,
    )
    assert await cache.get("v1:k") == {"n": 8}
    await cache.close()


async def test_a_redis_that_never_answers_costs_its_short_timeout() -> None:
    done = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await done.wait()  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cache = SharedCache(
        BoundedMemoryCache(), redis=RedisLayer.from_url(f"redis://127.0.0.1:{port}/13")
    )
    async with asyncio.timeout(2):
        await cache.set("v1:k", {"n": 6}, ttl=60)
        assert await cache.get("v1:k") == {"n": 6}
        assert await cache.get("v1:other") is None
    await cache.close()
    done.set()
    for writer in writers:
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()


# -- Redis timeouts against the call, not the event loop (issue 16) --------------------------


async def answer_during_a_busy_loop() -> asyncio.Future[str]:
    """A reply that comes 20 ms after the call, while another request holds the event loop
    from 10 ms to 310 ms (three op timeouts of 100 ms)."""
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.01, time.sleep, 0.3)  # a CPU-bound neighbour
    loop.call_later(0.02, reply.set_result, "reply")
    return reply


async def test_a_reply_that_waited_on_a_busy_event_loop_is_not_a_timeout() -> None:
    with pytest.raises(TimeoutError):  # what asyncio.timeout alone makes of it
        async with asyncio.timeout(0.1):
            await await_reply(await answer_during_a_busy_loop())
    assert await within_call_deadline(await_reply(await answer_during_a_busy_loop()), 0.1) == (
        "reply"
    )


async def test_an_operation_that_never_answers_still_times_out() -> None:
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await within_call_deadline(await_reply(never), 0.05)


async def await_reply(reply: asyncio.Future[str]) -> str:
    return await reply


async def test_a_slow_redis_still_times_out_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An operation that never answers fails at its deadline; a stream of them writes one
    warning per interval, not one per operation."""
    redis = RedisLayer.from_url("redis://127.0.0.1:1/13", op_timeout=0.02)

    async def never() -> None:
        await asyncio.sleep(60)

    for _ in range(20):
        assert await redis._run(never) is UNAVAILABLE
        redis._down_until = 0.0  # keep trying (a refused Redis would be skipped a second)
    warnings = [r for r in caplog.records if "redis unavailable" in r.getMessage()]
    assert len(warnings) == 1
    await redis.close()
