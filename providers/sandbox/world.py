"""The sandbox's bundled data set: one deterministic "world" every emulator renders.

The world is the ground truth; each emulator shows its upstream's view of it, with that
upstream's coverage and gaps (an NFT only OpenSea indexes, a slug Alchemy lacks, ...).
It is generated from fixed seeds, so every run, test and demo sees the same data.

Wallets (all lower-case here; the faces show them checksummed):

=============================================  ==========================================
``SMALL_WALLET``  0x1111…1111                  a dozen NFTs on four chains: overlap with
                                               different coverage, OpenSea-only and
                                               Alchemy-only NFTs, an ERC-1155 balance above
                                               2^31 (and above 2^53), spam, ``ipfs://`` media
``WHALE_WALLET``  0x2222…2222                  2,400 NFTs on ethereum and polygon, a tenth
                                               of them spam
``EMPTY_WALLET``  0x3333…3333                  nothing at all
``DID_WALLET``    0x4444…4444                  a few NFTs; the DID side links it to others
``HUGE_WALLET``   0x5555…5555                  10,000 NFTs on ethereum (benchmarks)
``TINY_WALLET``   0x6666…6666                  20 NFTs on ethereum (benchmarks)
``TRIO_WALLET``   0x8888…8888                  what a third provider changes: an NFT all
                                               three NFT providers know, one only Moralis
                                               knows, one Moralis lacks (and collections
                                               with a floor price)
``LABELLED_WALLET`` 0x9999…9999                about 500 NFTs, spam and legitimate, each
                                               labelled (:mod:`.labelled`, bench/spam.py)
=============================================  ==========================================

Moralis indexes what the other two do, minus the NFTs the world marks single-provider
(``in_moralis=False``) and every 17th bulk NFT, plus the ``TRIO_WALLET``'s Moralis-only NFT:
every other wallet's total is the same with or without Moralis. (Over 400 lines on
purpose: the data set is one table of facts, read best whole.)
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from hashlib import sha256

from providers.models import Chain, TokenStandard

__all__ = [
    "DID_WALLET",
    "EMPTY_WALLET",
    "HUGE_WALLET",
    "SMALL_WALLET",
    "TINY_WALLET",
    "TRIO_WALLET",
    "WHALE_WALLET",
    "SandboxCollection",
    "SandboxNFT",
    "World",
    "plain_nft",
    "svg_data_uri",
    "world",
]

SMALL_WALLET = "0x" + "1" * 40
WHALE_WALLET = "0x" + "2" * 40
EMPTY_WALLET = "0x" + "3" * 40
DID_WALLET = "0x" + "4" * 40
HUGE_WALLET = "0x" + "5" * 40
TINY_WALLET = "0x" + "6" * 40
OTHER_HOLDER = "0x" + "7" * 40
TRIO_WALLET = "0x" + "8" * 40

BIG_BALANCE = 2**31 + 12_345  # exceeds GraphQL Int
HUGE_BALANCE = 2**64 + 7  # exceeds a JavaScript number's exact range too

_PALETTE = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#6d597a", "#355070"]


@dataclass(frozen=True, slots=True)
class SandboxCollection:
    chain: Chain
    contract: str
    slug: str
    name: str
    standard: TokenStandard
    total_supply: int
    is_spam: bool = False  # the ground truth (the labelled data set's label), not a vendor flag
    ranked: bool = True
    # Coverage gaps that make merging matter.
    alchemy_has_slug: bool = True
    opensea_lists_traits: bool = False
    # What the vendors say about the collection; each emulator shows its own part.
    # ``safelist``: OpenSea's safelist_status ("" = OpenSea does not know the collection);
    # ``None`` derives it from the label. ``alchemy_flags``: the classifications Alchemy's
    # paid-tier classifier gives (``()`` = not flagged); ``None`` flags every spam collection.
    safelist: str | None = None
    alchemy_flags: tuple[str, ...] | None = None
    is_nsfw: bool = False
    trading_disabled: bool = False
    # Moralis's possible_spam (``None``: every spam collection) for the labelled set.
    moralis_flags: bool | None = None

    @property
    def moralis_possible_spam(self) -> bool:
        return self.is_spam if self.moralis_flags is None else self.moralis_flags

    @property
    def moralis_verified(self) -> bool:
        """Moralis's ``verified_collection``: verified on OpenSea."""
        if self.safelist is None:
            return not self.is_spam and self.ranked
        return self.safelist == "verified"

    @property
    def safelist_status(self) -> str:
        if self.safelist is not None:
            return self.safelist
        return "not_requested" if self.is_spam else "verified"

    @property
    def alchemy_classifications(self) -> tuple[str, ...]:
        if self.alchemy_flags is not None:
            return self.alchemy_flags
        if not self.is_spam:
            return ()
        if self.standard is TokenStandard.ERC1155:
            return ("MostlyHoneyPotOwners", "OwnedByMostHoneyPots")
        return ("Erc721TooManyOwners", "Erc721DishonestTotalSupply")

    @property
    def floor_price(self) -> float | None:
        """The collection's floor in :attr:`floor_currency` (spam has none), as the
        marketplaces quote it today; each emulator shows it in its own wire habits."""
        if self.is_spam:
            return None
        seed = int(sha256(f"floor:{self.contract}".encode()).hexdigest()[:8], 16)
        return round(0.005 + (seed % 4000) / 1000, 4)

    @property
    def floor_currency(self) -> str:
        return "POL" if self.chain is Chain.POLYGON else "ETH"


