"""The spam verdict: the gateway's own, from what each tier really gives, with reasons.

End to end on the sandbox's labelled wallet (free tier by default, as a customer without a paid
Alchemy plan sees it), and the verdict's rules and operator lists on literals.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.nfts.spam import NOT_SPAM, SpamJudge, SpamVerdict, judge, parse_lists
from gateway.settings import SpamSettings
from providers.models import Chain, NFTRecord, SpamSignal, TokenStandard
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.labelled import GENUINE_BAYC, LABELLED_WALLET
from providers.sandbox.world import world
from tests.conftest import gateway_client, sandbox_settings

CONTRACT = "0x" + "ab" * 20

QUERY = """
query ($address: String!, $page: Int!, $spam: SpamFilter!, $nsfw: NsfwFilter!) {
  wallet(address: $address) {
    nfts(page: $page, size: 100, spam: $spam, nsfw: $nsfw) {
      total hasNextPage
      assets { nft { chain contractAddress tokenId isSpam spamReasons isNsfw tradingDisabled } }
    }
  }
}
"""


def nft(**fields: Any) -> NFTRecord:
    values: dict[str, Any] = {
        "source": "merged",
        "chain": Chain.POLYGON,
        "contract_address": CONTRACT,
        "token_id": "1",
    }
    return NFTRecord(**{**values, **fields})


async def every_nft(
    client: httpx.AsyncClient, spam: str = "INCLUDE", nsfw: str = "INCLUDE"
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        variables = {"address": LABELLED_WALLET, "page": page, "spam": spam, "nsfw": nsfw}
        response = await client.post("/graphql", json={"query": QUERY, "variables": variables})
        body = response.json()
        assert "errors" not in body, body
        nfts = body["data"]["wallet"]["nfts"]
        found += [asset["nft"] for asset in nfts["assets"]]
        if not nfts["hasNextPage"]:
            return found
        page += 1


def labels() -> dict[tuple[str, str, str], bool]:
    return {
        (n.chain.value.upper(), n.contract, n.token_id): n.collection.is_spam
        for c in Chain
        for n in world().holdings(LABELLED_WALLET, c)
    }


def hidden_shares(listed: list[dict[str, Any]]) -> tuple[float, float]:
    """(share of the spam hidden, share of the legitimate NFTs hidden) by the default filter."""
    truth = labels()
    shown = {(n["chain"], n["contractAddress"].lower(), n["tokenId"]) for n in listed}
    spam = [key for key, is_spam in truth.items() if is_spam]
    legit = [key for key, is_spam in truth.items() if not is_spam]
    return (
        sum(key not in shown for key in spam) / len(spam),
        sum(key not in shown for key in legit) / len(legit),
    )


@pytest.mark.parametrize("tier", ["free", "paid"])
async def test_the_default_filter_hides_the_spam_and_keeps_the_rest(tier: str) -> None:
    sandbox = build_sandbox(alchemy_spam_tier=tier)
    async with gateway_client(sandbox, sandbox_settings()) as client:
        listed = await every_nft(client, spam="EXCLUDE")

    spam_hidden, legit_hidden = hidden_shares(listed)
    assert spam_hidden >= 0.90
    assert legit_hidden <= 0.01


async def test_every_spam_verdict_says_why(client: httpx.AsyncClient) -> None:
    everything = await every_nft(client)

    spam = [n for n in everything if n["isSpam"]]
    assert spam and all(n["spamReasons"] for n in spam)
    assert all(n["spamReasons"] == [] for n in everything if not n["isSpam"])
    reasons = {reason for n in spam for reason in n["spamReasons"]}
    assert {"link_in_name", "claim_wording", "currency_amount", "lookalike"} <= reasons
    # On Alchemy's free tier only Moralis's possible_spam is a provider flag.
    assert not any(reason.startswith("flag:alchemy:") for reason in reasons)


async def test_paid_tier_flags_are_reasons_too() -> None:
    async with gateway_client(build_sandbox(alchemy_spam_tier="paid"), sandbox_settings()) as c:
        everything = await every_nft(c)
    flagged = [n for n in everything if "flag:alchemy:isSpam" in n["spamReasons"]]
    assert flagged and {n["chain"] for n in flagged} <= {"ETHEREUM", "POLYGON"}


async def test_nsfw_is_listed_flagged_and_filterable(client: httpx.AsyncClient) -> None:
    default = await every_nft(client, spam="EXCLUDE")
    without = await every_nft(client, spam="EXCLUDE", nsfw="EXCLUDE")
    only = await every_nft(client, spam="EXCLUDE", nsfw="ONLY")

    nsfw = [n for n in default if n["isNsfw"]]
    assert nsfw and not any(n["isSpam"] for n in nsfw)
    assert len(without) == len(default) - len(nsfw)
    assert not any(n["isNsfw"] for n in without)
    assert only and all(n["isNsfw"] for n in only) and len(only) == len(nsfw)


async def test_trading_disabled_is_a_fact_not_spam(client: httpx.AsyncClient) -> None:
    default = await every_nft(client, spam="EXCLUDE")
    disabled = [n for n in default if n["tradingDisabled"]]
    assert disabled and not any(n["isSpam"] for n in disabled)


async def test_a_genuine_collection_seen_only_by_opensea_is_not_its_own_lookalike(
    client: httpx.AsyncClient,
) -> None:
    everything = await every_nft(client)
    genuine = [n for n in everything if n["contractAddress"].lower() == GENUINE_BAYC]
    assert len(genuine) == 3 and not any(n["isSpam"] for n in genuine)


# -- the verdict on literals ----------------------------------------------------------------


def test_verified_collections_are_never_spam_by_content_alone() -> None:
    lure = nft(name="Claim 5,000 USDT at usdc-gift.com", token_standard=TokenStandard.ERC1155)
    assert judge(lure).is_spam
    assert judge(nft(**{**_fields(lure), "collection_verified": True})) == NOT_SPAM


def test_a_provider_flag_is_spam_with_its_provider_named() -> None:
    flagged = nft(name="Harmless", spam_signals=(SpamSignal("moralis", "possible_spam"),))
    assert judge(flagged) == SpamVerdict(True, ("flag:moralis:possible_spam",))


def test_two_weak_hints_are_spam_one_is_not() -> None:
    edition = nft(token_standard=TokenStandard.ERC1155, collection_verified=False, name="Drift")
    assert judge(edition) == NOT_SPAM
    lured = nft(**{**_fields(edition), "description": "Redeem your allocation at our site"})
    assert judge(lured) == SpamVerdict(True, ("claim_in_description", "unverified_erc1155"))


@pytest.mark.parametrize(
    "name",
    ["alice.eth", "bob.bit", "🌸 Sakura Study #2", "ดอกไม้ยามเช้า #3", "夜の街 #5", "Harbor Owls #1"],
)
def test_names_in_any_script_are_not_lures(name: str) -> None:
    assert judge(nft(name=name, collection_name=name)) == NOT_SPAM


def test_operator_lists_override_everything() -> None:
    flagged = nft(spam_signals=(SpamSignal("alchemy", "isSpam"),))
    lists = parse_lists([CONTRACT], [], [])
    assert judge(flagged, lists) == NOT_SPAM
    deny = parse_lists([], [f"polygon:{CONTRACT}"], [])
    assert judge(nft(collection_verified=True), deny) == SpamVerdict(True, ("operator_deny",))
    assert judge(nft(chain=Chain.BASE), deny) == NOT_SPAM  # another chain's contract


def test_a_bad_list_line_is_skipped_not_fatal() -> None:
    lists = parse_lists([], [], ["deny not-a-contract", "banish 0x" + "1" * 40, f"deny {CONTRACT}"])
    assert lists.deny == frozenset({CONTRACT}) and not lists.allow


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_lists_file_is_reloaded_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "spam-lists.txt"
    path.write_text(f"deny {CONTRACT}\n")
    clock = Clock()
    settings = SpamSettings(spam_lists_file=str(path), spam_lists_check_interval=5)
    spam_judge = SpamJudge(settings, clock=clock)
    assert spam_judge.verdict(nft()).reasons == ("operator_deny",)

    path.write_text(f"# flipped\nallow {CONTRACT}\n")
    os.utime(path, (1, 10**9 + 5))  # a new modification time, whatever the filesystem's clock
    assert spam_judge.verdict(nft()).is_spam  # not checked again before the interval
    clock.now += 5
    assert spam_judge.verdict(nft(spam_signals=(SpamSignal("alchemy", "isSpam"),))) == NOT_SPAM


async def test_a_list_change_reaches_a_walk_already_in_memory(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "spam-lists.txt"
    path.write_text("")
    settings = sandbox_settings(spam_lists_file=str(path), spam_lists_check_interval=0)
    async with gateway_client(sandbox, settings) as client:
        before = await every_nft(client, spam="EXCLUDE")
        target = before[0]
        path.write_text(f"deny {target['contractAddress']}\n")
        os.utime(path, (1, 10**9 + 7))
        after = await every_nft(client, spam="EXCLUDE")
    gone = [n for n in before if n["contractAddress"] == target["contractAddress"]]
    assert len(after) == len(before) - len(gone)


def _fields(record: NFTRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}
