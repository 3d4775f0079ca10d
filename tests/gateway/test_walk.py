"""The wallet walk's order: deterministic whatever the providers' timing, never shifting."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest import MonkeyPatch

from gateway.nfts import walk as walk_module
from gateway.nfts.merging import SpamFilter
from gateway.nfts.snapshot import decode_walk, encode_walk
from gateway.nfts.spam import NO_LISTS, ContractLists, SpamVerdict
from gateway.nfts.walk import MERGE_SLICE, WalletWalk
from gateway.settings import DEFAULT_FIELD_PRIORITY
from providers.errors import ProviderCursorExpired, ProviderUnavailable
from providers.models import (
    Chain,
    FloorPrice,
    HoldingsPage,
    NFTKey,
    NFTRecord,
    SpamSignal,
    Trait,
)

OWNER = "0x" + "1" * 40
CONTRACT = "0x" + "c" * 40


class FakeSource:
    """Serves fixed pages of token ids, each after its own delay (or an error)."""

    def __init__(
        self, name: str, pages: list[list[int]], delays: list[float] | None = None
    ) -> None:
        self.name = name
        self.pages = pages
        self.delays = delays or [0.0] * len(pages)
        self.fail_at: int | None = None
        self.expire_at: int | None = None
        self.calls = 0

    def supports(self, chain: Chain) -> bool:
        return True

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage:
        index = int(cursor or 0)
        self.calls += 1
        await asyncio.sleep(self.delays[index])
        if self.fail_at == index:
            raise ProviderUnavailable(self.name, "HTTP 503")
        if self.expire_at == index:
            self.expire_at = None
            raise ProviderCursorExpired(self.name, "page key expired")
        records = tuple(
            NFTRecord(
                source=self.name,
                chain=chain,
                contract_address=CONTRACT,
                token_id=str(t),
                # Token ids from 900 up are ones the provider flags as spam.
                spam_signals=(SpamSignal(self.name, "isSpam"),) if t >= 900 else (),
            )
            for t in self.pages[index]
        )
        more = index + 1 < len(self.pages)
        return HoldingsPage(records=records, next_cursor=str(index + 1) if more else None)


class ChainSource:
    """Fixed pages per chain (a :class:`FakeSource` each), answered after that chain's delay."""

    def __init__(
        self, name: str, pages: dict[Chain, list[list[int]]], delays: dict[Chain, float]
    ) -> None:
        self.name = name
        self.chains = {
            chain: FakeSource(name, chain_pages, [delays[chain]] * len(chain_pages))
            for chain, chain_pages in pages.items()
        }

    def supports(self, chain: Chain) -> bool:
        return chain in self.chains

    async def fetch_holdings_page(
        self, owner: str, chain: Chain, cursor: str | None
    ) -> HoldingsPage:
        return await self.chains[chain].fetch_holdings_page(owner, chain, cursor)


def walk_of(
    *sources: FakeSource | ChainSource, chains: tuple[Chain, ...] = (Chain.ETHEREUM,)
) -> WalletWalk:
    return WalletWalk(
        OWNER, list(sources), chains, DEFAULT_FIELD_PRIORITY, cap=10_000, provider_deadline=5
    )


def order(walk: WalletWalk, spam: SpamFilter = SpamFilter.INCLUDE) -> list[str]:
    return [h.key.token_id for h in walk.visible(spam)]


async def test_rounds_interleave_streams_in_configured_order() -> None:
    opensea = FakeSource("opensea", [[1, 2], [5]])
    alchemy = FakeSource("alchemy", [[3, 1], [4], [6]])
    walk = walk_of(opensea, alchemy)
    await walk.run()
    # round 0: opensea 1 2, alchemy 3 (1 is merged in place); round 1: 5, 4; round 2: 6
    assert order(walk) == ["1", "2", "3", "5", "4", "6"]
    assert walk.exact
    assert walk.visible(SpamFilter.INCLUDE)[0].sources == ("opensea", "alchemy")


@settings(max_examples=25, deadline=None)
@given(delays=st.lists(st.sampled_from([0.0, 0.001, 0.003]), min_size=6, max_size=6))
def test_the_order_does_not_depend_on_timing(delays: list[float]) -> None:
    pages_a = [[1, 2, 3], [4, 5], [6]]
    pages_b = [[5, 7], [1, 8], [9]]
    walk = walk_of(
        FakeSource("opensea", pages_a, delays[:3]), FakeSource("alchemy", pages_b, delays[3:])
    )
    asyncio.run(walk.run())
    assert order(walk) == ["1", "2", "3", "5", "7", "4", "8", "6", "9"]


