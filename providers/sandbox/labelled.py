"""The labelled spam wallet: a realistic mix of spam and legitimate NFTs, each labelled.

``LABELLED_WALLET`` (0x9999…9999) holds about 500 NFTs on Ethereum, Polygon and Base, most
of the spam on Polygon (where wallet teams see most of it). The label is
:attr:`SandboxCollection.is_spam`; what the vendors *say* is separate and partial, as in
the wild:

* OpenSea has no spam field; its ``safelist_status`` is ``verified``/``approved`` for the
  collections it vouches for, ``not_requested``/``requested`` otherwise, and some spam
  contracts are unknown to it (``""``: no collection, no listing);
* Alchemy's paid classifier flags about 70 % of the spam on Ethereum and Polygon and
  none on Base; its free tier flags nothing; Moralis's ``possible_spam`` flags about half
  of it on every chain and plan (``verified_collection`` is OpenSea's "verified");
* spam that no provider flags, spam with no lure in its text, legitimate NFTs with links
  and the word "claim" in their descriptions, unverified ERC-1155 editions, NSFW art and
  trading-disabled items in verified collections, emoji, Thai and Japanese names.

Kinds (see :data:`SPAM_KINDS`, :data:`LEGIT_KINDS`) are generated from fixed seeds, so the
bench (``bench/spam.py``) and the tests see the same set.
"""

from __future__ import annotations

import random
from hashlib import sha256

from providers.models import Chain, TokenStandard
from providers.sandbox.world import SandboxCollection, SandboxNFT, World, svg_data_uri

__all__ = ["GENUINE_BAYC", "LABELLED_WALLET", "LEGIT_KINDS", "SPAM_KINDS", "build_labelled"]

LABELLED_WALLET = "0x" + "9" * 40
# The real Bored Ape Yacht Club contract: a genuine holding next to its lookalikes.
GENUINE_BAYC = "0xbc4ca0eda7647a8ab7c2061c2e118a18a936f13d"

_DOMAINS = (
    "usdc-gift.com",
    "ape-claim.xyz",
    "uni-v4.app",
    "eth-bonus.net",
    "lido-drop.io",
    "opensea-pro.site",
    "blur-rewards.top",
    "arb-claim.org",
)
_CLAIM_NAMES = (
    "Airdrop Voucher",
    "Claim Your Pass",
    "Reward Token",
    "Mystery Box Reward",
    "Exclusive Giveaway",
    "Bonus Allocation",
    "Redeem Ticket",
    "Free Mint Pass",
)
_AMOUNTS = (
    "5,000 USDT",
    "$2500",
    "0.75 ETH",
    "10000 APE",
    "1000$ USDC",
    "$ 300",
    "2.5 WETH",
    "50,000 MATIC",
)
_FAMOUS = (
    "Bored Ape Yacht Club",
    "CryptoPunks",
    "Azuki",
    "Pudgy Penguins",
    "Doodles",
    "Moonbirds",
    "Mutant Ape Yacht Club",
    "CloneX",
    "Milady Maker",
    "World of Women",
)
_ART_NAMES = (
    "Sunset Study",
    "🌸 Sakura Study",
    "ดอกไม้ยามเช้า",
    "夜の街",
    "Quiet Harbour",
    "Field Notes",
    "สวนฝัน",
    "Blue Hour",
    "🌊 Tide Pool",
    "Paper Birds",
)
_EDITION_NAMES = (
    "Morning Light",
    "Open Edition: Drift",
    "Studio Sketch",
    "Signal",
    "Lost Frames",
    "Night Bus",
)

# (kind, how many NFTs): each spam kind leans on one lure, or none.
SPAM_KINDS: tuple[tuple[str, int], ...] = (
    ("link_only", 30),
    ("claim_only", 50),
    ("amount_only", 40),
    ("lookalike", 35),
    ("combo", 60),
    ("subtle_description", 40),
    ("no_clue", 20),
)
LEGIT_KINDS: tuple[tuple[str, int], ...] = (
    ("verified_pfp", 60),
    ("genuine_famous", 3),
    ("verified_nsfw", 8),
    ("verified_trading_disabled", 6),
    ("unverified_art", 50),
    ("unverified_edition", 50),
    ("approved_badge", 30),
    ("names", 10),
    ("claim_in_description", 5),
    ("game_item", 6),
)


