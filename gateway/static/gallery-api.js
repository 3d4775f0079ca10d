// The gallery's data layer: GraphQL documents, the one fetch helper, chain facts and links.
//
// Loaded before app.js (both `defer`, in document order); exposes `window.NFTGW`.
// A wallet address (0x + 40 hex digits) is asked through `wallet(address:)`; anything else
// (alice.bit, a Next.ID persona, twitter:alice_nft) through `identity(name:)`, which covers
// every wallet the name links: the same answer as REST `POST /users/<id>/nfts` and the CLI.
(function () {
  "use strict";

  var ENDPOINT = "/graphql";

  // Chain facts the page needs: a person's name for the chain, OpenSea's path segment for
  // it, and the chain's block explorer (Etherscan family: /address/<a>, /nft/<c>/<id>).
  var CHAINS = {
    ETHEREUM: { name: "Ethereum", opensea: "ethereum", explorer: "Etherscan", url: "https://etherscan.io" },
    POLYGON: { name: "Polygon", opensea: "matic", explorer: "PolygonScan", url: "https://polygonscan.com" },
    BASE: { name: "Base", opensea: "base", explorer: "BaseScan", url: "https://basescan.org" },
    ARBITRUM: { name: "Arbitrum", opensea: "arbitrum", explorer: "Arbiscan", url: "https://arbiscan.io" },
    OPTIMISM: { name: "Optimism", opensea: "optimism", explorer: "Optimistic Etherscan", url: "https://optimistic.etherscan.io" },
  };
  var CHAIN_ORDER = ["ETHEREUM", "POLYGON", "BASE", "ARBITRUM", "OPTIMISM"];

  var PAGE_FIELDS = [
    "      total totalIsExact page size hasNextPage",
    "      providers { provider status errorKind errorMessage failedChains }",
    "      assets {",
    "        quantity quantityKnown",
    "        nft {",
    "          blockchain chain contractAddress tokenId tokenStandard",
    "          name description image animationUrl",
    "          collectionName collectionSlug collectionOpenseaSlug",
    "          ownerAddresses isSpam spamReasons isNsfw sources",
    "          traits { type value }",
    "          rarity { rank score total }",
    "          provenance { field provider }",
    "          collection { floor { value currency source fetchedAt } }",
    "        }",
    "      }",
  ];
  var PAGE_ARGS = "page: $page, size: $size, chains: $chains, spam: $spam";
  // The spam count beside the page, so a total can say how many spam NFTs it leaves out.
  var SPAM_COUNT = "    spamCount: nfts(page: 1, size: 1, chains: $chains, spam: ONLY) { total }";
  var VARIABLES = "$input: String!, $page: Int!, $size: Int!, $chains: [Chain!], $spam: SpamFilter!";

  var WALLET_PAGE = [
    "query GalleryWalletPage(" + VARIABLES + ") {",
    "  wallet(address: $input) {",
    "    address",
    "    nfts(" + PAGE_ARGS + ") {",
  ].concat(PAGE_FIELDS, ["    }", SPAM_COUNT, "  }", "}"]).join("\n");

  var IDENTITY_PAGE = [
    "query GalleryIdentityPage(" + VARIABLES + ") {",
    "  identity(name: $input) {",
    "    name kind",
    "    wallets { address }",
    "    nfts(" + PAGE_ARGS + ") {",
  ].concat(PAGE_FIELDS, ["      assets { wallets { address } }", "    }", SPAM_COUNT, "  }", "}"]).join("\n");

  var DID_FIELDS = [
    "total",
    "dids {",
    "  type identity displayName isPrimary valid expiresAt source",
    "  links { platform identity valid }",
    "}",
  ].join(" ");
  var WALLET_DIDS = "query GalleryWalletDids($input: String!) { wallet(address: $input) { address dids { " + DID_FIELDS + " } } }";
  var IDENTITY_DIDS = "query GalleryIdentityDids($input: String!) { identity(name: $input) { name wallets { address wallet { dids { " + DID_FIELDS + " } } } } }";

  // Anything 0x-prefixed is a wallet address (a typo then reads "invalid address"), except
  // a Next.ID persona key (0x and 66 hex digits), which is an identity.
  function isAddress(input) {
    return /^0x/i.test(input) && !/^0x[0-9a-fA-F]{66}$/.test(input);
  }

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

  // One page of NFTs, in one shape whichever root field answered it:
  // {name, wallets: [address], page: NFTPage, spamTotal}.
  function fetchPage(variables) {
    if (isAddress(variables.input)) {
      return gql(WALLET_PAGE, variables).then(function (data) {
        var wallet = data.wallet;
        return { name: null, wallets: [wallet.address], page: wallet.nfts, spamTotal: wallet.spamCount.total };
      });
    }
    return gql(IDENTITY_PAGE, variables).then(function (data) {
      var identity = data.identity;
      return {
        name: identity.name,
        wallets: identity.wallets.map(function (w) { return w.address; }),
        page: identity.nfts,
        spamTotal: identity.spamCount.total,
      };
    });
  }

  // The DIDs of every wallet the input stands for, each DID once, as REST /dids lists them
  // (same key: type and identity, case-insensitive; the first view wins, links are united),
  // plus each wallet's primary .bit name: {dids: [...], primary: {address: name}}.
  function fetchDids(input) {
    if (isAddress(input)) {
      return gql(WALLET_DIDS, { input: input }).then(function (data) {
        return mergeDids([{ address: data.wallet.address, dids: data.wallet.dids.dids }]);
      });
    }
    return gql(IDENTITY_DIDS, { input: input }).then(function (data) {
      return mergeDids(data.identity.wallets.map(function (w) {
        return { address: w.address, dids: w.wallet.dids.dids };
      }));
    });
  }

  function mergeDids(perWallet) {
    var merged = [];
    var byKey = {};
    var primary = {};
    perWallet.forEach(function (entry) {
      entry.dids.forEach(function (did) {
        if (did.type === "DOTBIT" && did.isPrimary && !primary[entry.address]) primary[entry.address] = did.identity;
        var key = did.type + "\u0000" + did.identity.toLowerCase();
        var known = byKey[key];
        if (!known) {
          byKey[key] = Object.assign({}, did, { links: did.links.slice() });
          merged.push(byKey[key]);
          return;
        }
        known.displayName = known.displayName || did.displayName;
        known.isPrimary = known.isPrimary || did.isPrimary;
        if (known.valid === null) known.valid = did.valid;
        if (known.expiresAt === null) known.expiresAt = did.expiresAt;
        did.links.forEach(function (link) {
          var seen = known.links.some(function (k) {
            return k.platform === link.platform && k.identity === link.identity && k.valid === link.valid;
          });
          if (!seen) known.links.push(link);
        });
      });
    });
    return { dids: merged, primary: primary };
  }

  // -- names and links ---------------------------------------------------------------------

  function chainName(chain) {
    return (CHAINS[chain] && CHAINS[chain].name) || chain;
  }

  // The name a person sees for an NFT; the CLI's table uses the same fallback.
  function title(nft) {
    return nft.name || (nft.collectionName ? nft.collectionName + " #" + nft.tokenId : "#" + nft.tokenId);
  }

  function collectionKey(nft) {
    return nft.collectionSlug || nft.collectionOpenseaSlug || nft.chain + ":" + nft.contractAddress.toLowerCase();
  }

  function collectionLabel(nft) {
    return nft.collectionName || nft.collectionSlug || shortAddress(nft.contractAddress);
  }

  function openseaURL(nft) {
    var chain = CHAINS[nft.chain];
    return chain ? "https://opensea.io/assets/" + chain.opensea + "/" + nft.contractAddress + "/" + nft.tokenId : null;
  }

  function explorerNftLink(nft) {
    var chain = CHAINS[nft.chain];
    return chain ? { label: chain.explorer, url: chain.url + "/nft/" + nft.contractAddress + "/" + nft.tokenId } : null;
  }

  function explorerAddressLinks(address) {
    return CHAIN_ORDER.map(function (code) {
      var chain = CHAINS[code];
      return { label: chain.explorer, chain: chain.name, url: chain.url + "/address/" + address };
    });
  }

  function shortAddress(address) {
    return address ? address.slice(0, 6) + "…" + address.slice(-4) : "";
  }

  window.NFTGW = {
    ENDPOINT: ENDPOINT,
    CHAIN_ORDER: CHAIN_ORDER,
    isAddress: isAddress,
    fetchPage: fetchPage,
    fetchDids: fetchDids,
    mergeDids: mergeDids,
    chainName: chainName,
    title: title,
    collectionKey: collectionKey,
    collectionLabel: collectionLabel,
    openseaURL: openseaURL,
    explorerNftLink: explorerNftLink,
    explorerAddressLinks: explorerAddressLinks,
    shortAddress: shortAddress,
  };
})();
