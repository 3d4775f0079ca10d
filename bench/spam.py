"""``python -m bench.spam``: how well the spam verdict does on the sandbox's labelled wallet.

The labelled wallet (``providers/sandbox/labelled.py``: about 500 NFTs, spam and legitimate,
each labelled) is listed by the gateway's NFT service (the one both faces call), in process,
on the sandbox, once per Alchemy tier (``free``: no spam fields; ``paid``: flags on Ethereum
and Polygon only). Against the labels this prints, per tier:

* per reason (a content rule or a provider flag): how many NFTs it fires on, whatever the
  verdict (a rule fires on verified collections too; the verdict then ignores it),
  precision (the share of those that are spam) and recall (the share of all spam);
* overall: precision and recall of the verdict, and what the default filter hides: the share
  of the spam (goal: at least 90 %) and of the legitimate NFTs (goal: at most 1 %).

Exits non-zero when a goal is missed, so it can gate a change. No network, a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from dataclasses import dataclass, replace

from asgi_lifespan import LifespanManager

from gateway.app import create_app
from gateway.nfts.merging import SpamFilter
from gateway.nfts.service import NFTService
from gateway.nfts.spam import judge
from gateway.nfts.spam_rules import fired_rules
from gateway.settings import Settings
from providers.models import Chain
from providers.sandbox import build_sandbox
from providers.sandbox.labelled import LABELLED_WALLET
from providers.sandbox.world import world

SPAM_HIDDEN_GOAL = 0.90
LEGIT_HIDDEN_GOAL = 0.01

Key = tuple[str, str, str]


@dataclass(frozen=True)
class TierFigures:
    tier: str
    spam: int
    legit: int
    per_reason: dict[str, tuple[int, float, float]]  # reason -> (fired, precision, recall)
    precision: float
    recall: float
    spam_hidden: float
    legit_hidden: float
    unflagged_spam_hidden: float  # with no provider flag at all (content rules, safelist)
    unflagged_legit_hidden: float

    @property
    def meets_goals(self) -> bool:
        return self.spam_hidden >= SPAM_HIDDEN_GOAL and self.legit_hidden <= LEGIT_HIDDEN_GOAL


def labels() -> dict[Key, bool]:
    """``(CHAIN, contract, token id) -> is spam`` for every NFT of the labelled wallet."""
    return {
        (n.chain.value.upper(), n.contract, n.token_id): n.collection.is_spam
        for chain in Chain
        for n in world().holdings(LABELLED_WALLET, chain)
    }


@dataclass(frozen=True)
class Seen:
    is_spam: bool  # the verdict
    fired: tuple[str, ...]  # every content rule and provider flag that fires
    unflagged_is_spam: bool  # the verdict had no provider flagged anything


async def verdicts(tier: str) -> dict[Key, Seen]:
    """Every labelled NFT's verdict and firing reasons, as the gateway sees it on ``tier``."""
    sandbox = build_sandbox(alchemy_spam_tier=tier)
    app = create_app(Settings(sandbox="on", exact_total_wait=5.0), transport=sandbox.transport())
    async with LifespanManager(app):
        service: NFTService = app.state.nft_service
        listed = await service.whole_wallet(LABELLED_WALLET, spam=SpamFilter.INCLUDE)
    found: dict[Key, Seen] = {}
    for holding in listed.holdings:
        nft = holding.nft
        flags = tuple(f"flag:{s.source}:{s.flag}" for s in nft.spam_signals or ())
        rules, _ = fired_rules(nft)
        key = (nft.chain.value.upper(), nft.contract_address, nft.token_id)
        unflagged = judge(replace(nft, spam_signals=None)).is_spam
        found[key] = Seen(holding.is_spam, tuple(dict.fromkeys(flags)) + rules, unflagged)
    return found


def figures(tier: str, truth: dict[Key, bool], found: dict[Key, Seen]) -> TierFigures:
    spam_total = sum(truth.values())
    legit_total = len(truth) - spam_total
    fired: Counter[str] = Counter()
    fired_on_spam: Counter[str] = Counter()
    for key, seen in found.items():
        for reason in seen.fired:
            fired[reason] += 1
            fired_on_spam[reason] += truth[key]
    per_reason = {
        reason: (count, fired_on_spam[reason] / count, fired_on_spam[reason] / spam_total)
        for reason, count in sorted(fired.items())
    }
    flagged = [key for key, seen in found.items() if seen.is_spam]
    true_positives = sum(truth[key] for key in flagged)
    # The default filter hides what the verdict calls spam; an NFT not listed at all (a
    # provider gap) counts as hidden, so a lost legitimate NFT shows up as a miss too.
    hidden = [key for key in truth if key not in found or found[key].is_spam]
    unflagged = [key for key in truth if key not in found or found[key].unflagged_is_spam]
    return TierFigures(
        tier=tier,
        spam=spam_total,
        legit=legit_total,
        per_reason=per_reason,
        precision=true_positives / len(flagged) if flagged else 1.0,
        recall=true_positives / spam_total,
        spam_hidden=sum(truth[key] for key in hidden) / spam_total,
        legit_hidden=sum(not truth[key] for key in hidden) / legit_total,
        unflagged_spam_hidden=sum(truth[key] for key in unflagged) / spam_total,
        unflagged_legit_hidden=sum(not truth[key] for key in unflagged) / legit_total,
    )


def report(result: TierFigures) -> str:
    lines = [
        f"tier={result.tier}: {result.spam} spam, {result.legit} legitimate NFTs",
        f"  {'reason':<40} {'fired':>5} {'precision':>9} {'recall':>7}",
    ]
    for reason, (count, precision, recall) in result.per_reason.items():
        lines.append(f"  {reason:<40} {count:>5} {precision:>9.3f} {recall:>7.3f}")
    lines.append(
        f"  overall: precision {result.precision:.3f}, recall {result.recall:.3f}; "
        f"default filter hides {result.spam_hidden:.1%} of spam "
        f"(goal >= {SPAM_HIDDEN_GOAL:.0%}) and {result.legit_hidden:.1%} of legitimate "
        f"NFTs (goal <= {LEGIT_HIDDEN_GOAL:.0%})"
    )
    lines.append(
        f"  no provider flag at all (content rules and safelist only): hides "
        f"{result.unflagged_spam_hidden:.1%} of spam and {result.unflagged_legit_hidden:.1%} "
        f"of legitimate NFTs"
    )
    return "\n".join(lines)


async def run(tiers: list[str]) -> list[TierFigures]:
    truth = labels()
    return [figures(tier, truth, await verdicts(tier)) for tier in tiers]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tier", choices=["free", "paid"], action="append")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.tier or ["free", "paid"]))
    if args.json:
        print(json.dumps([result.__dict__ for result in results], indent=2))
    else:
        print("\n\n".join(report(result) for result in results))
    return 0 if all(result.meets_goals for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
