"""A third NFT provider in the merge: what Moralis adds, and what its outage costs.

The sandbox runs all three NFT providers by default; ``TRIO_WALLET`` holds an NFT all three
know, one only OpenSea and Alchemy know, and one only Moralis knows.
"""

from __future__ import annotations

from typing import Any

import httpx

from gateway.settings import Rate, Settings
from providers.sandbox import Sandbox, build_sandbox
from providers.sandbox.world import TRIO_WALLET
from tests.conftest import gateway_client, sandbox_settings

QUERY = """
query ($address: String!) {
  wallet(address: $address) {
    nfts(page: 1, size: 50) {
      total totalIsExact
      assets {
        quantity
        nft { blockchain contractAddress tokenId name collectionName
              provenance { field provider } }
      }
      providers { provider status errorKind }
    }
  }
}
"""


async def listed(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": QUERY, "variables": {"address": TRIO_WALLET}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["wallet"]["nfts"]
    return page


def by_token(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {asset["nft"]["tokenId"]: asset for asset in page["assets"]}


async def test_an_nft_only_moralis_knows_is_listed(client: httpx.AsyncClient) -> None:
    page = await listed(client)
    ticket = by_token(page)["5"]
    provenance = {p["field"]: p["provider"] for p in ticket["nft"]["provenance"]}
    assert ticket["nft"]["blockchain"] == "POLYGON" and ticket["quantity"] == "3"
    assert ticket["nft"]["name"] == "Polygon Tickets #5"
    assert set(provenance.values()) == {"moralis"}
    assert page["total"] == 3 and page["totalIsExact"] is True


async def test_an_nft_all_three_know_is_listed_once_with_each_fields_winner(
    client: httpx.AsyncClient,
) -> None:
    page = await listed(client)
    tokens = [asset["nft"]["tokenId"] for asset in page["assets"]]
    assert sorted(tokens) == ["11", "12", "5"]  # each NFT once
    owl = by_token(page)["11"]
    provenance = {p["field"]: p["provider"] for p in owl["nft"]["provenance"]}
    # The default priorities: OpenSea names, Alchemy media and balances, Moralis last.
    assert provenance["name"] == "opensea"
    assert provenance["image"] == "alchemy"
    assert provenance["quantity"] == "alchemy"
    assert "moralis" not in {provenance[f] for f in ("name", "image", "quantity", "traits")}


async def test_a_moralis_outage_costs_only_moralis_data() -> None:
    sandbox: Sandbox = build_sandbox()
    sandbox.faults("moralis").status = 503
    async with gateway_client(sandbox, sandbox_settings()) as http:
        page = await listed(http)
    statuses = {p["provider"]: p["status"] for p in page["providers"]}
    assert statuses == {"opensea": "ok", "alchemy": "ok", "moralis": "failed"}
    assert sorted(by_token(page)) == ["11", "12"]  # the Moralis-only NFT is what went
    assert page["total"] == 2 and page["totalIsExact"] is False  # an outage: not exact


async def test_rest_lists_the_moralis_only_nft_with_its_balance(client: httpx.AsyncClient) -> None:
    body = {"wallet_address": TRIO_WALLET, "page": 1, "size": 10}
    response = await client.post("/users/u1/nfts", json=body)
    assert response.status_code == 200
    assert "moralis=ok" in response.headers["x-nftgw-providers"]
    ticket = next(a for a in response.json()["assets"] if a["nft"]["token_id"] == "5")
    assert ticket["quantity"] == 3
    assert ticket["nft"]["collection_name"] == "Polygon Tickets"


def test_moralis_has_a_budget_of_its_own() -> None:
    assert Settings(sandbox="off").rate_for("moralis") == Rate(10, 1)
    assert Settings(sandbox="on").rate_for("moralis") is None  # emulators meter nothing
    assert Settings(sandbox="on", moralis_rate="120/min").rate_for("moralis") == Rate(120, 60)


async def test_a_spent_moralis_budget_costs_only_moralis_calls() -> None:
    sandbox: Sandbox = build_sandbox()
    settings = sandbox_settings(moralis_rate="1/h", provider_deadline=1.0)
    async with gateway_client(sandbox, settings) as http:
        page = await listed(http)  # two chains' walks: the second has no budget left
    statuses = {p["provider"]: p["status"] for p in page["providers"]}
    assert (statuses["opensea"], statuses["alchemy"]) == ("ok", "ok")
    assert statuses["moralis"] in ("partial", "failed")
    assert sandbox.faults("moralis").calls <= 1  # the budget kept the rest from upstream
