""".bit (d.id / DAS) account indexer adapter: DIDs for an address, addresses for a name.

Calls go over JSON-RPC to the indexer's root URL (UPSTREAMS.md §3.2): integer ids, ``params``
a list of exactly one object, EVM addresses lower-case with ``coin_type`` ``"60"``. The
reverse record is the exception: it is asked over REST (``POST /v1/reverse/record``), whose
handler answers a reverse record naming a gone or locked account as "none", where
JSON-RPC's ``das_reverseRecord`` runs the old handler (errors 30003 and 20008) and misses
accounts upgraded to DID cells. Either way a failed reverse lookup means "no primary name";
it never costs the address its other names.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from typing import Any

import httpx

from providers.base import fetch_json
from providers.dotbit.mapping import (
    PROVIDER,
    to_account_info,
    to_account_list,
    to_display_names,
    to_record_addresses,
    to_reverse_record,
    unwrap,
    validate_bit_name,
)
from providers.errors import ProviderError, ProviderLocked, ProviderNotFound
from providers.mapping import lower_address
from providers.models import DID, DIDType, LinkedAccount

__all__ = ["DotBitSource"]

_EVM_COIN_TYPE = "60"
_PAGE_SIZE = 100  # the indexer's maximum
_MAX_PAGES = 10  # an address with more than 1,000 names is cut short, not walked forever


class DotBitSource:
    """:class:`~providers.base.DIDSource` and :class:`~providers.base.NameResolver` for .bit."""

    name = PROVIDER

    def __init__(self, client: httpx.AsyncClient, *, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/"
        self._ids = itertools.count(1)

    # -- DIDSource -------------------------------------------------------------------

    async def fetch_dids(self, address: str) -> tuple[DID, ...]:
        """One DID per account the address owns; the reverse record's account is primary.

        A reverse-record account the address does not own (it is only listed in that
        account's records) is added too. Returns ``()`` for a non-EVM address.
        """
        owner = lower_address(address)
        if owner is None:
            return ()
        key = {"type": "blockchain", "key_info": {"coin_type": _EVM_COIN_TYPE, "key": owner}}
        primary, (accounts, display_names) = await asyncio.gather(
            self._primary(key), self._fetch_accounts(key)
        )
        expiries = dict(accounts)
        if primary is not None and primary not in expiries:
            expiries[primary] = None
        links = await asyncio.gather(*(self._links(account) for account in expiries))
        now = time.time()
        return tuple(
            DID(
                type=DIDType.DOTBIT,
                identity=account,
                source=PROVIDER,
                display_name=display_names.get(account, account),
                is_primary=account == primary,
                valid=None if expired_at is None else expired_at > now,
                expires_at=expired_at,
                links=account_links,
            )
            for (account, expired_at), account_links in zip(expiries.items(), links, strict=True)
        )

    async def _primary(self, key: Mapping[str, Any]) -> str | None:
        """The reverse record's account, or ``None`` when there is none or it cannot be read
        (gone, locked, or the call failed: the other names must not wait on it)."""
        try:
            body = await fetch_json(
                self._client, PROVIDER, "POST", self._url + "v1/reverse/record", json_body=key
            )
            return to_reverse_record(unwrap(body))
        except ProviderError:
            return None

    async def _fetch_accounts(
        self, key: Mapping[str, Any]
    ) -> tuple[list[tuple[str, int | None]], dict[str, str]]:
        accounts: list[tuple[str, int | None]] = []
        names: dict[str, str] = {}
        for page in range(1, _MAX_PAGES + 1):
            params = {**key, "role": "owner", "page": page, "size": _PAGE_SIZE}
            data = await self._call("das_accountList", params)
            page_accounts = to_account_list(data)
            accounts += [item for item in page_accounts if item not in accounts]
            names.update(to_display_names(data))
            if len(page_accounts) < _PAGE_SIZE:
                break
        return accounts, names

    async def _links(self, account: str) -> tuple[LinkedAccount, ...]:
        # One account's records failing must not hide the account itself.
        try:
            addresses = await self._record_addresses(account)
        except ProviderError:
            return ()
        return tuple(LinkedAccount("ethereum", address) for address in addresses)

    # -- NameResolver ----------------------------------------------------------------

    def handles(self, name: str) -> bool:
        return name.strip().lower().endswith(".bit")

    async def resolve(self, name: str) -> tuple[str, ...]:
        """EVM addresses ``name`` points to: its records, else its owner.

        Raises :class:`ValueError` for a malformed name (see
        :func:`~providers.dotbit.mapping.validate_bit_name`) and :class:`ProviderNotFound`
        when the account does not exist or has expired.
        """
        account = validate_bit_name(name)
        info = to_account_info(await self._call("das_accountInfo", {"account": account}))
        if info.expired_at is not None and info.expired_at <= time.time():
            raise ProviderNotFound(PROVIDER, f"{account} has expired")
        try:
            addresses = await self._record_addresses(account)
        except ProviderLocked:
            addresses = ()  # locked cross-chain: its records are unreadable, its owner is not
        if addresses:
            return addresses
        owner = lower_address(info.owner_key)
        if owner is None:
            raise ProviderNotFound(PROVIDER, f"{account} points to no EVM address")
        return (owner,)

    # -- wire ------------------------------------------------------------------------

    async def _record_addresses(self, account: str) -> tuple[str, ...]:
        return to_record_addresses(await self._call("das_accountRecordsV2", {"account": account}))

    async def _call(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": [params]}
        return unwrap(await fetch_json(self._client, PROVIDER, "POST", self._url, json_body=body))
