"""The contract every source passes, whichever upstream it speaks to.

Sources come from the registry (:func:`providers.build_providers`) with the gateway's own
sandbox settings, against the in-process emulators: a provider added to the registry (and
its emulator to the sandbox) runs through this suite with no new test code.

What a caller of any source may rely on:

* NFT sources list a wallet's holdings page by page, with cursors, to an end; every record
  is in the normalised model (the chain asked for, lower-case contract, decimal token id,
  a token standard) and is an NFT the wallet really holds in the sandbox world;
* DID sources answer :class:`~providers.models.DID` values of their own;
* every upstream failure arrives as one of the :class:`~providers.errors.ProviderError`
  tree, named after the source, and no configured key appears in its text, even when the
  upstream quotes the request back.
"""

from __future__ import annotations

import asyncio
import re
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.settings import Settings
from providers import DID_PROVIDERS, NFT_PROVIDERS, Providers, build_providers
from providers.base import DIDSource, NFTSource
from providers.errors import (
    ProviderBadData,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.models import DID, Chain, DIDType, NFTKey, NFTRecord, TokenStandard
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.faults import FaultSwitches
from providers.sandbox.world import DID_WALLET, EMPTY_WALLET, WHALE_WALLET, world

# Every provider pointed at its emulator, each keyed provider with the sandbox key.
CONFIG = Settings(sandbox="on").upstreams()
KEYS = [
    secret.get_secret_value()
    for secret in vars(CONFIG).values()
    if hasattr(secret, "get_secret_value")
]
# Far more pages than any sandbox wallet has: a walk that does not end by then never will.
MAX_PAGES = 500
_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
_DECIMAL = re.compile(r"^[0-9]{1,78}$")


def _registry_names() -> tuple[list[str], list[str]]:
    async def names() -> tuple[list[str], list[str]]:
        async with httpx.AsyncClient() as client:
            built = build_providers(CONFIG, client)
        return [s.name for s in built.nft_sources], [s.name for s in built.did_sources]

    return asyncio.run(names())


NFT_NAMES, DID_NAMES = _registry_names()


@dataclass
class Built:
    sandbox: Sandbox
    providers: Providers

    def nft(self, name: str) -> NFTSource:
        return next(s for s in self.providers.nft_sources if s.name == name)

    def did(self, name: str) -> DIDSource:
        return next(s for s in self.providers.did_sources if s.name == name)

    def faults(self, name: str) -> FaultSwitches:
        return self.sandbox.faults(name)


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    sandbox = build_sandbox()
    async with httpx.AsyncClient(transport=sandbox.transport()) as client:
        yield Built(sandbox, build_providers(CONFIG, client))


def test_the_sandbox_config_turns_every_registered_provider_on() -> None:
    # Otherwise a provider the registry skips would silently escape the suite below.
    assert len(NFT_NAMES) == len(NFT_PROVIDERS) >= 2
    assert len(DID_NAMES) == len(DID_PROVIDERS) >= 3
    assert KEYS, "the keyed providers got a key to keep out of errors"


# -- NFT sources ------------------------------------------------------------------------


async def walk(source: NFTSource, owner: str, chain: Chain) -> list[NFTRecord]:
    """Every page from the first cursor to the last; fails on a repeated cursor."""
    records: list[NFTRecord] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = await source.fetch_holdings_page(owner, chain, cursor)
        records.extend(page.records)
        cursor = page.next_cursor
        if cursor is None:
            return records
        assert cursor not in seen, "a cursor came back: the walk would never end"
        seen.add(cursor)
    pytest.fail(f"{source.name}: no last page after {MAX_PAGES} pages")


@pytest.mark.parametrize("name", NFT_NAMES)
async def test_lists_a_wallets_holdings_to_the_last_page_in_the_model(
    built: Built, name: str
) -> None:
    source = built.nft(name)
    truth = world()
    chains = [chain for chain in Chain if source.supports(chain)]
    assert chains
    listed: list[NFTRecord] = []
    for chain in chains:
        records = await walk(source, WHALE_WALLET, chain)
        held = {
            NFTKey(chain, nft.contract, nft.token_id)
            for nft in truth.holdings(WHALE_WALLET, chain)
            if getattr(nft, f"in_{name}", True)  # the world says which NFTs each vendor has
        }
        keys = [record.key for record in records]
        assert len(keys) == len(set(keys)), "an NFT listed twice"
        assert set(keys) == held, f"{name} on {chain}: what the wallet holds, all of it"
        for record in records:
            assert record.source == name
            assert record.chain is chain
            assert _ADDRESS.match(record.contract_address), record.contract_address
            assert _DECIMAL.match(record.token_id), record.token_id
            assert isinstance(record.token_standard, TokenStandard)
            assert record.quantity is None or record.quantity >= 1
        listed += records
    assert len(listed) > 100, "the whale's wallet spans several pages"


@pytest.mark.parametrize("name", NFT_NAMES)
async def test_an_empty_wallet_is_one_empty_last_page(built: Built, name: str) -> None:
    source = built.nft(name)
    chain = next(chain for chain in Chain if source.supports(chain))
    page = await source.fetch_holdings_page(EMPTY_WALLET, chain, None)
    assert (page.records, page.next_cursor) == ((), None)


# -- DID sources ------------------------------------------------------------------------


@pytest.mark.parametrize("name", DID_NAMES)
async def test_answers_dids_of_its_own_in_the_model(built: Built, name: str) -> None:
    dids = await built.did(name).fetch_dids(DID_WALLET)
    assert dids, f"{name} knows the sandbox's DID wallet"
    for did in dids:
        assert isinstance(did, DID)
        assert did.source == name
        assert isinstance(did.type, DIDType)
        assert did.identity.strip()


@pytest.mark.parametrize("name", DID_NAMES)
async def test_an_address_without_dids_has_none(built: Built, name: str) -> None:
    assert await built.did(name).fetch_dids(EMPTY_WALLET) == ()


# -- errors, for every source ---------------------------------------------------------------

Call = Callable[[Built, str], Awaitable[Any]]


async def _list_first_page(built: Built, name: str) -> Any:
    source = built.nft(name)
    chain = next(chain for chain in Chain if source.supports(chain))
    return await source.fetch_holdings_page(WHALE_WALLET, chain, None)


async def _dids(built: Built, name: str) -> Any:
    return await built.did(name).fetch_dids(DID_WALLET)


SOURCES: list[tuple[str, Call]] = [(n, _list_first_page) for n in NFT_NAMES] + [
    (n, _dids) for n in DID_NAMES
]


def _status(status: int) -> Callable[[FaultSwitches], None]:
    def apply(faults: FaultSwitches) -> None:
        faults.status = status

    return apply


def _set(**values: Any) -> Callable[[FaultSwitches], None]:
    def apply(faults: FaultSwitches) -> None:
        for switch, value in values.items():
            setattr(faults, switch, value)

    return apply


FAULTS: list[tuple[str, Callable[[FaultSwitches], None], type[ProviderError]]] = [
    ("404", _status(404), ProviderNotFound),
    ("429", _status(429), ProviderRateLimited),
    ("500", _status(500), ProviderUnavailable),
    ("503", _status(503), ProviderUnavailable),
    ("body not JSON", _set(body="malformed"), ProviderBadData),
    ("HTML page", _set(body="html"), ProviderBadData),
    ("400 quoting the request", _set(echo_request=True), ProviderBadRequest),
]


@pytest.mark.parametrize(("name", "call"), SOURCES, ids=[n for n, _ in SOURCES])
@pytest.mark.parametrize(("fault", "inject", "expected"), FAULTS, ids=[f for f, _, _ in FAULTS])
async def test_upstream_failures_arrive_as_provider_errors_without_keys(
    built: Built,
    name: str,
    call: Call,
    fault: str,
    inject: Callable[[FaultSwitches], None],
    expected: type[ProviderError],
) -> None:
    inject(built.faults(name))
    with pytest.raises(ProviderError) as caught:
        await call(built, name)
    error = caught.value
    assert isinstance(error, expected), f"{fault}: {type(error).__name__}"
    assert error.provider == name
    # Everything a log line or a report could show of it.
    text = "".join(traceback.format_exception(error)) + repr(error) + error.message
    leaked = [key for key in KEYS if key in text]
    assert leaked == []
