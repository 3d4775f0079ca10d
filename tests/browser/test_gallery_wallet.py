"""The gallery as a wallet viewer: a name means what REST says, pages past the end, the
wallet header, collections, spam, links out, and the loading skeleton."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import LiveServer, Screenshot

SMALL_WALLET = "0x1111111111111111111111111111111111111111"
BIG_WALLET = "0x2222222222222222222222222222222222222222"
DID_WALLET = "0x4444444444444444444444444444444444444444"

pytestmark = pytest.mark.browser


def rest(server: LiveServer, route: str, payload: dict[str, Any]) -> Any:
    response = httpx.post(f"{server.url}/users/browser-test/{route}", json=payload, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def shown_title(nft: dict[str, Any]) -> str:
    """The name a card shows (the CLI's table uses the same fallback)."""
    if nft["name"]:
        return str(nft["name"])
    if nft["collection_name"]:
        return f"{nft['collection_name']} #{nft['token_id']}"
    return f"#{nft['token_id']}"


def open_gallery(page: Page, server: LiveServer, query: str) -> None:
    page.goto(f"{server.url}/?{query}")
    expect(page.get_by_role("status")).to_contain_text(" · page ")


def test_a_name_shows_what_rest_answers_for_it(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    nfts = rest(live_server, "nfts", {"wallet_address": "alice.bit", "page": 1, "size": 12})
    dids = rest(live_server, "dids", {"wallet_address": "alice.bit"})
    assert nfts["total"] > 11  # more than the name's first wallet holds alone

    open_gallery(page, live_server, "q=alice.bit")
    expect(page.get_by_role("status")).to_contain_text(f"{nfts['total']} NFTs")
    expect(page.locator("#grid .card .name")).to_have_text(
        [shown_title(asset["nft"]) for asset in nfts["assets"]]
    )
    expect(page.locator("#wallet-list .address")).to_have_text(nfts["name"]["addresses"])
    expect(page.locator("#dids-heading")).to_have_text(f"Identities ({dids['total']})")
    expect(page.locator("#identity-count")).to_contain_text(f"{dids['total']} identities")
    screenshot(page, "gallery-name-union")


def test_a_page_past_the_end_shows_the_last_page_and_says_so(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    open_gallery(page, live_server, f"q={SMALL_WALLET}&page=9")
    expect(page.locator("#range-note")).to_have_text(
        "There is no page 9: there is 1 page, so this is page 1."
    )
    expect(page.locator("#grid .card")).to_have_count(11)
    expect(page).not_to_have_url(re.compile(r"page=9"))
    expect(page.locator("#pager")).to_be_hidden()  # one page: nothing to turn
    screenshot(page, "gallery-past-the-end")


def test_page_one_cannot_go_back_and_any_page_can_be_jumped_to(
    page: Page, live_server: LiveServer
) -> None:
    open_gallery(page, live_server, f"q={BIG_WALLET}")
    label = page.locator("#page-label")
    expect(label).to_have_text(re.compile(r"^Page 1 of 184$"))
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()

    page.get_by_label("Go to page").fill("184")
    page.get_by_role("button", name="Go", exact=True).click()
    expect(label).to_have_text("Page 184 of 184")
    expect(page).to_have_url(re.compile(r"page=184"))
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    expect(page.get_by_role("button", name="Previous")).to_be_enabled()
    expect(page.locator("#grid .card")).to_have_count(2200 - 183 * 12)


def test_the_wallet_header_names_the_wallet_and_links_out(
    page: Page, context: BrowserContext, live_server: LiveServer, screenshot: Screenshot
) -> None:
    dids = rest(live_server, "dids", {"wallet_address": DID_WALLET})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    open_gallery(page, live_server, f"q={DID_WALLET}")
    header = page.locator("#wallet-header")
    expect(header.locator("#primary-name")).to_have_text("Primary name: alice.bit")
    expect(header.locator("#identity-count")).to_contain_text(f"{dids['total']} identities")
    expect(header.get_by_role("link", name="View on Etherscan")).to_have_attribute(
        "href", f"https://etherscan.io/address/{DID_WALLET}"
    )
    expect(header.get_by_role("link", name="Polygon")).to_have_attribute(
        "href", f"https://polygonscan.com/address/{DID_WALLET}"
    )
    header.get_by_role("button", name=f"Copy address {DID_WALLET}").click()
    expect(header.get_by_role("button", name=re.compile("Copy address"))).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == DID_WALLET
    screenshot(page, "gallery-wallet-header")


def test_collections_filter_and_group_the_page(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    answer = rest(live_server, "nfts", {"wallet_address": SMALL_WALLET, "page": 1, "size": 12})
    punks = [a["nft"] for a in answer["assets"] if a["nft"]["collection_slug"] == "pixel-punks"]
    assert len(punks) > 1
    open_gallery(page, live_server, f"q={SMALL_WALLET}")

    page.get_by_label("Collection (on this page)").select_option("pixel-punks")
    expect(page.locator("#grid .card .name")).to_have_text([shown_title(n) for n in punks])
    expect(page).to_have_url(re.compile(r"collection=pixel-punks"))

    page.get_by_label("Collection (on this page)").select_option("")
    page.get_by_label("Group by collection").check()
    groups = page.locator("#grid .group-title")
    expect(groups.first).to_have_text(f"Pixel Punks · {len(punks)}")
    collections = {a["nft"]["collection_slug"] for a in answer["assets"]}
    expect(groups).to_have_count(len(collections))
    expect(page.locator("#grid .card")).to_have_count(len(answer["assets"]))
    screenshot(page, "gallery-collections-grouped")


def test_spam_is_dimmed_and_chains_have_names(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    open_gallery(page, live_server, f"q={SMALL_WALLET}&spam=INCLUDE")
    expect(page.get_by_role("status")).to_contain_text("13 NFTs, 2 of them marked as spam")
    spam = page.locator("#grid .cell.is-spam .card")
    expect(spam).to_have_count(2)
    assert float(spam.first.evaluate("card => getComputedStyle(card).opacity")) < 0.7
    plain = page.locator("#grid .cell:not(.is-spam) .card").first
    assert float(plain.evaluate("card => getComputedStyle(card).opacity")) == 1.0
    chains = set(page.locator("#grid .tag.chain").all_inner_texts())
    assert chains <= {"Ethereum", "Polygon", "Base", "Arbitrum", "Optimism"}, chains
    screenshot(page, "gallery-spam-dimmed")


def test_an_nft_links_out_to_opensea_and_its_chain_explorer(
    page: Page, live_server: LiveServer
) -> None:
    answer = rest(live_server, "nfts", {"wallet_address": SMALL_WALLET, "page": 1, "size": 12})
    gem = next(a["nft"] for a in answer["assets"] if a["nft"]["name"] == "Polygon Gems #1")
    contract, token = gem["contract_address"], gem["token_id"]
    open_gallery(page, live_server, f"q={SMALL_WALLET}")
    page.locator("#grid .card").filter(has_text="Polygon Gems #1").click()
    dialog = page.get_by_role("dialog", name="Polygon Gems #1")
    expect(dialog.get_by_role("link", name="OpenSea")).to_have_attribute(
        "href", f"https://opensea.io/assets/matic/{contract}/{token}"
    )
    expect(dialog.get_by_role("link", name="PolygonScan")).to_have_attribute(
        "href", f"https://polygonscan.com/nft/{contract}/{token}"
    )
    expect(dialog.locator("#detail-facts")).to_contain_text("Polygon")


def test_a_loading_page_shows_a_skeleton(page: Page, live_server: LiveServer) -> None:
    held: list[Route] = []
    released = False

    def hold(route: Route) -> None:  # answers wait until the test lets them go
        if released:
            route.continue_()
        else:
            held.append(route)

    page.route("**/graphql", hold)
    page.goto(f"{live_server.url}/?q={SMALL_WALLET}")
    expect(page.locator("#grid .skeleton")).to_have_count(12)
    expect(page.locator("#results")).to_have_attribute("aria-busy", "true")
    released = True
    for route in held:
        route.continue_()
    expect(page.locator("#grid .card")).to_have_count(11)
    expect(page.locator("#grid .skeleton")).to_have_count(0)


def test_a_handle_is_an_identity_and_a_short_hex_is_a_bad_address(
    page: Page, live_server: LiveServer
) -> None:
    union = rest(live_server, "nfts", {"wallet_address": "alice.bit", "page": 1, "size": 12})
    open_gallery(page, live_server, "q=twitter:alice_nft")  # proved for both of alice's wallets
    expect(page.get_by_role("status")).to_contain_text(f"{union['total']} NFTs")
    expect(page.locator("#wallet-list .address")).to_have_count(2)

    page.get_by_label("Wallet address or name").fill("0x1234")
    page.get_by_role("button", name="Show NFTs").click()
    expect(page.get_by_role("alert")).to_contain_text("address")
