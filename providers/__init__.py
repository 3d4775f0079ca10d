"""The providers layer: one adapter per upstream behind the small Protocols of :mod:`.base`.

What lives here:

* this module: the registry, :func:`build_providers`, which turns a config into every
  source the gateway uses (NFT, NFT detail, DID, name resolver, persona);
* :mod:`providers.base`: every source Protocol, ``fetch_json`` (the one HTTP call and its
  error translation) and ``redact_key`` (the one way an adapter keeps its key out of errors);
* :mod:`providers.errors` and :mod:`providers.models`: the shared vocabulary (one error
  tree, the normalised model); :mod:`providers.mapping`: pure helpers for adapters' mappings;
* ``providers/<vendor>/``: one adapter each (source + pure mapping + ``from_config``);
* :mod:`providers.sandbox`: the vendors' emulators, written from their documents.

Imports: nothing here imports ``gateway``. Adapters import ``base``, ``errors``, ``models``,
``mapping`` and their own package. The sandbox imports only ``models``, ``errors`` and
itself, never an adapter (its tables are its own; ``tests/test_layers.py`` checks all this).

An adapter is constructed with the one shared ``httpx.AsyncClient`` and its own settings;
it never creates a client and never reads the environment. Adding an NFT provider: write
``providers/<name>/`` with a ``from_config(config, client)`` and add it to
:data:`NFT_PROVIDERS` (its config Protocol joins :class:`ProviderConfig`); the contract
suite in ``tests/providers/test_contract.py`` picks it up from the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import httpx

from providers import alchemy, dotbit, moralis, nametag, nextid, opensea
from providers.base import (
    DIDSource,
    FloorSource,
    MetadataRefresher,
    NameResolver,
    NFTDetailSource,
    NFTSource,
    PersonaSource,
)

__all__ = [
    "DID_PROVIDERS",
    "NFT_PROVIDERS",
    "ProviderConfig",
    "Providers",
    "build_providers",
]


class ProviderConfig(
    opensea.OpenSeaConfig,
    alchemy.AlchemyConfig,
    moralis.MoralisConfig,
    dotbit.DotBitConfig,
    nextid.NextIDConfig,
    nametag.NameTagConfig,
    Protocol,
):
    """What the registry reads: each adapter's base URL and key (``gateway.settings``
    satisfies it; the gateway passes its settings with the sandbox applied)."""


T = TypeVar("T")

NFTBuilder = Callable[[ProviderConfig, httpx.AsyncClient], NFTSource | None]
DIDBuilder = Callable[[ProviderConfig, httpx.AsyncClient], DIDSource | None]

# NFT providers in priority order: the merge's tie order and the order of the reports. A
# builder returns ``None`` when its provider is not configured (no key).
NFT_PROVIDERS: tuple[NFTBuilder, ...] = (
    opensea.from_config,
    alchemy.from_config,
    moralis.from_config,
)
# DID sources in answer order (.bit, Next.ID, then NameTag when it has a key).
DID_PROVIDERS: tuple[DIDBuilder, ...] = (
    dotbit.from_config,
    nextid.from_config,
    nametag.from_config,
)


@dataclass(frozen=True, slots=True)
class Providers:
    """Every source the gateway uses, built once per app from one config and one client.

    A source that also answers another Protocol (OpenSea's detail calls and floors, every
    NFT source's metadata refresh, .bit's name resolution, Next.ID's personas) is the same
    object in both places.
    """

    nft_sources: tuple[NFTSource, ...]
    detail_sources: tuple[NFTDetailSource, ...]
    floor_sources: tuple[FloorSource, ...]
    refreshers: tuple[MetadataRefresher, ...]
    did_sources: tuple[DIDSource, ...]
    name_resolvers: tuple[NameResolver, ...]
    personas: PersonaSource | None


ClientSource = httpx.AsyncClient | Callable[[], httpx.AsyncClient]


def build_providers(config: ProviderConfig, client: ClientSource) -> Providers:
    """The configured sources of :data:`NFT_PROVIDERS` and :data:`DID_PROVIDERS`, in order.

    ``client`` is the one every source uses, or a factory called once per source for a
    client of its own (the gateway's choice: each provider's connections in a pool of their
    own, sized to its bulkhead, so one provider's burst never waits for another's)."""
    nft_sources = _built(NFT_PROVIDERS, config, client)
    did_sources = _built(DID_PROVIDERS, config, client)
    return Providers(
        nft_sources=nft_sources,
        detail_sources=tuple(s for s in nft_sources if isinstance(s, NFTDetailSource)),
        floor_sources=tuple(s for s in nft_sources if isinstance(s, FloorSource)),
        refreshers=tuple(s for s in nft_sources if isinstance(s, MetadataRefresher)),
        did_sources=did_sources,
        name_resolvers=tuple(s for s in did_sources if isinstance(s, NameResolver)),
        personas=next((s for s in did_sources if isinstance(s, PersonaSource)), None),
    )


def _built(
    builders: tuple[Callable[[ProviderConfig, httpx.AsyncClient], T | None], ...],
    config: ProviderConfig,
    client: ClientSource,
) -> tuple[T, ...]:
    sources = (
        build(config, client if isinstance(client, httpx.AsyncClient) else client())
        for build in builders
    )
    return tuple(source for source in sources if source is not None)