@dataclass(frozen=True, slots=True)
class SandboxNFT:
    collection: SandboxCollection
    token_id: str
    name: str | None
    description: str | None
    image: str  # an SVG ``data:`` URI: renders offline
    original_image: str  # ``ipfs://`` for half the NFTs
    animation: str | None
    traits: tuple[tuple[str, str | int | float], ...]
    rank: int | None
    holders: dict[str, int] = field(hash=False, compare=False)
    in_opensea: bool = True
    in_alchemy: bool = True
    in_moralis: bool = True

    @property
    def chain(self) -> Chain:
        return self.collection.chain

    @property
    def contract(self) -> str:
        return self.collection.contract


def _address(label: str) -> str:
    return "0x" + sha256(label.encode()).hexdigest()[:40]


def svg_data_uri(label: str, seed: int) -> str:
    """A small generated SVG as a ``data:`` URI, so the gallery renders with no network."""
    color = _PALETTE[seed % len(_PALETTE)]
    accent = _PALETTE[(seed * 3 + 1) % len(_PALETTE)]
    text = label.replace("&", "&amp;").replace("<", "&lt;")[:28]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200">'
        f'<rect width="200" height="200" fill="{color}"/>'
        f'<circle cx="100" cy="86" r="{40 + seed % 25}" fill="{accent}"/>'
        f'<text x="100" y="180" font-family="sans-serif" font-size="14" fill="#fff" '
        f'text-anchor="middle">{text}</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


class World:
    """Collections, NFTs and who holds what. Build it with :func:`world`."""

    def __init__(self) -> None:
        self.collections: dict[tuple[Chain, str], SandboxCollection] = {}
        self.nfts: dict[tuple[Chain, str, str], SandboxNFT] = {}
        self._by_owner: dict[tuple[str, Chain], list[SandboxNFT]] = {}

    # -- queries used by the emulators ---------------------------------------------

    def holdings(self, owner: str, chain: Chain) -> list[SandboxNFT]:
        """NFTs ``owner`` holds on ``chain``, in a stable upstream order (by contract, id)."""
        return self._by_owner.get((owner.lower(), chain), [])

    def nft(self, chain: Chain, contract: str, token_id: str) -> SandboxNFT | None:
        return self.nfts.get((chain, contract.lower(), token_id))

    def collection_by_slug(self, slug: str) -> SandboxCollection | None:
        return next((c for c in self.collections.values() if c.slug == slug), None)

    def collection(self, chain: Chain, contract: str) -> SandboxCollection | None:
        return self.collections.get((chain, contract.lower()))

    def collection_nfts(self, collection: SandboxCollection) -> Iterator[SandboxNFT]:
        return (n for n in self.nfts.values() if n.collection is collection)

    # -- building -------------------------------------------------------------------

    def add_collection(self, collection: SandboxCollection) -> SandboxCollection:
        self.collections[(collection.chain, collection.contract)] = collection
        return collection

    def add_nft(self, nft: SandboxNFT) -> SandboxNFT:
        self.nfts[(nft.chain, nft.contract, nft.token_id)] = nft
        for owner in nft.holders:
            self._by_owner.setdefault((owner, nft.chain), []).append(nft)
        return nft

    def finish(self) -> World:
        for nfts in self._by_owner.values():
            nfts.sort(key=lambda n: (n.contract, int(n.token_id)))
        return self


def plain_nft(
    collection: SandboxCollection,
    token_id: int,
    holders: dict[str, int],
    *,
    traits: tuple[tuple[str, str | int | float], ...] = (("Fur", "Gold"),),
) -> SandboxNFT:
    """An NFT for a world built by a test or a bench: named ``<collection> #<id>``, its
    generated picture as both images, no description or animation, and ranked by its
    token id where the collection is ranked."""
    label = f"{collection.name} #{token_id}"
    image = svg_data_uri(label, token_id)
    return SandboxNFT(
        collection=collection,
        token_id=str(token_id),
        name=label,
        description=None,
        image=image,
        original_image=image,
        animation=None,
        traits=traits,
        rank=token_id if collection.ranked else None,
        holders=holders,
    )


