// The gallery: plain JavaScript over the gateway's public GraphQL API (POST /graphql).
//
// Two independent requests per search: the NFT page, and the wallet's DIDs. The DIDs
// panel is optional: when its query fails (a gateway without DID sources, a name that
// resolves for NFTs but has no identities) the panel stays hidden and the grid is
// unaffected.
// Every value from the API is put into the page with textContent, never as HTML.
(function () {
  "use strict";

  var ENDPOINT = "/graphql";
  var CHAINS = ["ETHEREUM", "POLYGON", "BASE", "ARBITRUM", "OPTIMISM"];
  var NFT_QUERY = [
    "query GalleryPage($input: String!, $page: Int!, $size: Int!, $chains: [Chain!], $spam: SpamFilter!) {",
    "  wallet(address: $input) {",
    "    address",
    "    nfts(page: $page, size: $size, chains: $chains, spam: $spam) {",
    "      total totalIsExact page size hasNextPage",
    "      providers { provider status errorKind errorMessage failedChains }",
    "      assets {",
    "        quantity quantityKnown",
    "        nft {",
    "          blockchain chain contractAddress tokenId tokenStandard",
    "          name description image animationUrl",
    "          collectionName collectionSlug collectionOpenseaSlug",
    "          ownerAddresses isSpam sources",
    "          traits { type value }",
    "          rarity { rank score total }",
    "          provenance { field provider }",
    "        }",
    "      }",
    "    }",
    "  }",
    "}",
  ].join("\n");
  var DIDS_QUERY = [
    "query GalleryDids($input: String!) {",
    "  wallet(address: $input) {",
    "    dids {",
    "      total",
    "      dids {",
    "        type identity displayName isPrimary valid expiresAt source",
    "        links { platform identity valid }",
    "      }",
    "    }",
    "  }",
    "}",
  ].join("\n");
  var DID_TYPES = { DOTBIT: ".bit", NEXTID: "Next.ID", NAMETAG: "name tag" };

  var $ = function (id) { return document.getElementById(id); };
  var state = { input: "", page: 1, size: 12, chains: null, spam: "EXCLUDE", assets: [] };
  var latest = 0; // the sequence number of the newest search; older answers are dropped
  var latestDids = 0; // the same for the DIDs panel, which reloads only for a new wallet

  // -- GraphQL -------------------------------------------------------------------------

  function gql(query, variables) {
    return fetch(ENDPOINT, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (response) {
      return response.json().catch(function () {
        throw new Error("The gateway answered HTTP " + response.status + " without JSON.");
      }).then(function (body) {
        if (body && body.errors && body.errors.length) {
          var error = new Error(body.errors[0].message || "The query failed.");
          error.code = body.errors[0].extensions && body.errors[0].extensions.code;
          throw error;
        }
        if (body && body.error) { // REST-style errors (rate limits, body too large)
          throw new Error(body.error.message || body.error.code);
        }
        if (!response.ok || !body || !body.data) {
          throw new Error("The gateway answered HTTP " + response.status + ".");
        }
        return body.data;
      });
    });
  }

  // -- search state and the URL ----------------------------------------------------------

  function readForm() {
    var checked = CHAINS.filter(function (chain) {
      return document.querySelector('input[name="chain"][value="' + chain + '"]').checked;
    });
    state.chains = checked.length === CHAINS.length ? null : checked;
    state.spam = $("spam").value;
    state.size = parseInt($("size").value, 10);
  }

  function writeForm() {
    $("wallet-input").value = state.input;
    CHAINS.forEach(function (chain) {
      var box = document.querySelector('input[name="chain"][value="' + chain + '"]');
      box.checked = state.chains === null || state.chains.indexOf(chain) >= 0;
    });
    $("spam").value = state.spam;
    $("size").value = String(state.size);
  }

  function toURL() {
    var params = new URLSearchParams();
    params.set("q", state.input);
    if (state.page > 1) params.set("page", String(state.page));
    if (state.size !== 12) params.set("size", String(state.size));
    if (state.spam !== "EXCLUDE") params.set("spam", state.spam);
    if (state.chains) params.set("chains", state.chains.join(","));
    return "?" + params.toString();
  }

  function fromURL() {
    var params = new URLSearchParams(window.location.search);
    state.input = (params.get("q") || "").trim();
    state.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    var size = parseInt(params.get("size") || "12", 10);
    state.size = [12, 24, 48].indexOf(size) >= 0 ? size : 12;
    var spam = params.get("spam");
    state.spam = spam === "INCLUDE" || spam === "ONLY" ? spam : "EXCLUDE";
    var chains = (params.get("chains") || "").split(",").filter(function (c) {
      return CHAINS.indexOf(c) >= 0;
    });
    state.chains = chains.length && chains.length < CHAINS.length ? chains : null;
  }

  function go(push) {
    if (!state.input) return;
    var url = toURL();
    if (push && url !== window.location.search) history.pushState(null, "", url);
    else history.replaceState(null, "", url);
    search();
  }

  // -- the NFT page ----------------------------------------------------------------------

  function search() {
    var sequence = ++latest;
    var walletChanged = state.input !== state.didsFor;
    setBusy(true);
    hideError();
    setStatus("Loading " + state.input + "…");
    var variables = {
      input: state.input, page: state.page, size: state.size,
      chains: state.chains, spam: state.spam,
    };
    gql(NFT_QUERY, variables).then(function (data) {
      if (sequence !== latest) return;
      renderPage(data.wallet);
    }).catch(function (error) {
      if (sequence !== latest) return;
      showError(error.message);
      $("results").hidden = true;
      setStatus("");
    }).then(function () {
      if (sequence === latest) setBusy(false);
    });
    if (walletChanged) loadDids();
  }

  function renderPage(wallet) {
    var nfts = wallet.nfts;
    state.assets = nfts.assets;
    $("results").hidden = false;
    var lower = state.input.toLowerCase();
    var named = lower !== wallet.address.toLowerCase();
    $("wallet-line").textContent = (named ? state.input + " → " : "") + wallet.address;
    var pages = Math.max(1, Math.ceil(nfts.total / nfts.size));
    var totalText = nfts.total.toLocaleString("en-US") + (nfts.totalIsExact ? "" : "+");
    $("page-label").textContent = "Page " + nfts.page + " of " + pages + (nfts.totalIsExact ? "" : "+");
    $("prev").disabled = nfts.page <= 1;
    $("next").disabled = !nfts.hasNextPage;
    $("pager").hidden = nfts.total <= nfts.size && nfts.page === 1 && !nfts.hasNextPage;
    $("empty").hidden = nfts.assets.length > 0;
    renderProviders(nfts.providers);
    renderGrid(nfts.assets);
    setStatus(totalText + " NFT" + (nfts.total === 1 ? "" : "s") + (state.spam === "ONLY" ? " marked as spam" : "") +
      " · page " + nfts.page + " of " + pages + (nfts.totalIsExact ? "" : " (still counting)"));
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

  function renderGrid(assets) {
    var grid = $("grid");
    grid.replaceChildren();
    assets.forEach(function (asset, index) {
      var nft = asset.nft;
      var item = el("li", "cell");
      var card = el("button", "card");
      card.type = "button";
      card.setAttribute("aria-haspopup", "dialog");
      card.dataset.index = String(index);
      card.appendChild(media(nft, "thumb"));
      var caption = el("span", "caption");
      caption.appendChild(el("span", "name", title(nft)));
      caption.appendChild(el("span", "collection", nft.collectionName || nft.collectionSlug || shortAddress(nft.contractAddress)));
      var tags = el("span", "tags");
      tags.appendChild(el("span", "tag chain-" + nft.chain.toLowerCase(), nft.blockchain));
      if (asset.quantity !== "1" || !asset.quantityKnown) {
        var qty = el("span", "tag qty", "×" + shortQuantity(asset.quantity) + (asset.quantityKnown ? "" : "?"));
        qty.title = asset.quantityKnown ? formatQuantity(asset.quantity) + " held" : "balance unknown";
        tags.appendChild(qty);
      }
      if (nft.isSpam) tags.appendChild(el("span", "tag spam", "spam"));
      caption.appendChild(tags);
      card.appendChild(caption);
      card.addEventListener("click", function () { openDetail(index, card); });
      item.appendChild(card);
      grid.appendChild(item);
    });
  }

  // -- the detail panel ------------------------------------------------------------------

  function openDetail(index, opener) {
    var asset = state.assets[index];
    var nft = asset.nft;
    var dialog = $("detail");
    $("detail-media").replaceChildren(media(nft, "large"));
    $("detail-title").textContent = title(nft);
    $("detail-collection").textContent = nft.collectionName || nft.collectionSlug || "";
    $("detail-description").textContent = nft.description || "";
    $("detail-description").hidden = !nft.description;
    var facts = [
      ["Chain", nft.blockchain],
      ["Quantity", formatQuantity(asset.quantity) + (asset.quantityKnown ? "" : " (balance unknown)")],
      ["Rarity", rarityText(nft.rarity)],
      ["Standard", nft.tokenStandard],
      ["Token ID", nft.tokenId],
      ["Contract", nft.contractAddress],
      ["Owners", nft.ownerAddresses && nft.ownerAddresses.join(", ")],
      ["Spam", nft.isSpam ? "yes: a provider flagged it" : "no"],
      ["Animation", nft.animationUrl],
    ];
    var dl = $("detail-facts");
    dl.replaceChildren();
    facts.forEach(function (fact) {
      if (fact[1] === null || fact[1] === undefined || fact[1] === "") return;
      dl.appendChild(el("dt", null, fact[0]));
      dl.appendChild(el("dd", fact[0] === "Contract" || fact[0] === "Owners" ? "mono" : null, fact[1]));
    });
    fillTable($("detail-traits"), nft.traits.map(function (t) { return [t.type, t.value]; }));
    $("detail-traits").hidden = nft.traits.length === 0;
    $("detail-no-traits").hidden = nft.traits.length > 0;
    $("detail-sources").textContent = "Reported by " + nft.sources.join(" and ") + ".";
    fillTable($("detail-provenance"), nft.provenance.map(function (p) { return [p.field.replace(/_/g, " "), p.provider]; }));
    $("detail-provenance").hidden = nft.provenance.length === 0;
    dialog.returnFocusTo = opener;
    dialog.showModal();
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

  // -- DIDs ------------------------------------------------------------------------------

  function loadDids() {
    var sequence = ++latestDids;
    var input = state.input;
    state.didsFor = input;
    var panel = $("dids-panel");
    panel.hidden = true;
    gql(DIDS_QUERY, { input: input }).then(function (data) {
      if (sequence !== latestDids) return;
      renderDids(data.wallet.dids);
    }).catch(function () {
      if (sequence === latestDids) panel.hidden = true; // a bonus: the grid never needs it
    });
  }

  function renderDids(list) {
    var items = $("dids-list");
    items.replaceChildren();
    list.dids.forEach(function (did) {
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
    $("dids-heading").textContent = "Identities (" + list.total + ")";
    $("dids-empty").hidden = list.dids.length > 0;
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

  // -- small helpers ---------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function media(nft, size) {
    var url = safeImageURL(nft.image);
    if (!url) return placeholder(size);
    var img = el("img", "media " + size);
    img.alt = size === "large" ? "Image of " + title(nft) : "";
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

  function title(nft) {
    return nft.name || (nft.collectionName ? nft.collectionName + " #" + nft.tokenId : "#" + nft.tokenId);
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

  function shortAddress(address) {
    return address ? address.slice(0, 6) + "…" + address.slice(-4) : "";
  }

  function setStatus(text) { $("status").textContent = text; }

  function showError(message) {
    var box = $("error");
    box.textContent = message;
    box.hidden = false;
  }

  function hideError() { $("error").hidden = true; }

  function setBusy(busy) {
    $("results").setAttribute("aria-busy", busy ? "true" : "false");
    $("search-button").disabled = busy;
  }

  // -- wiring ----------------------------------------------------------------------------

  function start() {
    $("search").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("wallet-input").value.trim();
      if (!input) return;
      state.input = input;
      state.page = 1;
      readForm();
      go(true);
    });
    document.querySelectorAll("button.example").forEach(function (button) {
      button.addEventListener("click", function () {
        $("wallet-input").value = button.dataset.example;
        $("search").requestSubmit();
      });
    });
    ["spam", "size"].forEach(function (id) {
      $(id).addEventListener("change", onFilterChange);
    });
    document.querySelectorAll('input[name="chain"]').forEach(function (box) {
      box.addEventListener("change", function () {
        var any = document.querySelector('input[name="chain"]:checked');
        if (!any) { box.checked = true; showError("Choose at least one chain."); return; }
        onFilterChange();
      });
    });
    $("prev").addEventListener("click", function () { turnPage(-1); });
    $("next").addEventListener("click", function () { turnPage(1); });
    $("detail").addEventListener("close", function () {
      var opener = $("detail").returnFocusTo;
      if (opener) opener.focus();
    });
    $("detail").addEventListener("click", function (event) {
      if (event.target === $("detail")) $("detail").close(); // a click on the backdrop
    });
    window.addEventListener("popstate", function () { fromURL(); writeForm(); if (state.input) search(); });
    fromURL();
    writeForm();
    if (state.input) search();
  }

  function onFilterChange() {
    if (!state.input) { readForm(); return; }
    readForm();
    state.page = 1;
    go(true);
  }

  function turnPage(step) {
    state.page = Math.max(1, state.page + step);
    go(true);
    $("results").focus();
  }

  start();
})();
