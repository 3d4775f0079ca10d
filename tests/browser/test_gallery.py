"""The gallery at ``/`` as a person uses it: search, page, open a detail panel, filter."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, Screenshot

WALLET = "0x1111111111111111111111111111111111111111"
BIG_WALLET = "0x2222222222222222222222222222222222222222"
LABELLED_WALLET = "0x9999999999999999999999999999999999999999"  # sandbox: labelled spam set

pytestmark = pytest.mark.browser


def search(page: Page, server: LiveServer, wallet: str) -> None:
    page.goto(server.url + "/")
    page.get_by_label("Wallet address or name").fill(wallet)
    page.get_by_role("button", name="Show NFTs").click()


def cards(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#grid .card")


def test_a_wallet_shows_as_an_image_grid(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    search(page, live_server, WALLET)
    expect(page.get_by_role("status")).to_contain_text("11 NFTs")
    expect(cards(page)).to_have_count(11)
    expect(cards(page).first).to_contain_text("Pixel Punks #42")
    # Every image is an inline data: URI from the sandbox, and it really decoded (the
    # browser decodes images after the grid is in the page: wait for it, or time out).
    images = page.locator("#grid img")
    expect(images.first).to_have_attribute("src", re.compile(r"^data:image/"))
    page.wait_for_function(
        "() => [...document.querySelectorAll('#grid img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=10_000,
    )
    screenshot(page, "gallery-wallet")


def test_a_name_resolves_and_shows_its_identities(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    search(page, live_server, "alice.bit")
    expect(page.locator("#results-heading")).to_have_text("alice.bit")
    expect(page.locator("#wallet-list .address")).to_have_count(2)
    expect(cards(page).first).to_be_visible()
    identities = page.get_by_role("complementary", name=re.compile("Identities"))
    expect(identities).to_be_visible()
    expect(identities).to_contain_text("alice.bit")
    expect(identities).to_contain_text("Next.ID")
    screenshot(page, "gallery-name")


def test_pages_move_forward_and_back(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    search(page, live_server, BIG_WALLET)
    label = page.locator("#page-label")
    expect(label).to_have_text(re.compile(r"^Page 1 of \d+"))
    expect(cards(page)).to_have_count(12)
    first_page = cards(page).all_inner_texts()

    page.get_by_role("button", name="Next").click()
    expect(label).to_have_text(re.compile(r"^Page 2 of \d+"))
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(cards(page)).to_have_count(12)
    second_page = cards(page).all_inner_texts()
    assert not set(first_page) & set(second_page)
    screenshot(page, "gallery-page-2")

    page.get_by_role("button", name="Previous").click()
    expect(label).to_have_text(re.compile(r"^Page 1 of \d+"))
    assert cards(page).all_inner_texts() == first_page


def test_a_card_opens_its_detail_panel(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    search(page, live_server, WALLET)
    card = cards(page).filter(has_text="Sandbox Apes #7")  # merged from both providers
    card.click()
    dialog = page.get_by_role("dialog", name="Sandbox Apes #7")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#detail-traits tbody tr").first).to_be_visible()
    expect(dialog.locator("#detail-facts")).to_contain_text("Rarity")
    expect(dialog.locator("#detail-facts")).to_contain_text("Quantity")
    # The floor, with who quoted it and how long ago (Moralis's list floor wins by default).
    expect(dialog.locator("#detail-facts")).to_contain_text(
        re.compile(r"Floor[\d.]+ ETH \(moralis, ")
    )
    expect(dialog.locator("#detail-sources")).to_contain_text(
        "Reported by alchemy and moralis and opensea"
    )
    provenance = dialog.locator("#detail-provenance")
    expect(provenance).to_contain_text("opensea")
    expect(provenance).to_contain_text("alchemy")
    screenshot(page, "gallery-detail", full_page=False)  # the dialog covers the viewport

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(card).to_be_focused()  # focus goes back where the person was


def test_big_balances_are_exact_in_the_detail_panel(page: Page, live_server: LiveServer) -> None:
    search(page, live_server, WALLET)
    cards(page).filter(has_text="Polygon Gems #1").click()
    expect(page.locator("#detail-facts")).to_contain_text("18,446,744,073,709,551,623")


def test_the_spam_filter_shows_only_spam_or_hides_it(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    search(page, live_server, BIG_WALLET)
    expect(cards(page)).to_have_count(12)
    expect(page.locator("#grid .tag.spam")).to_have_count(0)

    page.get_by_label("Spam").select_option("ONLY")
    expect(page.get_by_role("status")).to_contain_text("marked as spam")
    expect(page.locator("#grid .tag.spam")).to_have_count(12)
    expect(page).to_have_url(re.compile(r"spam=ONLY"))
    screenshot(page, "gallery-spam-only")

    page.get_by_label("Spam").select_option("EXCLUDE")
    expect(page.get_by_role("status")).not_to_contain_text("spam")
    expect(page.locator("#grid .tag.spam")).to_have_count(0)


def test_the_chain_filter_narrows_the_grid(page: Page, live_server: LiveServer) -> None:
    search(page, live_server, WALLET)
    expect(cards(page)).to_have_count(11)
    for chain in ("Ethereum", "Base", "Arbitrum", "Optimism"):
        page.get_by_label(chain, exact=True).uncheck()
    expect(page).to_have_url(re.compile(r"chains=POLYGON"))
    expect(cards(page)).to_have_count(2)
    assert set(page.locator("#grid .tags .tag.chain").all_inner_texts()) == {"Polygon"}


def test_a_bad_input_shows_the_graphql_error(page: Page, live_server: LiveServer) -> None:
    search(page, live_server, "not-a-wallet")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(re.compile("address|name", re.IGNORECASE))
    expect(page.locator("#results")).to_be_hidden()


def test_a_shared_link_opens_the_same_view(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/?q={BIG_WALLET}&page=3&spam=ONLY")
    expect(page.locator("#page-label")).to_have_text(re.compile(r"^Page 3 of"))
    expect(page.get_by_label("Spam")).to_have_value("ONLY")
    expect(page.get_by_label("Wallet address or name")).to_have_value(BIG_WALLET)


def test_nsfw_art_is_listed_blurred_until_clicked(page: Page, live_server: LiveServer) -> None:
    # The labelled wallet's NSFW art (a verified collection) comes after 75 other NFTs.
    page.goto(f"{live_server.url}/?q={LABELLED_WALLET}&page=7")
    nsfw = page.locator("#grid .cell.is-nsfw").first
    expect(nsfw).to_be_visible()
    expect(nsfw.locator(".tag.nsfw")).to_have_text("nsfw")
    blur = "el => getComputedStyle(el).filter"
    assert "blur" in nsfw.locator(".media").evaluate(blur)

    nsfw.locator(".card").click()  # the first click shows it, and opens nothing
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert "blur" not in nsfw.locator(".media").evaluate(blur)
    nsfw.locator(".card").click()  # the next one opens it
    expect(page.locator("#detail-facts")).to_contain_text("NSFW")