_TRAIT_VALUES = {
    "Background": ["Blue", "Orange", "Purple", "Aquamarine", "Gray"],
    "Fur": ["Gold", "Brown", "Black", "Zombie", "Robot"],
    "Eyes": ["Laser", "Sleepy", "Wide Eyed", "Bored"],
    "Hat": ["Beanie", "Crown", "Halo", "None"],
}


def _traits(rng: random.Random) -> tuple[tuple[str, str | int | float], ...]:
    picked: list[tuple[str, str | int | float]] = [
        (kind, rng.choice(values)) for kind, values in _TRAIT_VALUES.items() if rng.random() < 0.85
    ]
    picked.append(("Level", rng.randint(1, 10)))  # numeric trait values exist in the wild
    return tuple(picked)


def _make_nft(
    rng: random.Random,
    collection: SandboxCollection,
    token_id: int,
    holders: dict[str, int],
    *,
    in_opensea: bool = True,
    in_alchemy: bool = True,
    in_moralis: bool | None = None,
    name: str | None = "",
    animated: bool = False,
) -> SandboxNFT:
    label = f"{collection.name} #{token_id}" if name == "" else name
    seed = int(sha256(f"{collection.slug}:{token_id}".encode()).hexdigest()[:8], 16)
    cid = sha256(f"cid:{collection.slug}".encode()).hexdigest()[:46]
    traits = () if collection.standard is TokenStandard.ERC1155 else _traits(rng)
    return SandboxNFT(
        collection=collection,
        token_id=str(token_id),
        name=label,
        description=None if seed % 5 == 0 else f"{label}, minted in the nft-gateway sandbox.",
        image=svg_data_uri(label or collection.name, seed),
        original_image=f"ipfs://bafy{cid}/{token_id}.svg"
        if seed % 2
        else f"https://media.sandbox.invalid/{collection.slug}/{token_id}.svg",
        animation=f"ipfs://bafy{cid}/{token_id}.mp4" if animated else None,
        traits=traits,
        rank=(seed % collection.total_supply) + 1 if collection.ranked else None,
        holders=holders,
        in_opensea=in_opensea,
        in_alchemy=in_alchemy,
        # By default Moralis knows what both others know (a single-provider NFT stays one).
        in_moralis=in_opensea and in_alchemy if in_moralis is None else in_moralis,
    )


def _build_small(w: World, rng: random.Random) -> None:
    me = SMALL_WALLET
    apes = w.add_collection(
        SandboxCollection(
            Chain.ETHEREUM,
            _address("apes"),
            "sandbox-apes",
            "Sandbox Apes",
            TokenStandard.ERC721,
            10_000,
        )
    )
    punks = w.add_collection(
        SandboxCollection(
            Chain.ETHEREUM,
            _address("punks"),
            "pixel-punks",
            "Pixel Punks",
            TokenStandard.ERC721,
            5_000,
            alchemy_has_slug=False,
        )
    )
    badges = w.add_collection(
        SandboxCollection(
            Chain.ETHEREUM,
            _address("badges"),
            "gold-badges",
            "Gold Badges",
            TokenStandard.ERC1155,
            100,
            ranked=False,
        )
    )
    gems = w.add_collection(
        SandboxCollection(
            Chain.POLYGON,
            _address("gems"),
            "polygon-gems",
            "Polygon Gems",
            TokenStandard.ERC1155,
            50,
            ranked=False,
        )
    )
    based = w.add_collection(
        SandboxCollection(
            Chain.BASE,
            _address("based"),
            "based-frogs",
            "Based Frogs",
            TokenStandard.ERC721,
            3_000,
            opensea_lists_traits=True,
        )
    )
    arbi = w.add_collection(
        SandboxCollection(
            Chain.ARBITRUM,
            _address("arbi"),
            "arbi-knights",
            "Arbi Knights",
            TokenStandard.ERC721,
            800,
        )
    )
    spam = w.add_collection(
        SandboxCollection(
            Chain.ETHEREUM,
            _address("spam"),
            "free-airdrop-claim",
            "FREE AIRDROP CLAIM NOW",
            TokenStandard.ERC1155,
            1_000_000,
            is_spam=True,
            ranked=False,
        )
    )
    w.add_nft(_make_nft(rng, apes, 4821, {me: 1}))  # both providers
    w.add_nft(_make_nft(rng, apes, 7, {me: 1}, animated=True))  # both, with animation
    w.add_nft(_make_nft(rng, punks, 1337, {me: 1}))  # both; Alchemy lacks the slug
    w.add_nft(_make_nft(rng, punks, 42, {me: 1}, in_alchemy=False))  # OpenSea only
    w.add_nft(_make_nft(rng, badges, 7, {me: BIG_BALANCE, OTHER_HOLDER: 3}))  # > 2^31
    w.add_nft(_make_nft(rng, badges, 8, {me: 5}, in_opensea=False))  # Alchemy only, ERC-1155
    w.add_nft(_make_nft(rng, gems, 1, {me: HUGE_BALANCE}))  # > 2^64, polygon
    w.add_nft(
        _make_nft(rng, gems, 2, {me: 2, OTHER_HOLDER: 9}, in_alchemy=False)
    )  # OpenSea-only 1155
    w.add_nft(_make_nft(rng, based, 99, {me: 1}))
    w.add_nft(_make_nft(rng, based, 100, {me: 1}, name=None))  # nameless
    w.add_nft(_make_nft(rng, arbi, 3, {me: 1}, in_opensea=False))
    w.add_nft(_make_nft(rng, spam, 1, {me: 1}))  # spam: hidden by default
    w.add_nft(_make_nft(rng, spam, 2, {me: 1}))