async def test_a_page_is_served_from_the_committed_prefix_before_the_walk_ends() -> None:
    slow_tail = FakeSource("alchemy", [[1, 2, 3], [4], [5]], delays=[0.0, 0.0, 0.5])
    walk = walk_of(slow_tail)
    task = asyncio.create_task(walk.run())
    await walk.wait_for(3, SpamFilter.EXCLUDE, exact_wait=0)
    assert not walk.complete
    assert order(walk)[:3] == ["1", "2", "3"]
    assert not walk.exact
    await task
    assert order(walk) == ["1", "2", "3", "4", "5"]  # what was served did not move


async def test_a_walk_judges_as_it_commits_so_its_first_reader_judges_nothing(
    monkeypatch: MonkeyPatch,
) -> None:
    # Each NFT gets its spam verdict as its part of the walk commits, once however many
    # providers list it, not all at once from the first reader after a long walk (every
    # other request of the process waited while 10,000 were judged).
    judged: list[NFTKey] = []
    real_judge = walk_module.judge

    def counting_judge(nft: NFTRecord, lists: ContractLists = NO_LISTS) -> SpamVerdict:
        judged.append(nft.key)
        return real_judge(nft, lists)

    monkeypatch.setattr(walk_module, "judge", counting_judge)
    opensea = FakeSource("opensea", [list(range(60)), list(range(60, 120))])
    alchemy = FakeSource("alchemy", [list(range(60)), list(range(60, 120)), [5, 900]])
    walk = walk_of(opensea, alchemy)
    await walk.run()
    # 120 NFTs both list: once each; 5, committed in round 0, again when alchemy's round 2
    # merges into it (readable already); 900 (spam) when round 2 commits.
    assert len(judged) == 122
    assert set(judged) == {NFTKey(Chain.ETHEREUM, CONTRACT, str(t)) for t in [*range(120), 900]}
    assert order(walk, SpamFilter.EXCLUDE) == [str(t) for t in range(120)]
    assert order(walk, SpamFilter.ONLY) == ["900"]
    assert len(judged) == 122  # reading judged nothing


async def test_a_big_page_is_merged_in_slices_while_other_requests_are_served() -> None:
    # A provider's page of hundreds of NFTs is tens of ms of merging; the event loop serves
    # other requests between slices, and none of the page is served before all of it is.
    size = 3 * MERGE_SLICE + 7
    walk = walk_of(FakeSource("opensea", [list(range(size))]))
    sizes_seen: set[int] = set()
    served: set[int] = set()

    async def another_request() -> None:
        while not walk.complete:
            sizes_seen.add(walk.size)
            served.add(len(walk.visible(SpamFilter.INCLUDE)))
            await asyncio.sleep(0)

    await asyncio.gather(walk.run(), another_request())
    assert {MERGE_SLICE, 2 * MERGE_SLICE, 3 * MERGE_SLICE} <= sizes_seen  # served mid-merge
    assert served <= {0, size}
    assert order(walk) == [str(t) for t in range(size)]


async def test_a_round_is_served_once_its_last_page_is_in_while_the_next_is_out() -> None:
    # Round 0 ends with the middle stream's page; its next page is still out (and the
    # streams before it have ended), yet round 0 is there to read.
    first, last = FakeSource("opensea", [[1]]), FakeSource("moralis", [[4]])
    middle = FakeSource("alchemy", [[2], [3]], delays=[0.05, 0.5])
    walk = walk_of(first, middle, last)
    task = asyncio.create_task(walk.run())
    await walk.wait_for(3, SpamFilter.EXCLUDE, exact_wait=0)
    assert not walk.complete
    assert order(walk) == ["1", "2", "4"]
    await task
    assert order(walk) == ["1", "2", "4", "3"]