def build_labelled(w: World) -> None:
    """Add the labelled wallet's collections and NFTs to ``w``."""
    builder = _Builder(w, random.Random(12))
    for kind, count in SPAM_KINDS:
        for i in range(count):
            builder.spam(kind, i)
    for kind, count in LEGIT_KINDS:
        for i in range(count):
            builder.legit(kind, i)


class _Builder:
    def __init__(self, w: World, rng: random.Random) -> None:
        self.w = w
        self.rng = rng
        self.token = 0

    # -- spam ----------------------------------------------------------------------------

    def spam(self, kind: str, i: int) -> None:
        rng = self.rng
        chain = rng.choices([Chain.POLYGON, Chain.ETHEREUM, Chain.BASE], [6, 3, 1])[0]
        standard = TokenStandard.ERC1155 if rng.random() < 0.8 else TokenStandard.ERC721
        name, description = self._spam_text(kind, i)
        if kind in ("subtle_description", "no_clue"):
            standard = TokenStandard.ERC1155
        flagged = chain is not Chain.BASE and (kind == "no_clue" or rng.random() < 0.7)
        collection = SandboxCollection(
            chain,
            _address(f"labelled-spam:{kind}:{i}"),
            f"{kind.replace('_', '-')}-{i}",
            name.split(" #")[0],
            standard,
            1_000_000 if standard is TokenStandard.ERC1155 else 10_000,
            is_spam=True,
            ranked=False,
            safelist=rng.choice(["not_requested"] * 6 + ["requested", ""]),
            alchemy_flags=(_flags(standard) if flagged else ()),
            # Moralis's possible_spam catches about half, on every plan.
            moralis_flags=rng.random() < 0.5,
        )
        self._add(collection, name, description, in_opensea=collection.safelist != "")

    def _spam_text(self, kind: str, i: int) -> tuple[str, str | None]:
        domain = _DOMAINS[i % len(_DOMAINS)]
        if kind == "link_only":
            return [domain, f"www.{domain}", f"t.me/drop_{i}"][i % 3], None
        if kind == "claim_only":
            return f"{_CLAIM_NAMES[i % len(_CLAIM_NAMES)]} #{i + 1}", None
        if kind == "amount_only":
            return f"{_AMOUNTS[i % len(_AMOUNTS)]}", None
        if kind == "lookalike":
            return f"{_FAMOUS[i % len(_FAMOUS)]} #{100 + i}", None
        if kind == "combo":
            amount = _AMOUNTS[i % len(_AMOUNTS)]
            return f"🎁 Claim {amount} at {domain}", f"Visit https://{domain} to claim your reward."
        if kind == "subtle_description":
            return f"Access Key #{i + 1}", f"Your allocation is ready. Redeem at https://{domain}"
        return f"Genesis Token #{i + 1}", None  # no_clue: nothing in the text gives it away

    # -- legitimate --------------------------------------------------------------------------

    def legit(self, kind: str, i: int) -> None:
        chain, standard, safelist, name, description = self._legit_shape(kind, i)
        contract = (
            GENUINE_BAYC if kind == "genuine_famous" else _address(f"labelled:{kind}:{i // 4}")
        )
        existing = self.w.collection(chain, contract)
        collection = existing or SandboxCollection(
            chain,
            contract,
            f"labelled-{kind.replace('_', '-')}-{i // 4}",
            "Name Service" if kind == "names" else name.split(" #")[0],
            standard,
            10_000 if standard is TokenStandard.ERC721 else 500,
            ranked=standard is TokenStandard.ERC721 and safelist == "verified",
            safelist=safelist,
            alchemy_flags=(),
            is_nsfw=kind == "verified_nsfw",
            trading_disabled=kind == "verified_trading_disabled",
        )
        # One genuine ape is indexed by OpenSea only: nothing says "verified" at list time.
        # Game items are on Alchemy only (OpenSea does not list them).
        in_alchemy = not (kind == "genuine_famous" and i == 0)
        self._add(
            collection, name, description, in_opensea=kind != "game_item", in_alchemy=in_alchemy
        )

    def _legit_shape(self, kind: str, i: int) -> tuple[Chain, TokenStandard, str, str, str | None]:
        erc721, erc1155 = TokenStandard.ERC721, TokenStandard.ERC1155
        if kind == "verified_pfp":
            return Chain.ETHEREUM, erc721, "verified", f"Harbor Owls #{i + 1}", None
        if kind == "genuine_famous":
            return Chain.ETHEREUM, erc721, "verified", f"Bored Ape Yacht Club #{4000 + i}", None
        if kind == "verified_nsfw":
            return Chain.ETHEREUM, erc721, "verified", f"Velvet Figures #{i + 1}", "Figure studies."
        if kind == "verified_trading_disabled":
            return Chain.ETHEREUM, erc721, "verified", f"Frozen Lake #{i + 1}", None
        if kind == "unverified_art":
            art = _ART_NAMES[i % len(_ART_NAMES)]
            text = f"{art}, by an independent artist. More at https://artist{i % 7}.example"
            return (
                Chain.BASE if i % 3 == 0 else Chain.ETHEREUM,
                erc721,
                "not_requested",
                f"{art} #{i + 1}",
                text,
            )
        if kind == "unverified_edition":
            title = _EDITION_NAMES[i % len(_EDITION_NAMES)]
            text = f"An open edition. https://zora.example/collect/{i}"
            return Chain.BASE if i % 2 else Chain.POLYGON, erc1155, "not_requested", title, text
        if kind == "approved_badge":
            return (
                Chain.POLYGON,
                erc1155,
                "approved",
                f"Community Badge {i + 1}",
                "Thanks for coming.",
            )
        if kind == "names":
            label = ["alice.eth", "bob.bit", "ร้านกาแฟ.eth", "🦊.eth", "vault.eth"][i % 5]
            return Chain.ETHEREUM, erc721, "verified", label, "A name."
        if kind == "claim_in_description":
            text = "Holders can claim a signed physical print."
            return Chain.ETHEREUM, erc721, "not_requested", f"Print Proof #{i + 1}", text
        return Chain.POLYGON, erc1155, "not_requested", f"Iron Sword {i + 1}", "A game item."

    # -- both ----------------------------------------------------------------------------------

    def _add(
        self,
        collection: SandboxCollection,
        name: str,
        description: str | None,
        *,
        in_opensea: bool = True,
        in_alchemy: bool = True,
    ) -> None:
        collection = self.w.collection(
            collection.chain, collection.contract
        ) or self.w.add_collection(collection)
        self.token += 1
        seed = int(sha256(f"labelled:{self.token}".encode()).hexdigest()[:8], 16)
        quantity = 1 if collection.standard is TokenStandard.ERC721 else 1 + seed % 5
        self.w.add_nft(
            SandboxNFT(
                collection=collection,
                token_id=str(self.token),
                name=name,
                description=description,
                image=svg_data_uri(name, seed),
                original_image=f"https://media.sandbox.invalid/{collection.slug}/{self.token}.svg",
                animation=None,
                traits=(),
                rank=None,
                holders={LABELLED_WALLET: quantity},
                in_opensea=in_opensea,
                in_alchemy=in_alchemy,
            )
        )


def _flags(standard: TokenStandard) -> tuple[str, ...]:
    # Classification names from Alchemy's NFT API FAQ (UPSTREAMS.md §2.9).
    if standard is TokenStandard.ERC1155:
        return ("MostlyHoneyPotOwners", "OwnedByMostHoneyPots")
    return ("Erc721TooManyOwners", "Erc721DishonestTotalSupply")


def _address(label: str) -> str:
    return "0x" + sha256(label.encode()).hexdigest()[:40]