def _build_trio(w: World, rng: random.Random) -> None:
    """The wallet that shows what a third provider adds (and what its outage costs)."""
    me = TRIO_WALLET
    owls = w.add_collection(
        SandboxCollection(
            Chain.ETHEREUM, _address("owls"), "night-owls", "Night Owls", TokenStandard.ERC721, 900
        )
    )
    tickets = w.add_collection(
        SandboxCollection(
            Chain.POLYGON,
            _address("tickets"),
            "moralis-tickets",
            "Polygon Tickets",
            TokenStandard.ERC1155,
            40,
            ranked=False,
        )
    )
    w.add_nft(_make_nft(rng, owls, 11, {me: 1}))  # all three providers
    w.add_nft(_make_nft(rng, owls, 12, {me: 1}, in_moralis=False))  # OpenSea and Alchemy
    w.add_nft(
        _make_nft(rng, tickets, 5, {me: 3}, in_opensea=False, in_alchemy=False, in_moralis=True)
    )  # only Moralis


def _build_bulk(
    w: World, rng: random.Random, owner: str, count: int, chains: list[Chain], tag: str
) -> None:
    """``count`` NFTs for ``owner``: a tenth spam, some single-provider, spread over chains."""
    collections = []
    for i in range(12):
        chain = chains[i % len(chains)]
        is_spam = i % 10 == 9
        standard = TokenStandard.ERC1155 if i % 4 == 3 else TokenStandard.ERC721
        collections.append(
            w.add_collection(
                SandboxCollection(
                    chain,
                    _address(f"{tag}:{i}"),
                    f"{tag}-collection-{i}",
                    # Spam looks like spam in the wild: a lure and a link in its name.
                    f"Claim {tag.title()} Rewards at {tag}-bonus.xyz"
                    if is_spam
                    else f"{tag.title()} Collection {i}",
                    standard,
                    20_000,
                    is_spam=is_spam,
                    ranked=not is_spam and standard is TokenStandard.ERC721,
                    alchemy_has_slug=i % 3 != 0,
                )
            )
        )
    for n in range(count):
        collection = collections[n % len(collections)]
        coverage = n % 17
        quantity = rng.randint(1, 40) if collection.standard is TokenStandard.ERC1155 else 1
        w.add_nft(
            _make_nft(
                rng,
                collection,
                1000 + n,
                {owner: quantity},
                in_opensea=coverage != 0,
                in_alchemy=coverage != 1,
                in_moralis=coverage not in (0, 1, 2),
            )
        )


@cache
def world() -> World:
    """The sandbox world (built once per process; about 0.3 s)."""
    w = World()
    _build_small(w, random.Random(1))
    _build_bulk(w, random.Random(2), WHALE_WALLET, 2_400, [Chain.ETHEREUM, Chain.POLYGON], "whale")
    _build_bulk(w, random.Random(3), DID_WALLET, 6, [Chain.ETHEREUM], "did")
    _build_bulk(w, random.Random(4), HUGE_WALLET, 10_000, [Chain.ETHEREUM], "huge")
    _build_bulk(w, random.Random(5), TINY_WALLET, 20, [Chain.ETHEREUM], "tiny")
    _build_trio(w, random.Random(6))
    # Imported here: the labelled set builds on this module's types.
    from providers.sandbox.labelled import build_labelled

    build_labelled(w)
    return w.finish()