async def test_a_chains_holdings_are_served_while_a_later_chains_list_call_is_out() -> None:
    chains = (Chain.ETHEREUM, Chain.POLYGON)
    delays = {Chain.ETHEREUM: 0.0, Chain.POLYGON: 0.5}
    opensea = ChainSource("opensea", {Chain.ETHEREUM: [[1, 2]], Chain.POLYGON: [[7]]}, delays)
    alchemy = ChainSource("alchemy", {Chain.ETHEREUM: [[3, 1]], Chain.POLYGON: [[8]]}, delays)
    walk = walk_of(opensea, alchemy, chains=chains)
    task = asyncio.create_task(walk.run())
    await walk.wait_for(3, SpamFilter.EXCLUDE, exact_wait=0)
    assert not walk.complete
    # Both providers' Ethereum pages are in: token 1 shows both views.
    assert order(walk) == ["1", "2", "3"]
    assert walk.visible(SpamFilter.INCLUDE)[0].sources == ("opensea", "alchemy")
    await task
    assert order(walk) == ["1", "2", "3", "7", "8"]


async def test_a_chain_is_not_served_before_its_last_providers_page() -> None:
    chains = (Chain.ETHEREUM, Chain.POLYGON)
    opensea = ChainSource(
        "opensea", {Chain.ETHEREUM: [[1, 2]], Chain.POLYGON: [[7]]}, {c: 0.0 for c in chains}
    )
    # Alchemy's Ethereum page is slow and flags token 2 as spam (ids from 900 are flagged,
    # so it lists 902 as well): until it is in, Ethereum's part of round 0 is not served.
    alchemy = ChainSource(
        "alchemy",
        {Chain.ETHEREUM: [[902, 1]], Chain.POLYGON: [[8]]},
        {Chain.ETHEREUM: 0.3, Chain.POLYGON: 0.0},
    )
    walk = walk_of(opensea, alchemy, chains=chains)
    task = asyncio.create_task(walk.run())
    await asyncio.sleep(0.1)  # OpenSea's pages and Alchemy's Polygon page are in
    assert order(walk) == []
    await task
    assert order(walk, SpamFilter.INCLUDE) == ["1", "2", "902", "7", "8"]


async def test_holdings_committed_by_a_stream_ending_empty_are_seen() -> None:
    # The last stream of the round ends without a page: the round is committed without a
    # merge, and a reader who looked before must see it.
    failing = FakeSource("alchemy", [[]], delays=[0.05])
    failing.fail_at = 0
    walk = walk_of(FakeSource("opensea", [[1]]), failing)
    task = asyncio.create_task(walk.run())
    await asyncio.sleep(0.01)
    assert order(walk) == []  # OpenSea's page is merged, the round not yet committed
    await task
    assert order(walk) == ["1"]


@settings(max_examples=25, deadline=None)
@given(
    delays=st.lists(st.sampled_from([0.0, 0.001, 0.003]), min_size=4, max_size=4),
    looks=st.lists(st.sampled_from([0.0, 0.001, 0.002]), min_size=1, max_size=6),
)
def test_every_prefix_served_while_walking_is_a_prefix_of_the_final_order(
    delays: list[float], looks: list[float]
) -> None:
    chains = (Chain.ETHEREUM, Chain.POLYGON)
    opensea = ChainSource(
        "opensea",
        {Chain.ETHEREUM: [[1, 2], [3]], Chain.POLYGON: [[7, 900], [8]]},
        dict(zip(chains, delays[:2], strict=True)),
    )
    alchemy = ChainSource(
        "alchemy",
        {Chain.ETHEREUM: [[4, 1], [2, 5]], Chain.POLYGON: [[9], [901, 7]]},
        dict(zip(chains, delays[2:], strict=True)),
    )

    async def walk_and_look() -> tuple[list[list[str]], list[str]]:
        walk = walk_of(opensea, alchemy, chains=chains)
        task = asyncio.create_task(walk.run())
        seen = []
        for pause in looks:
            await asyncio.sleep(pause)
            seen.append(order(walk, SpamFilter.EXCLUDE))
        await task
        return seen, order(walk, SpamFilter.EXCLUDE)

    seen, final = asyncio.run(walk_and_look())
    assert final == ["1", "2", "4", "7", "9", "3", "5", "8"]
    for prefix in seen:
        assert final[: len(prefix)] == prefix


async def test_spam_filters_select_from_the_same_order() -> None:
    walk = walk_of(FakeSource("alchemy", [[1, 900, 2, 901]]))
    await walk.run()
    assert order(walk, SpamFilter.EXCLUDE) == ["1", "2"]
    assert order(walk, SpamFilter.ONLY) == ["900", "901"]
    assert walk.best_total(SpamFilter.EXCLUDE) == 2


