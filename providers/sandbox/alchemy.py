"""The Alchemy NFT API v3 emulator: the sandbox world as Alchemy shows it.

Routes (the key is a path segment, as upstream)::

    /nft/v3/{apiKey}/{method}             network from the Host's first label
                                          (eth-mainnet.alchemy.sandbox -> eth-mainnet)
    /{network}/nft/v3/{apiKey}/{method}   network as a path prefix (loopback servers)

Methods: getNFTsForOwner, getNFTMetadata, getOwnersForNFT, getOwnersForContract,
summarizeNFTAttributes, computeRarity. Only NFTs the world marks ``in_alchemy`` exist here.

Wire habits copied from the vendor (UPSTREAMS.md §2): checksummed contract addresses,
``openSeaMetadata`` with a capital S (and no ``collectionSlug`` where Alchemy lacks it),
spam fields only on the paid tier's Ethereum and Polygon (``spam_tier``), ``balance`` as
an exact decimal string, opaque page keys that expire (``page_key_ttl`` seconds), ``null``
``pageKey`` on the last page, and plain-text error bodies ("Must be authenticated!",
"Page key is not found or expired, ..."). The bodies themselves are rendered in
:mod:`providers.sandbox.alchemy_bodies`.
Throughput is metered per key in compute units a second over a rolling 10 s window, each
method costing its throughput CU ([AL3] compute-unit-costs: getNFTsForOwner 100,
getNFTMetadata 10, ...): the ``quota_tier`` switch picks ``free`` (500 CU/s) or
``unmetered`` (the default); past it, 429 with ``Retry-After: 1`` ([AL3] throughput).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from providers.models import Chain
from providers.sandbox.alchemy_bodies import (
    SPAM_TIERS,
    classifies_spam,
    missing_nft,
    nft_body,
    owned_base_nft,
    owned_nft,
    valid_at,
)
from providers.sandbox.faults import (
    CursorHooks,
    Emulator,
    FaultInjector,
    FaultSwitches,
    ForcedResponse,
)
from providers.sandbox.quotas import RollingCost, Tier, tier_for
from providers.sandbox.responses import JSONResponse
from providers.sandbox.tables import alchemy_chain, checksum_address
from providers.sandbox.world import SandboxCollection, SandboxNFT, World
from providers.sandbox.world import world as sandbox_world

__all__ = ["EXPIRED_PAGE_KEY_TEXT", "alchemy_emulator"]

EXPIRED_PAGE_KEY_TEXT = "Page key is not found or expired, please try again with a valid page key"
UNAUTHENTICATED_TEXT = "Must be authenticated!"
MAX_PAGE_SIZE = 100
# Throughput compute units per method ([AL3] compute-unit-costs.mdx, "throughput CU").
THROUGHPUT_CU = {
    "getNFTsForOwner": 100,
    "getNFTMetadata": 10,
    "getOwnersForNFT": 10,
    "getOwnersForContract": 20,
    "summarizeNFTAttributes": 10,
    "computeRarity": 10,
}
# CU per rolling 10 s window by plan ([AL3] throughput: free tier 500 CU/s over 10 s).
TIERS: dict[str, Tier] = {
    "unmetered": Tier(10**9, 10.0),
    "free": Tier(5_000, 10.0),
}
THROTTLED_TEXT = (
    "Your app has exceeded its compute units per second capacity. If you have retries "
    "enabled, you can safely ignore this message. If not, check out "
    "https://docs.alchemy.com/reference/throughput"
)
_FILTERS = {"SPAM", "AIRDROPS"}


class _BadRequest(Exception):
    """A 400 with a plain-text body, as Alchemy answers malformed requests."""


@dataclass(frozen=True, slots=True)
class _PageState:
    chain: Chain
    owner: str
    query: tuple[Any, ...]  # the filters the walk started with
    offset: int
    expires_at: float


class _AlchemyApp:
    """Request handling; one instance per emulator (it owns the page-key table)."""

    def __init__(
        self,
        data: World,
        api_keys: set[str] | None,
        page_key_ttl: float,
        clock: Callable[[], float],
        switches: FaultSwitches,
    ) -> None:
        self.world = data
        self.switches = switches  # read per request: the tiers can be switched at run time
        self.throughput = RollingCost(clock)
        self.api_keys = api_keys
        self.page_key_ttl = page_key_ttl
        self.clock = clock
        self.page_keys: dict[str, _PageState] = {}
        self.methods: dict[str, Callable[[Chain, Request], dict[str, Any]]] = {
            "getNFTsForOwner": self.get_nfts_for_owner,
            "getNFTMetadata": self.get_nft_metadata,
            "getOwnersForNFT": self.get_owners_for_nft,
            "getOwnersForContract": self.get_owners_for_contract,
            "summarizeNFTAttributes": self.summarize_nft_attributes,
            "computeRarity": self.compute_rarity,
        }

    async def dispatch(self, request: Request) -> Response:
        params = request.path_params
        if self.api_keys is not None and params["api_key"] not in self.api_keys:
            return PlainTextResponse(UNAUTHENTICATED_TEXT, status_code=401)
        network = params.get("network") or _host_label(request)
        chain = alchemy_chain(network)
        if chain is None:
            return PlainTextResponse(f"Unsupported network: {network}", status_code=400)
        handler = self.methods.get(params["method"])
        if handler is None:
            return PlainTextResponse(f"Unknown method: {params['method']}", status_code=404)
        tier = tier_for(self.switches, TIERS, "unmetered")
        admission = self.throughput.admit(params["api_key"], tier, THROUGHPUT_CU[params["method"]])
        if not admission.allowed:
            self.switches.throttled += 1
            return PlainTextResponse(
                THROTTLED_TEXT, status_code=429, headers={"retry-after": str(admission.retry_after)}
            )
        try:
            return JSONResponse(handler(chain, request))
        except _BadRequest as exc:
            return PlainTextResponse(str(exc), status_code=400)

    # -- getNFTsForOwner -------------------------------------------------------------

    def get_nfts_for_owner(self, chain: Chain, request: Request) -> dict[str, Any]:
        query = request.query_params
        owner = _address_param(query.get("owner"), "owner")
        page_size = _page_size(query.get("pageSize"))
        contracts = _list_param(request, "contractAddresses")
        excludes = _filters(_list_param(request, "excludeFilters"), "exclude")
        includes = _filters(_list_param(request, "includeFilters"), "include")
        if excludes and includes:
            raise _BadRequest("excludeFilters and includeFilters may not be used together")
        walk = (frozenset(c.lower() for c in contracts), excludes, includes)
        offset = self._offset(query.get("pageKey"), chain, owner, walk)
        nfts = self._owned(chain, owner, walk)
        page = nfts[offset : offset + page_size]
        with_metadata = query.get("withMetadata", "true").lower() != "false"
        more = offset + page_size < len(nfts)
        return {
            "ownedNfts": [
                owned_nft(nft, chain, owner, self.switches.spam_tier)
                if with_metadata
                else owned_base_nft(nft, chain, owner)
                for nft in page
            ],
            "totalCount": len(nfts),
            "validAt": valid_at(chain),
            "pageKey": self._issue_page_key(chain, owner, walk, offset + page_size)
            if more
            else None,
        }

    def _owned(self, chain: Chain, owner: str, walk: tuple[Any, ...]) -> list[SandboxNFT]:
        contracts, excludes, includes = walk
        # World.holdings is already in Alchemy's order: by contract address, then token id.
        nfts = [n for n in self.world.holdings(owner, chain) if n.in_alchemy]
        if contracts:
            nfts = [n for n in nfts if n.contract in contracts]
        # The SPAM filter is Alchemy's own classification: paid tiers, Ethereum and Polygon
        # only; elsewhere it filters nothing (nft.yaml, the excludeFilters description).
        if classifies_spam(self.switches.spam_tier, chain):
            if "SPAM" in excludes:
                nfts = [n for n in nfts if not n.collection.alchemy_classifications]
            if "SPAM" in includes:
                nfts = [n for n in nfts if n.collection.alchemy_classifications]
        if "AIRDROPS" in includes:
            nfts = []  # the world has no airdrops
        return nfts

    def _offset(self, page_key: str | None, chain: Chain, owner: str, walk: tuple[Any, ...]) -> int:
        if not page_key:
            return 0
        state = self.page_keys.get(page_key)
        if state is None or self.clock() >= state.expires_at:
            raise _BadRequest(EXPIRED_PAGE_KEY_TEXT)
        if (state.chain, state.owner, state.query) != (chain, owner, walk):
            raise _BadRequest(EXPIRED_PAGE_KEY_TEXT)
        return state.offset

    def _issue_page_key(self, chain: Chain, owner: str, walk: tuple[Any, ...], offset: int) -> str:
        now = self.clock()
        # Forget keys past their life, so a long-running sandbox does not grow.
        self.page_keys = {k: s for k, s in self.page_keys.items() if s.expires_at > now}
        key = str(uuid.uuid4())
        self.page_keys[key] = _PageState(chain, owner, walk, offset, now + self.page_key_ttl)
        return key

    # -- single NFTs and collections -----------------------------------------------

    def get_nft_metadata(self, chain: Chain, request: Request) -> dict[str, Any]:
        contract = _address_param(request.query_params.get("contractAddress"), "contractAddress")
        token_id = _token_id_param(request.query_params.get("tokenId"))
        refresh = request.query_params.get("refreshCache", "false").lower()
        if refresh not in ("true", "false"):
            raise _BadRequest(f"refreshCache must be a boolean, got {refresh!r}")
        nft = self._nft(chain, contract, token_id)
        if nft is None:
            # Alchemy answers 200 for a token it cannot load; the failure is in raw.error.
            collection = self.world.collection(chain, contract)
            return missing_nft(
                contract, token_id, collection, classifies_spam(self.switches.spam_tier, chain)
            )
        body = nft_body(nft, chain, self.switches.spam_tier)
        if refresh == "true":
            # refreshCache=true re-reads the token now (the v3 spec's parameter; the SDK's
            # refreshNftMetadata compares timeLastUpdated before and after).
            body["timeLastUpdated"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return body

    def get_owners_for_nft(self, chain: Chain, request: Request) -> dict[str, Any]:
        contract = _address_param(request.query_params.get("contractAddress"), "contractAddress")
        token_id = _token_id_param(request.query_params.get("tokenId"))
        nft = self._nft(chain, contract, token_id)
        owners = sorted(nft.holders) if nft is not None else []
        return {"owners": [checksum_address(o) for o in owners], "pageKey": None}

    def get_owners_for_contract(self, chain: Chain, request: Request) -> dict[str, Any]:
        query = request.query_params
        collection = self._collection(chain, query.get("contractAddress"))
        balances: dict[str, list[dict[str, str]]] = {}
        for nft in self._collection_nfts(collection):
            for holder, quantity in nft.holders.items():
                entry = {"tokenId": nft.token_id, "balance": str(quantity)}
                balances.setdefault(holder, []).append(entry)
        # Lower-case here, unlike getOwnersForNFT: the vendor's examples differ the same way.
        owners = sorted(balances)
        if query.get("withTokenBalances", "false").lower() != "true":
            return {"owners": owners, "pageKey": None}
        rows = [{"ownerAddress": o, "tokenBalances": balances[o]} for o in owners]
        return {"owners": rows, "pageKey": None}

    def summarize_nft_attributes(self, chain: Chain, request: Request) -> dict[str, Any]:
        collection = self._collection(chain, request.query_params.get("contractAddress"))
        summary: dict[str, dict[str, int]] = {}
        for nft in self._collection_nfts(collection):
            for kind, value in nft.traits:
                counts = summary.setdefault(kind, {})
                counts[str(value)] = counts.get(str(value), 0) + 1
        return {
            "summary": summary,
            "totalSupply": str(collection.total_supply),
            "contractAddress": checksum_address(collection.contract),
        }

    def compute_rarity(self, chain: Chain, request: Request) -> dict[str, Any]:
        contract = _address_param(request.query_params.get("contractAddress"), "contractAddress")
        token_id = _token_id_param(request.query_params.get("tokenId"))
        nft = self._nft(chain, contract, token_id)
        if nft is None:
            raise _BadRequest(f"Token {token_id} not found for contract {contract}")
        siblings = list(self._collection_nfts(nft.collection))
        counts = Counter(trait for sibling in siblings for trait in sibling.traits)
        rarities = [
            {"traitType": kind, "value": value, "prevalence": counts[(kind, value)] / len(siblings)}
            for kind, value in nft.traits
        ]
        return {"rarities": rarities}

    def _nft(self, chain: Chain, contract: str, token_id: str) -> SandboxNFT | None:
        nft = self.world.nft(chain, contract, token_id)
        return nft if nft is not None and nft.in_alchemy else None

    def _collection(self, chain: Chain, contract: str | None) -> SandboxCollection:
        address = _address_param(contract, "contractAddress")
        collection = self.world.collection(chain, address)
        if collection is None:
            raise _BadRequest(f"Contract {address} is not an NFT contract on this network")
        return collection

    def _collection_nfts(self, collection: SandboxCollection) -> Iterable[SandboxNFT]:
        return (n for n in self.world.collection_nfts(collection) if n.in_alchemy)


def alchemy_emulator(
    world: World | None = None,
    *,
    api_keys: set[str] | None = None,
    page_key_ttl: float = 900.0,
    clock: Callable[[], float] = time.monotonic,
    spam_tier: str = "free",
) -> Emulator:
    """The Alchemy emulator over ``world`` (default: the bundled sandbox world).

    ``api_keys``: when a set, any other key gets 401 "Must be authenticated!". Page keys
    live ``page_key_ttl`` seconds by ``clock`` (``0`` makes every page key expire at once).
    ``spam_tier`` (``free`` or ``paid``; the switch ``alchemy.spam_tier``, distinct from the
    quota settings) decides which spam fields the answers carry: see
    :mod:`providers.sandbox.alchemy_bodies`.
    """
    if spam_tier not in SPAM_TIERS:
        raise ValueError(f"spam_tier must be one of {SPAM_TIERS}, not {spam_tier!r}")
    data = world if world is not None else sandbox_world()
    switches = FaultSwitches(spam_tier=spam_tier)
    handler = _AlchemyApp(data, api_keys, page_key_ttl, clock, switches)
    routes = [
        Route("/nft/v3/{api_key}/{method}", handler.dispatch),
        Route("/{network}/nft/v3/{api_key}/{method}", handler.dispatch),
    ]
    app = FaultInjector(Starlette(routes=routes), switches, cursors=CURSOR_HOOKS)
    return Emulator("alchemy", app, switches)


# For the cursor faults: Alchemy's page key is ``pageKey`` both ways; a forgotten one is
# a plain-text 400.
CURSOR_HOOKS = CursorHooks(
    param="pageKey",
    field="pageKey",
    expired=ForcedResponse(400, EXPIRED_PAGE_KEY_TEXT.encode(), content_type="text/plain"),
)


# -- request parsing -----------------------------------------------------------------


def _host_label(request: Request) -> str:
    host = request.headers.get("host", "")
    return host.split(":", 1)[0].split(".", 1)[0]


def _address_param(value: str | None, name: str) -> str:
    text = (value or "").strip()
    if len(text) != 42 or not text.startswith("0x"):
        raise _BadRequest(f"{name} is not a valid address: {text!r}")
    try:
        int(text[2:], 16)
    except ValueError:
        raise _BadRequest(f"{name} is not a valid address: {text!r}") from None
    return text.lower()


def _token_id_param(value: str | None) -> str:
    text = (value or "").strip()
    try:
        number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise _BadRequest(f"tokenId is not a valid token id: {text!r}") from None
    if number < 0:
        raise _BadRequest(f"tokenId is not a valid token id: {text!r}")
    return str(number)


def _page_size(value: str | None) -> int:
    if value is None:
        return MAX_PAGE_SIZE
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise _BadRequest(f"pageSize must be between 1 and {MAX_PAGE_SIZE}, got {value!r}")
    return int(value)


def _list_param(request: Request, name: str) -> list[str]:
    """Array params: ``name[]=a&name[]=b`` (docs, SDK) and ``name=a&name=b`` (Go clients)."""
    query = request.query_params
    return [v for v in query.getlist(name + "[]") + query.getlist(name) if v]


def _filters(values: list[str], kind: str) -> frozenset[str]:
    unknown = [v for v in values if v not in _FILTERS]
    if unknown:
        raise _BadRequest(f"Invalid {kind} filters: {unknown}")
    return frozenset(values)
