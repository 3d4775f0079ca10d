// The gallery's view: DOM builders for the wallet header, cards, links, the detail panel,
// the identities panel and the loading skeleton. No state: app.js passes what to show.
//
// Loaded after gallery-api.js and before app.js; adds `window.NFTGW.view`.
// Every value from the API is put into the page with textContent, never as HTML.
(function () {
  "use strict";

  var api = window.NFTGW;
  var DID_TYPES = { DOTBIT: ".bit", NEXTID: "Next.ID", NAMETAG: "name tag" };
  var $ = function (id) { return document.getElementById(id); };

  // -- the wallet header -----------------------------------------------------------------

    function renderHeader(answer) {
    $("results-heading").textContent = answer.name || api.shortAddress(answer.wallets[0]);
    $("results-heading").title = answer.name || answer.wallets[0];
    var list = $("wallet-list");
    list.replaceChildren();
    answer.wallets.forEach(function (address) {
      var item = el("li", "wallet");
      item.dataset.address = address;
      var code = el("code", "address", address);
      item.appendChild(code);
      var copy = el("button", "copy", "Copy address");
      copy.type = "button";
      copy.setAttribute("aria-label", "Copy address " + address);
      copy.addEventListener("click", function () { copyText(address, copy); });
      item.appendChild(copy);
      var links = el("span", "explorers");
      api.explorerAddressLinks(address).forEach(function (link, index) {
        var a = outLink(index === 0 ? "View on " + link.label : link.chain, link.url);
        a.title = "This address on " + link.label;
        links.appendChild(a);
      });
      item.appendChild(links);
      item.appendChild(el("span", "wallet-primary", ""));
      list.appendChild(item);
    });
  }

    // `dids` is null until the identities of the wallets shown have arrived.
  function applyDidsToHeader(dids, wallets) {
    var ready = Boolean(dids);
    var primary = ready && wallets ? firstPrimary(dids.primary, wallets) : null;
    $("primary-name").hidden = !primary;
    $("primary-name").textContent = primary ? "Primary name: " + primary : "";
    $("identity-count").hidden = !ready;
    if (ready) {
      var count = dids.dids.length;
      $("identity-count").textContent = count + " identit" + (count === 1 ? "y" : "ies") + " (.bit, Next.ID, name tags)";
    }
    document.querySelectorAll("#wallet-list .wallet").forEach(function (item) {
      var name = ready && dids.primary[item.dataset.address];
      // One wallet: the header's "Primary name" already says it.
      var several = wallets && wallets.length > 1;
      item.querySelector(".wallet-primary").textContent = name && several ? "primary: " + name : "";
    });
  }

    function firstPrimary(primary, wallets) {
    for (var i = 0; i < wallets.length; i++) if (primary[wallets[i]]) return primary[wallets[i]];
    return null;
  }

    function renderProviders(providers) {
    var troubled = providers.filter(function (p) { return p.status !== "ok"; });
    var note = $("providers-note");
    note.hidden = troubled.length === 0;
    note.textContent = troubled.map(function (p) {
      var why = p.errorKind ? " (" + p.errorKind + ")" : "";
      var chains = p.failedChains.length ? " on " + p.failedChains.join(", ") : "";
      return p.provider + " " + p.status + why + chains;
    }).join("; ");
    if (troubled.length) note.textContent = "Some data may be missing: " + note.textContent + ".";
  }

  // -- cards, links and the skeleton -----------------------------------------------------

    function showSkeleton(size, walletChanged, input) {
    if (walletChanged) {
      $("wallet-list").replaceChildren();
      $("results-heading").textContent = input;
      $("primary-name").hidden = true;
      $("identity-count").hidden = true;
      $("collections").hidden = true;
      $("pager").hidden = true;
    }
    var list = el("ul", "grid");
    list.setAttribute("aria-hidden", "true");
    for (var i = 0; i < size; i++) {
      var cell = el("li", "cell skeleton");
      cell.appendChild(el("span", "media thumb"));
      cell.appendChild(el("span", "bar"));
      cell.appendChild(el("span", "bar short"));
      list.appendChild(cell);
    }
    $("grid").replaceChildren(list);
    $("empty").hidden = true;
    $("results").hidden = false;
  }

    function openDetail(asset, opener) {
    var nft = asset.nft;
    var dialog = $("detail");
    $("detail-media").replaceChildren(media(nft, "large"));
    $("detail-title").textContent = api.title(nft);
    $("detail-collection").textContent = nft.collectionName || nft.collectionSlug || "";
    $("detail-description").textContent = nft.description || "";
    $("detail-description").hidden = !nft.description;
    var facts = [
      ["Chain", api.chainName(nft.chain)],
      ["Quantity", formatQuantity(asset.quantity) + (asset.quantityKnown ? "" : " (balance unknown)")],
      ["Held by", asset.wallets ? asset.wallets.map(function (w) { return w.address; }).join(", ") : null],
      ["Rarity", rarityText(nft.rarity)],
      ["Floor", floorText(nft.collection && nft.collection.floor)],
      ["Standard", nft.tokenStandard],
      ["Token ID", nft.tokenId],
      ["Contract", nft.contractAddress],
      ["Owners", nft.ownerAddresses && nft.ownerAddresses.join(", ")],
      ["Spam", nft.isSpam ? "yes: " + (nft.spamReasons || []).join(", ") : "no"],
      ["NSFW", nft.isNsfw ? "yes (not spam: shown, blurred until clicked)" : null],
      ["Animation", nft.animationUrl],
    ];
    var dl = $("detail-facts");
    dl.replaceChildren();
    facts.forEach(function (fact) {
      if (fact[1] === null || fact[1] === undefined || fact[1] === "") return;
      dl.appendChild(el("dt", null, fact[0]));
      var mono = fact[0] === "Contract" || fact[0] === "Owners" || fact[0] === "Held by";
      dl.appendChild(el("dd", mono ? "mono" : null, fact[1]));
    });
    $("detail-links").replaceChildren(nftLinks(nft, "links"));
    fillTable($("detail-traits"), nft.traits.map(function (t) { return [t.type, t.value]; }));
    $("detail-traits").hidden = nft.traits.length === 0;
    $("detail-no-traits").hidden = nft.traits.length > 0;
    $("detail-sources").textContent = "Reported by " + nft.sources.join(" and ") + ".";
    fillTable($("detail-provenance"), nft.provenance.map(function (p) { return [p.field.replace(/_/g, " "), p.provider]; }));
    $("detail-provenance").hidden = nft.provenance.length === 0;
    dialog.returnFocusTo = opener;
    dialog.showModal();
  }

  function copyText(text, button) {
    var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy address"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { legacyCopy(text) && done(); });
    } else if (legacyCopy(text)) {
      done();
    }
  }

  function legacyCopy(text) {
    var area = el("textarea", "offscreen", text);
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    area.remove();
    return ok;
  }

  function option(value, label) {
    var node = el("option", null, label);
    node.value = value;
    return node;
  }

  function cardList(entries, onOpen) {
    var list = el("ul", "grid");
    entries.forEach(function (entry) { list.appendChild(card(entry.asset, entry.index, onOpen)); });
    return list;
  }

  function card(asset, index, onOpen) {
    var nft = asset.nft;
    var item = el("li", "cell" + (nft.isSpam ? " is-spam" : "") + (nft.isNsfw ? " is-nsfw" : ""));
    var button = el("button", "card");
    button.type = "button";
    button.setAttribute("aria-haspopup", "dialog");
    button.dataset.index = String(index);
    button.appendChild(media(nft, "thumb"));
    var caption = el("span", "caption");
    caption.appendChild(el("span", "name", api.title(nft)));
    caption.appendChild(el("span", "collection", api.collectionLabel(nft)));
    var tags = el("span", "tags");
    tags.appendChild(el("span", "tag chain chain-" + nft.chain.toLowerCase(), api.chainName(nft.chain)));
    if (asset.quantity !== "1" || !asset.quantityKnown) {
      var qty = el("span", "tag qty", "×" + shortQuantity(asset.quantity) + (asset.quantityKnown ? "" : "?"));
      qty.title = asset.quantityKnown ? formatQuantity(asset.quantity) + " held" : "balance unknown";
      tags.appendChild(qty);
    }
    if (nft.isSpam) tags.appendChild(el("span", "tag spam", "spam"));
    if (nft.isNsfw) tags.appendChild(el("span", "tag nsfw", "nsfw"));
    caption.appendChild(tags);
    button.appendChild(caption);
    if (nft.isNsfw) button.setAttribute("aria-label", api.title(nft) + " (NSFW: click to show)");
    button.addEventListener("click", function () {
      // NSFW media stays blurred until clicked: the first click shows it, the next opens it.
      if (nft.isNsfw && !item.classList.contains("revealed")) {
        item.classList.add("revealed");
        button.removeAttribute("aria-label");
        return;
      }
      onOpen(index, button);
    });
    item.appendChild(button);
    item.appendChild(nftLinks(nft, "card-links"));
    return item;
  }

  function nftLinks(nft, className) {
    var links = el("span", className);
    var opensea = api.openseaURL(nft);
    if (opensea) links.appendChild(outLink("OpenSea", opensea));
    var explorer = api.explorerNftLink(nft);
    if (explorer) links.appendChild(outLink(explorer.label, explorer.url));
    return links;
  }

  function fillTable(table, rows) {
    var body = table.tBodies[0];
    body.replaceChildren();
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.appendChild(el("th", null, row[0])).setAttribute("scope", "row");
      tr.appendChild(el("td", null, row[1]));
      body.appendChild(tr);
    });
  }

  function renderDids(dids) {
    var items = $("dids-list");
    items.replaceChildren();
    dids.forEach(function (did) {
      var item = el("li", "did");
      var head = el("div", "did-head");
      head.appendChild(el("span", "did-name", did.displayName || did.identity));
      head.appendChild(el("span", "tag did-type", DID_TYPES[did.type] || did.type));
      item.appendChild(head);
      var badges = el("div", "tags");
      if (did.isPrimary) badges.appendChild(el("span", "tag primary", "primary"));
      if (did.valid === false) badges.appendChild(el("span", "tag spam", did.type === "DOTBIT" ? "expired" : "invalid"));
      if (badges.childNodes.length) item.appendChild(badges);
      var facts = el("dl", "did-facts");
      if (did.displayName && did.displayName !== did.identity) addFact(facts, "Identity", did.identity);
      if (did.expiresAt) addFact(facts, "Expires", did.expiresAt.slice(0, 10));
      addFact(facts, "Source", did.source);
      did.links.forEach(function (link) {
        var mark = link.valid === true ? " ✓" : link.valid === false ? " ✗" : "";
        addFact(facts, link.platform, link.identity + mark);
      });
      item.appendChild(facts);
      items.appendChild(item);
    });
    $("dids-heading").textContent = "Identities (" + dids.length + ")";
    $("dids-empty").hidden = dids.length > 0;
    $("dids-panel").hidden = false;
  }

  function addFact(dl, term, value) {
    dl.appendChild(el("dt", null, term));
    var dd = el("dd", null, abbreviate(value));
    if (dd.textContent !== value) dd.title = value;
    dl.appendChild(dd);
  }

  function abbreviate(text) {
    // Addresses and persona keys are long; the full value stays in the title attribute.
    return text.replace(/\b(0x[0-9a-fA-F]{4})[0-9a-fA-F]{30,}([0-9a-fA-F]{4})\b/g, "$1…$2");
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function outLink(text, url) {
    var a = el("a", "out", text);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function media(nft, size) {
    var url = safeImageURL(nft.image);
    if (!url) return placeholder(size);
    var img = el("img", "media " + size);
    img.alt = size === "large" ? "Image of " + api.title(nft) : "";
    img.loading = "lazy";
    img.decoding = "async";
    img.src = url;
    img.addEventListener("error", function () { img.replaceWith(placeholder(size)); });
    return img;
  }

  function placeholder(size) {
    var box = el("span", "media placeholder " + size, "No image");
    box.setAttribute("role", size === "large" ? "img" : "presentation");
    if (size === "large") box.setAttribute("aria-label", "No image");
    return box;
  }

  function safeImageURL(url) {
    if (!url) return null;
    if (/^data:image\//i.test(url) || /^https?:\/\//i.test(url)) return url;
    return null; // never javascript: or anything the browser might treat as a script
  }

  // A floor is never shown without who quoted it and how long ago.
  function floorText(floor) {
    if (!floor) return null;
    var minutes = Math.max(0, Math.round((Date.now() - Date.parse(floor.fetchedAt)) / 60000));
    var age = minutes < 1 ? "just now" : minutes + " min ago";
    return floor.value.toLocaleString("en-US", { maximumFractionDigits: 4 }) + " " +
      floor.currency + " (" + floor.source + ", " + age + ")";
  }

  function rarityText(rarity) {
    if (!rarity || (rarity.rank === null && rarity.score === null)) return null;
    var parts = [];
    if (rarity.rank !== null) parts.push("rank " + rarity.rank.toLocaleString("en-US") + (rarity.total ? " of " + rarity.total.toLocaleString("en-US") : ""));
    if (rarity.score !== null) parts.push("score " + rarity.score);
    return parts.join(", ");
  }

  function formatQuantity(decimal) {
    return String(decimal).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function shortQuantity(decimal) {
    // Cards have room for about ten characters; the detail panel shows the exact value.
    var text = String(decimal);
    if (text.length <= 9) return formatQuantity(text);
    var units = [[18, "E"], [15, "P"], [12, "T"], [9, "B"]];
    for (var i = 0; i < units.length; i++) {
      var digits = text.length - units[i][0];
      if (digits > 0 && digits <= 3) {
        return text.slice(0, digits) + (text[digits] !== "0" ? "." + text[digits] : "") + units[i][1];
      }
    }
    return text[0] + "." + text[1] + "e" + (text.length - 1);
  }

  api.view = {
    applyDidsToHeader: applyDidsToHeader,
    cardList: cardList,
    el: el,
    openDetail: openDetail,
    option: option,
    renderDids: renderDids,
    renderHeader: renderHeader,
    renderProviders: renderProviders,
    showSkeleton: showSkeleton,
  };
})();
