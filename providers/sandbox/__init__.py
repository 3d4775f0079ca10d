"""The embedded sandbox: emulators of every upstream over one bundled data set.

:func:`build_sandbox` gives the emulators (each with its fault switches) and an httpx
transport that routes the sandbox hosts to them in process. The production adapters talk
to it unchanged: only their base URLs point at ``*.sandbox`` hosts.

Each emulator is written from its vendor's documents (``shared/UPSTREAMS.md``, ``specs/``)
and carries its own tables (:mod:`.tables`): the sandbox imports ``providers.models`` and
``providers.errors`` (the shared vocabulary) and itself, never an adapter, the registry or
``providers.mapping``, so an adapter's mistake cannot be mirrored on the emulator's side.
``tests/test_layers.py`` enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.sandbox.alchemy import alchemy_emulator
from providers.sandbox.dotbit import dotbit_emulator
from providers.sandbox.faults import Emulator, FaultSwitches
from providers.sandbox.identities import Identities, identities
from providers.sandbox.moralis import moralis_emulator
from providers.sandbox.nametag import nametag_emulator
from providers.sandbox.nextid import nextid_emulator
from providers.sandbox.opensea import opensea_emulator
from providers.sandbox.transport import SandboxTransport
from providers.sandbox.world import World, world

__all__ = ["HOSTS", "Sandbox", "build_sandbox"]

# Emulator name -> the host suffix it answers on.
HOSTS = {
    "opensea": "opensea.sandbox",
    "alchemy": "alchemy.sandbox",
    "moralis": "moralis.sandbox",
    "dotbit": "dotbit.sandbox",
    "nextid": "nextid.sandbox",
    "nametag": "nametag.sandbox",
}


@dataclass(frozen=True)
class Sandbox:
    emulators: dict[str, Emulator]

    def transport(self) -> SandboxTransport:
        return SandboxTransport({HOSTS[name]: emu.app for name, emu in self.emulators.items()})

    def faults(self, name: str) -> FaultSwitches:
        return self.emulators[name].faults


def build_sandbox(
    data: World | None = None,
    people: Identities | None = None,
    *,
    alchemy_spam_tier: str = "free",
) -> Sandbox:
    """Every emulator: the NFT ones over ``data``, the DID ones over ``people``.

    ``alchemy_spam_tier`` is the tier of Alchemy's spam fields (``free``: none; ``paid``:
    Ethereum and Polygon only); it can be switched later as ``faults("alchemy").spam_tier``.
    """
    data = data or world()
    people = people if people is not None else identities()
    return Sandbox(
        emulators={
            "opensea": opensea_emulator(data),
            "alchemy": alchemy_emulator(data, spam_tier=alchemy_spam_tier),
            "moralis": moralis_emulator(data),
            "dotbit": dotbit_emulator(people),
            "nextid": nextid_emulator(people),
            "nametag": nametag_emulator(people),
        }
    )
