"""The DID side of the sandbox world: .bit names, Next.ID personas and Etherscan name tags.

It ties the wallets of :mod:`providers.sandbox.world` together, so "one identity, several
wallets" can be seen end to end:

* ``alice.bit`` is owned by ``DID_WALLET`` and its records point to ``SMALL_WALLET`` and
  ``DID_WALLET``; ``DID_WALLET`` also holds ``alice-dao.bit`` and ``alice-art.bit`` and has
  ``alice.bit`` as its reverse record (primary name). ``SMALL_WALLET``'s reverse record is
  ``alice.bit`` too (it is listed in the records, it does not own the name).
* ``expired.bit`` expired long ago (held by ``OTHER_HOLDER``).
* Next.ID persona "alice" proves ``SMALL_WALLET``, ``DID_WALLET`` and twitter ``alice_nft``;
  persona "alice-old" proves ``DID_WALLET`` and holds a stale twitter proof (``is_valid``
  false, ``"tweet not found"``).
* Etherscan tags ``WHALE_WALLET`` ("Sandbox Whale 1") and ``DID_WALLET``.
* The .bit indexer's awkward answers: ``GONE_WALLET``'s reverse record names an account
  that no longer exists (the JSON-RPC handler answers 30003) and it holds an emoji name
  and a Thai name; ``LOCKED_WALLET``'s reverse record names its own locked (cross-chain,
  status 3) account ``locked.bit`` (20008) and it also holds ``still-here.bit``.

Everything is fixed data (no clock, no randomness). The emulators take an
:class:`Identities` so tests can hand them a purpose-built one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from hashlib import sha256

from providers.sandbox.world import DID_WALLET, OTHER_HOLDER, SMALL_WALLET, WHALE_WALLET

__all__ = [
    "ACCOUNT_STATUS_LOCKED",
    "GONE_WALLET",
    "LOCKED_WALLET",
    "BitAccount",
    "BitRecord",
    "Identities",
    "NameTag",
    "Persona",
    "Proof",
    "identities",
    "persona_key",
]

GONE_WALLET = "0x" + "b" * 40
LOCKED_WALLET = "0x" + "c" * 40
# das-account-indexer tables/t_account_info.go: 3 is "locked" (cross-chain).
ACCOUNT_STATUS_LOCKED = 3
FAR_FUTURE = 4_102_444_800  # 2100-01-01: names that stay valid whatever the test clock says
LONG_AGO = 1_600_000_000  # 2020-09-13


@dataclass(frozen=True, slots=True)
class BitRecord:
    key: str  # V2 (SLIP-44) spelling: address.60, address.0, profile.twitter...
    value: str
    label: str = ""
    ttl: str = "300"


@dataclass(frozen=True, slots=True)
class BitAccount:
    account: str
    owner: str
    manager: str
    registered_at: int
    expired_at: int
    records: tuple[BitRecord, ...] = ()
    status: int = 0

    @property
    def display_name(self) -> str:
        return self.account

    @property
    def account_id_hex(self) -> str:
        return "0x" + sha256(self.account.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Proof:
    platform: str
    identity: str
    created_at: int
    last_checked_at: int
    is_valid: bool = True
    invalid_reason: str = ""
    alt_id: str = ""


@dataclass(frozen=True, slots=True)
class Persona:
    public_key: str
    proofs: tuple[Proof, ...]
    activated_at: int = 0
    last_arweave_id: str = ""
    alias: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NameTag:
    address: str
    nametag: str
    labels: tuple[str, ...] = ()
    url: str = ""
    lastupdatedtimestamp: int = 1_712_897_117

    @property
    def labels_slug(self) -> tuple[str, ...]:
        return tuple(label.lower().replace(" ", "-") for label in self.labels)


@dataclass(frozen=True)
class Identities:
    """The DID data set, with the lookups the emulators need."""

    bit_accounts: tuple[BitAccount, ...] = ()
    reverse_records: dict[str, str] = field(default_factory=dict)  # address -> account
    personas: tuple[Persona, ...] = ()
    name_tags: tuple[NameTag, ...] = ()

    def bit_account(self, account: str) -> BitAccount | None:
        wanted = account.lower()
        return next((a for a in self.bit_accounts if a.account == wanted), None)

    def bit_accounts_of(self, address: str, role: str = "owner") -> list[BitAccount]:
        wanted = address.lower()
        if role == "manager":
            return [a for a in self.bit_accounts if a.manager == wanted]
        return [a for a in self.bit_accounts if a.owner == wanted]

    def reverse_record(self, address: str) -> BitAccount | None:
        account = self.reverse_records.get(address.lower())
        return self.bit_account(account) if account else None

    def reverse_entry(self, address: str) -> str | None:
        """The account name ``address`` set as its reverse record, whether or not that
        account still exists."""
        return self.reverse_records.get(address.lower())

    def persona(self, public_key: str) -> Persona | None:
        wanted = public_key.lower()
        return next((p for p in self.personas if p.public_key == wanted), None)

    def name_tag(self, address: str) -> NameTag | None:
        wanted = address.lower()
        return next((t for t in self.name_tags if t.address == wanted), None)


def persona_key(label: str) -> str:
    """A deterministic 33-byte compressed public key (hex) for a made-up persona."""
    return "0x02" + sha256(label.encode()).hexdigest()


def _eth(address: str) -> BitRecord:
    return BitRecord("address.60", address, "Personal account")


def _bit_accounts() -> tuple[BitAccount, ...]:
    return (
        BitAccount(
            "alice.bit",
            owner=DID_WALLET,
            manager=DID_WALLET,
            registered_at=1_666_268_687,
            expired_at=FAR_FUTURE,
            records=(
                _eth(SMALL_WALLET),
                _eth(DID_WALLET),
                BitRecord("address.0", "3EbtqPeAZbX6wmP6idySu4jc2URT8LG2aa", "Cold storage"),
                BitRecord("profile.twitter", "alice_nft"),
            ),
        ),
        BitAccount(
            "alice-dao.bit",
            owner=DID_WALLET,
            manager=DID_WALLET,
            registered_at=1_670_000_000,
            expired_at=FAR_FUTURE,
            records=(_eth(DID_WALLET),),
        ),
        BitAccount(  # no address records at all: resolves to its owner
            "alice-art.bit",
            owner=DID_WALLET,
            manager=SMALL_WALLET,
            registered_at=1_680_000_000,
            expired_at=FAR_FUTURE,
            records=(BitRecord("profile.avatar", "https://example.org/alice.png"),),
        ),
        BitAccount(  # emoji and Thai: character sets the indexer accepts (das-lib char_set)
            "🦊🦊🦊.bit",
            owner=GONE_WALLET,
            manager=GONE_WALLET,
            registered_at=1_690_000_000,
            expired_at=FAR_FUTURE,
            records=(_eth(GONE_WALLET),),
        ),
        BitAccount(
            "ภูเขา.bit",
            owner=GONE_WALLET,
            manager=GONE_WALLET,
            registered_at=1_690_000_100,
            expired_at=FAR_FUTURE,
            records=(_eth(GONE_WALLET),),
        ),
        BitAccount(
            "locked.bit",
            owner=LOCKED_WALLET,
            manager=LOCKED_WALLET,
            registered_at=1_680_000_000,
            expired_at=FAR_FUTURE,
            records=(_eth(LOCKED_WALLET),),
            status=ACCOUNT_STATUS_LOCKED,
        ),
        BitAccount(
            "still-here.bit",
            owner=LOCKED_WALLET,
            manager=LOCKED_WALLET,
            registered_at=1_680_000_100,
            expired_at=FAR_FUTURE,
            records=(_eth(LOCKED_WALLET),),
        ),
        BitAccount(
            "expired.bit",
            owner=OTHER_HOLDER,
            manager=OTHER_HOLDER,
            registered_at=1_560_000_000,
            expired_at=LONG_AGO,
            records=(_eth(OTHER_HOLDER),),
        ),
    )


def _personas() -> tuple[Persona, ...]:
    return (
        Persona(
            persona_key("alice"),
            proofs=(
                Proof("ethereum", SMALL_WALLET, 1_699_990_000, 1_700_100_000),
                Proof("ethereum", DID_WALLET, 1_699_990_100, 1_700_100_000),
                Proof("twitter", "alice_nft", 1_699_980_000, 1_700_100_000, alt_id="1234567890"),
                Proof("dotbit", "alice.bit", 1_699_980_500, 0),
            ),
            activated_at=1_699_970_000,
            last_arweave_id="W1-5W8l3EfcSPSlgGJJoRZUObqkXqlXDuQH5cIA53t0",
        ),
        Persona(
            persona_key("alice-old"),
            proofs=(
                Proof("ethereum", DID_WALLET, 1_650_000_000, 1_700_000_000),
                Proof(
                    "twitter",
                    "alice_old",
                    1_650_000_100,
                    1_700_000_000,
                    is_valid=False,
                    invalid_reason="tweet not found",
                ),
            ),
        ),
    )


def _name_tags() -> tuple[NameTag, ...]:
    return (
        NameTag(WHALE_WALLET, "Sandbox Whale 1", ("Whale",), "https://example.org/whale"),
        NameTag(DID_WALLET, "Alice (alice.bit)", ("DID", "Collector")),
    )


@cache
def identities() -> Identities:
    """The sandbox's DID data set (built once per process)."""
    return Identities(
        bit_accounts=_bit_accounts(),
        reverse_records={
            DID_WALLET: "alice.bit",
            SMALL_WALLET: "alice.bit",
            GONE_WALLET: "gone.bit",  # no such account any more
            LOCKED_WALLET: "locked.bit",
        },
        personas=_personas(),
        name_tags=_name_tags(),
    )
