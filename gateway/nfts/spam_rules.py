"""Content rules of the spam verdict: what an NFT's own text gives away (pure, no I/O).

Each rule reads one merged :class:`~providers.models.NFTRecord` and answers whether it
fires. Rules are *strong* (one is enough: a lure in the NFT's or collection's name) or
*weak* (two are needed: hints that honest NFTs also show now and then). The verdict
(:mod:`gateway.nfts.spam`) never applies them to a verified or safelisted collection.

================================  ======  =================================================
reason                            weight  fires when
================================  ======  =================================================
``link_in_name``                  strong  a URL, ``www.``, ``t.me/`` or a domain with a
                                          web TLD in the NFT or collection name
``claim_wording``                 strong  claim / reward / voucher / airdrop / giveaway /
                                          bonus / redeem / free mint / mystery box /
                                          eligible in the NFT or collection name
``currency_amount``               strong  an amount of money in the name: ``$2500``,
                                          ``1000$``, ``5,000 USDT``, ``0.75 ETH``
``lookalike``                     strong  the name copies a well-known verified collection
                                          (:data:`WELL_KNOWN`) from another contract
``claim_in_description``          weak    the description urges to claim / redeem / visit
``unverified_erc1155``            weak    an ERC-1155 whose collection is not known to be
                                          verified (the usual shape of an airdropped drop)
================================  ======  =================================================

Links in a description are *not* a rule by themselves: honest collections link their
sites. The lists of words and TLDs are deliberately short; operators add contracts to the
deny list (``NFTGW_SPAM_DENY``) for what slips through.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

from providers.models import Chain, NFTRecord, TokenStandard

__all__ = ["RULES", "STRONG", "WEAK", "WELL_KNOWN", "fired_rules", "normalise_name"]

STRONG = 2
WEAK = 1

# Top-level domains spam links use, and those of ordinary web sites. Not .eth / .bit:
# those are names (ENS, .bit) that honest NFTs carry.
_TLDS = (
    "com|net|org|io|xyz|app|site|top|gift|claims?|fi|finance|co|me|live|pro|click|link|"
    "online|store|vip|ly|gg|to|cc|info|biz|cash|fun|club|network|events?|website|space|tech"
)
_LINK = re.compile(rf"(https?://|www\.|t\.me/|\b[a-z0-9][a-z0-9-]*\.(?:{_TLDS})\b)", re.IGNORECASE)
_CLAIM = re.compile(
    r"\b(claim\w*|rewards?|vouchers?|air-?drops?|giveaways?|bonus(es)?|redeem\w*|"
    r"free\s*mint|mystery\s*box|eligible|allocation)\b",
    re.IGNORECASE,
)
_DESCRIPTION_CALL = re.compile(
    r"\b(claim\w*|redeem\w*|visit|rewards?|voucher|eligible|airdrop)\b", re.IGNORECASE
)
_CURRENCIES = "usdt|usdc|dai|busd|eth|weth|btc|wbtc|ape|matic|pol|bnb|sol|usd|shib|arb|op"
_AMOUNT = re.compile(
    rf"(\$\s?\d[\d,.]*|\d[\d,.]*\s?\$|\b\d[\d,.]*\s?(?:{_CURRENCIES})\b)", re.IGNORECASE
)
_TOKEN_NUMBER = re.compile(r"\s*#?\s*\d+\s*$")

# Well-known verified collections copied by lookalike spam: normalised name -> the genuine
# contracts (Ethereum, lower-case): their public mainnet contract addresses.
WELL_KNOWN: Mapping[str, frozenset[str]] = {
    "boredapeyachtclub": frozenset({"0xbc4ca0eda7647a8ab7c2061c2e118a18a936f13d"}),
    "mutantapeyachtclub": frozenset({"0x60e4d786628fea6478f785a6d7e704777c86a7c6"}),
    "cryptopunks": frozenset({"0xb47e3cd837ddf8e4c57f05d70ab865de6e193bbb"}),
    "azuki": frozenset({"0xed5af388653567af2f388e6224dc7c4b3241c544"}),
    "pudgypenguins": frozenset({"0xbd3531da5cf5857e7cfaa92426877b022e612cf8"}),
    "doodles": frozenset({"0x8a90cab2b38dba80c64b7734e58ee1db38b8992e"}),
    "moonbirds": frozenset({"0x23581767a106ae21c074b2276d25e5c3e136a68b"}),
    "clonex": frozenset({"0x49cf6f5d44e70224e2e23fdcdd2c053f30ada28b"}),
    "miladymaker": frozenset({"0x5af0d9827e0c53e4799bb226655a1de152a425a5"}),
    "worldofwomen": frozenset({"0xe785e82358879f061bc3dcac6f0444462d4b5330"}),
    "meebits": frozenset({"0x7bd29408f11d2bfc23c34f18275bbf23bb716bc7"}),
    "coolcats": frozenset({"0x1a92f7381b9f03921564a437210bb9396471050c"}),
}


def normalise_name(text: str) -> str:
    """``text`` folded for comparison: NFKC, case-folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(char for char in folded if char.isalnum())


def _names(nft: NFTRecord) -> tuple[str, ...]:
    return tuple(text for text in (nft.name, nft.collection_name) if text)


def _link_in_name(nft: NFTRecord) -> bool:
    return any(_LINK.search(text) for text in _names(nft))


def _claim_wording(nft: NFTRecord) -> bool:
    return any(_CLAIM.search(text) for text in _names(nft))


def _currency_amount(nft: NFTRecord) -> bool:
    return any(_AMOUNT.search(text) for text in _names(nft))


def _lookalike(nft: NFTRecord) -> bool:
    genuine = nft.chain is Chain.ETHEREUM
    for text in _names(nft):
        contracts = WELL_KNOWN.get(normalise_name(_TOKEN_NUMBER.sub("", text)))
        if contracts is not None:
            return not (genuine and nft.contract_address in contracts)
    return False


def _claim_in_description(nft: NFTRecord) -> bool:
    return bool(nft.description and _DESCRIPTION_CALL.search(nft.description))


def _unverified_erc1155(nft: NFTRecord) -> bool:
    # Not known to be verified: OpenSea may not know the contract at all (no status).
    return nft.token_standard is TokenStandard.ERC1155 and nft.collection_verified is not True


# reason -> (weight, rule), in the order reasons are reported.
RULES: Mapping[str, tuple[int, Callable[[NFTRecord], bool]]] = {
    "link_in_name": (STRONG, _link_in_name),
    "claim_wording": (STRONG, _claim_wording),
    "currency_amount": (STRONG, _currency_amount),
    "lookalike": (STRONG, _lookalike),
    "claim_in_description": (WEAK, _claim_in_description),
    "unverified_erc1155": (WEAK, _unverified_erc1155),
}


def fired_rules(nft: NFTRecord) -> tuple[tuple[str, ...], int]:
    """``(reasons of the rules that fire, their summed weight)`` for ``nft``."""
    fired = tuple(reason for reason, (_, rule) in RULES.items() if rule(nft))
    return fired, sum(RULES[reason][0] for reason in fired)
