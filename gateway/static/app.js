// The gallery: plain JavaScript over the gateway's public GraphQL API (POST /graphql);
// documents, chain facts and links are in gallery-api.js (window.NFTGW), DOM builders in
// gallery-view.js (NFTGW.view); this file holds the state, the URL and the flow.
//
// Two independent requests per search: the NFT page (with the wallet header's addresses),
// and the DIDs (primary name, identities). The DIDs are optional: when their query fails
// the identities panel stays hidden and the grid is unaffected.
// Every value from the API is put into the page with textContent, never as HTML.
(function () {
  "use strict";

  var api = window.NFTGW;
  var CHAINS = api.CHAIN_ORDER;
  var SIZES = [12, 24, 48];
  var view = api.view;

  var $ = function (id) { return document.getElementById(id); };
  var state = {
    input: "", page: 1, size: 12, chains: null, spam: "EXCLUDE", collection: "", group: false,
    assets: [], didsFor: null,
  };
  var latest = 0; // the sequence number of the newest search; older answers are dropped
  var latestDids = 0; // the same for the DIDs, which reload only for a new wallet

  // -- search state and the URL ----------------------------------------------------------

  function readForm() {
    var checked = CHAINS.filter(function (chain) { return chainBox(chain).checked; });
    state.chains = checked.length === CHAINS.length ? null : checked;
    state.spam = $("spam").value;
    state.size = parseInt($("size").value, 10);
  }

  function writeForm() {
    $("wallet-input").value = state.input;
    CHAINS.forEach(function (chain) {
      chainBox(chain).checked = state.chains === null || state.chains.indexOf(chain) >= 0;
    });
    $("spam").value = state.spam;
    $("size").value = String(state.size);
    $("group").checked = state.group;
  }

  function chainBox(chain) {
    return document.querySelector('input[name="chain"][value="' + chain + '"]');
  }

  function toURL() {
    var params = new URLSearchParams();
    params.set("q", state.input);
    if (state.page > 1) params.set("page", String(state.page));
    if (state.size !== 12) params.set("size", String(state.size));
    if (state.spam !== "EXCLUDE") params.set("spam", state.spam);
    if (state.chains) params.set("chains", state.chains.join(","));
    if (state.collection) params.set("collection", state.collection);
    if (state.group) params.set("group", "1");
    return "?" + params.toString();
  }

  function fromURL() {
    var params = new URLSearchParams(window.location.search);
    state.input = (params.get("q") || "").trim();
    state.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    var size = parseInt(params.get("size") || "12", 10);
    state.size = SIZES.indexOf(size) >= 0 ? size : 12;
    var spam = params.get("spam");
    state.spam = spam === "INCLUDE" || spam === "ONLY" ? spam : "EXCLUDE";
    var chains = (params.get("chains") || "").split(",").filter(function (c) {
      return CHAINS.indexOf(c) >= 0;
    });
    state.chains = chains.length && chains.length < CHAINS.length ? chains : null;
    state.collection = params.get("collection") || "";
    state.group = params.get("group") === "1";
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
    view.showSkeleton(state.size, walletChanged, state.input);
    var variables = {
      input: state.input, page: state.page, size: state.size,
      chains: state.chains, spam: state.spam,
    };
    api.fetchPage(variables).then(function (answer) {
      if (sequence !== latest) return;
      var pages = pageCount(answer.page);
      if (answer.page.assets.length === 0 && state.page > pages) {
        // Past the end (an old link, a typed URL): show the last page and say so.
        var asked = state.page;
        state.page = pages;
        history.replaceState(null, "", toURL());
        search();
        $("range-note").textContent = "There is no page " + asked.toLocaleString("en-US") +
          ": " + describePages(pages) + ", so this is page " + pages.toLocaleString("en-US") + ".";
        $("range-note").hidden = false;
        return;
      }
      if (state.page !== answer.page.page) $("range-note").hidden = true;
      renderPage(answer);
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

  function pageCount(page) {
    return Math.max(1, Math.ceil(page.total / page.size));
  }

  function describePages(pages) {
    return pages === 1 ? "there is 1 page" : "there are " + pages.toLocaleString("en-US") + " pages";
  }

  function renderPage(answer) {
    var nfts = answer.page;
    state.assets = nfts.assets;
    $("results").hidden = false;
    view.renderHeader(answer);
    state.headerWallets = answer.wallets;
    showDids();
    var pages = pageCount(nfts);
    var more = nfts.totalIsExact ? "" : "+";
    $("page-label").textContent = "Page " + nfts.page.toLocaleString("en-US") + " of " + pages.toLocaleString("en-US") + more;
    $("prev").disabled = nfts.page <= 1;
    $("next").disabled = !nfts.hasNextPage;
    $("pager").hidden = pages <= 1 && nfts.page === 1 && !nfts.hasNextPage;
    $("jump-page").max = String(pages);
    $("jump-page").value = String(nfts.page);
    $("jump").hidden = pages <= 2;
    view.renderProviders(nfts.providers);
    renderCollections(nfts.assets);
    renderGrid();
    setStatus(countText(nfts, answer.spamTotal) + " · page " + nfts.page.toLocaleString("en-US") +
      " of " + pages.toLocaleString("en-US") + more + (nfts.totalIsExact ? "" : " (still counting)"));
  }

  function countText(nfts, spamTotal) {
    var total = nfts.total.toLocaleString("en-US") + (nfts.totalIsExact ? "" : "+");
    var noun = " NFT" + (nfts.total === 1 ? "" : "s");
    if (state.spam === "ONLY") return total + noun + " marked as spam";
    if (state.spam === "INCLUDE") return total + noun + ", " + spamTotal.toLocaleString("en-US") + " of them marked as spam (dimmed)";
    return total + noun + (spamTotal ? " (" + spamTotal.toLocaleString("en-US") + " more marked as spam are hidden)" : "");
  }

  // -- the wallet header -----------------------------------------------------------------





  function showDids() {
    var ready = state.dids && state.didsFor === state.input ? state.dids : null;
    view.applyDidsToHeader(ready, state.headerWallets);
  }

  function openDetail(index, opener) {
    view.openDetail(state.assets[index], opener);
  }

  // -- collections and the grid ----------------------------------------------------------

  function renderCollections(assets) {
    var counts = {};
    var order = [];
    assets.forEach(function (asset) {
      var key = api.collectionKey(asset.nft);
      if (!counts[key]) { counts[key] = { label: api.collectionLabel(asset.nft), n: 0 }; order.push(key); }
      counts[key].n += 1;
    });
    var select = $("collection");
    select.replaceChildren(view.option("", "All collections (" + assets.length + ")"));
    order.forEach(function (key) { select.appendChild(view.option(key, counts[key].label + " (" + counts[key].n + ")")); });
    if (state.collection && !counts[state.collection]) {
      select.appendChild(view.option(state.collection, state.collection + " (0 on this page)"));
    }
    select.value = state.collection;
    $("collections").hidden = assets.length === 0;
  }

  function renderGrid() {
    var container = $("grid");
    container.replaceChildren();
    var shown = state.assets.map(function (asset, index) { return { asset: asset, index: index }; })
      .filter(function (entry) { return !state.collection || api.collectionKey(entry.asset.nft) === state.collection; });
    $("empty").hidden = shown.length > 0;
    $("empty").textContent = state.assets.length && state.collection
      ? "None of this page's NFTs are in that collection." : "No NFTs match these filters.";
    if (!state.group) {
      container.appendChild(view.cardList(shown, openDetail));
      return;
    }
    var groups = [];
    var byKey = {};
    shown.forEach(function (entry) {
      var key = api.collectionKey(entry.asset.nft);
      if (!byKey[key]) { byKey[key] = { label: api.collectionLabel(entry.asset.nft), entries: [] }; groups.push(byKey[key]); }
      byKey[key].entries.push(entry);
    });
    groups.forEach(function (group) {
      var section = view.el("section", "group");
      section.appendChild(view.el("h3", "group-title", group.label + " · " + group.entries.length));
      section.appendChild(view.cardList(group.entries, openDetail));
      container.appendChild(section);
    });
  }


  // -- the detail panel ------------------------------------------------------------------


  // -- DIDs ------------------------------------------------------------------------------

  function loadDids() {
    var sequence = ++latestDids;
    var input = state.input;
    state.didsFor = input;
    state.dids = null;
    $("dids-panel").hidden = true;
    showDids();
    api.fetchDids(input).then(function (answer) {
      if (sequence !== latestDids) return;
      state.dids = answer;
      view.renderDids(answer.dids);
      showDids();
    }).catch(function () {
      if (sequence === latestDids) $("dids-panel").hidden = true; // the grid never needs it
    });
  }

  // -- small helpers ---------------------------------------------------------------------

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
      state.collection = "";
      $("range-note").hidden = true;
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
    $("collection").addEventListener("change", function () {
      state.collection = $("collection").value;
      history.pushState(null, "", toURL());
      renderGrid();
    });
    $("group").addEventListener("change", function () {
      state.group = $("group").checked;
      history.replaceState(null, "", toURL());
      renderGrid();
    });
    $("prev").addEventListener("click", function () { turnPage(state.page - 1); });
    $("next").addEventListener("click", function () { turnPage(state.page + 1); });
    $("jump").addEventListener("submit", function (event) {
      event.preventDefault();
      var wanted = parseInt($("jump-page").value, 10);
      if (wanted >= 1) turnPage(wanted);
    });
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
    readForm();
    if (!state.input) return;
    state.page = 1;
    state.collection = "";
    $("range-note").hidden = true;
    go(true);
  }

  function turnPage(page) {
    state.page = Math.max(1, page);
    $("range-note").hidden = true;
    go(true);
    $("results").focus();
  }

  start();
})();