async def test_a_failing_stream_keeps_the_others_and_is_reported() -> None:
    broken = FakeSource("opensea", [[1], [2]])
    broken.fail_at = 1
    walk = walk_of(broken, FakeSource("alchemy", [[3], [4]]))
    await walk.run()
    assert order(walk) == ["1", "3", "4"]
    assert [r.status for r in walk.reports] == ["failed", "ok"]
    assert walk.reports[0].error_kind == "unavailable"
    assert not walk.exact and not walk.all_failed


async def test_an_expired_cursor_restarts_the_stream_without_duplicates() -> None:
    source = FakeSource("alchemy", [[1, 2], [3], [4]])
    source.expire_at = 2
    walk = walk_of(source)
    await walk.run()
    assert order(walk) == ["1", "2", "3", "4"]
    assert walk.exact


async def test_a_looping_cursor_ends_the_stream_as_truncated() -> None:
    class Looping(FakeSource):
        async def fetch_holdings_page(
            self, owner: str, chain: Chain, cursor: str | None
        ) -> HoldingsPage:
            page = await super().fetch_holdings_page(owner, chain, None)
            return HoldingsPage(records=page.records, next_cursor="same")

    walk = walk_of(Looping("alchemy", [[1, 2]]))
    await walk.run()
    assert order(walk) == ["1", "2"]
    assert walk.reports[0].status == "truncated"
    assert not walk.exact


@pytest.mark.parametrize(
    "chains", [(Chain.ETHEREUM, Chain.POLYGON), (Chain.POLYGON, Chain.ETHEREUM)]
)
async def test_chains_come_in_configured_order(chains: tuple[Chain, ...]) -> None:
    walk = walk_of(FakeSource("alchemy", [[1]]), chains=chains)
    await walk.run()
    assert [h.key.chain for h in walk.visible(SpamFilter.INCLUDE)] == list(chains)


@pytest.mark.parametrize("big", [False, True], ids=["plain", "compressed"])
async def test_a_restored_snapshot_pages_exactly_like_the_walk(big: bool) -> None:
    tail = list(range(10, 400)) if big else [5]
    opensea = FakeSource("opensea", [[1, 2, 900], tail])
    alchemy = FakeSource("alchemy", [[3, 1], [4, *tail[::3]]])
    walk = walk_of(opensea, alchemy)
    await walk.run()
    data = orjson.loads(orjson.dumps(encode_walk(walk)))  # as any cache layer stores it
    assert ("zlib" in data) is big
    restored = decode_walk(data, DEFAULT_FIELD_PRIORITY)
    assert restored.complete and restored.exact
    for spam in SpamFilter:
        assert restored.visible(spam) == walk.visible(spam)
        assert restored.best_total(spam) == walk.best_total(spam)
    assert [r.status for r in restored.reports] == [r.status for r in walk.reports]


def test_a_snapshot_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_walk({"version": 1, "owner": OWNER, "holdings": [], "reports": []}, {})


def test_a_collections_floor_and_an_nfts_traits_are_held_once_per_walk() -> None:
    """A big wallet is held for minutes: equal values quoted by several providers (a
    collection's floor on each of its NFTs, an NFT's traits) are one object, unchanged."""

    def record(source: str, token_id: int) -> NFTRecord:
        return NFTRecord(
            source=source,
            chain=Chain.ETHEREUM,
            contract_address=CONTRACT,
            token_id=str(token_id),
            traits=(Trait("Eyes", "Blue"), Trait("Hat", str(token_id))),
            floor=FloorPrice(value=0.5, currency="ETH", source="moralis", fetched_at=1.0),
        )

    holdings = [[record("opensea", t), record("moralis", t)] for t in (1, 2)]
    walk = WalletWalk.restored(OWNER, holdings, [], DEFAULT_FIELD_PRIORITY, fetched_at=1.0)
    records = [r for h in walk.holdings for r in (h.nft, *h.records)]
    assert {id(r.floor) for r in records} == {id(records[0].floor)}
    assert records[0].floor == holdings[0][0].floor
    for holding in walk.holdings:
        assert {id(r.traits) for r in (holding.nft, *holding.records)} == {id(holding.nft.traits)}
    assert [h.nft.traits for h in walk.holdings] == [holdings[0][0].traits, holdings[1][0].traits]
