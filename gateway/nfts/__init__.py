"""What a wallet holds: the NFT service and everything below it.

* :mod:`.service`: :class:`NFTService`, orchestration only (walk, wait, enrich, answer).
* :mod:`.walks`: the walk registry (local, in flight, restored from another replica,
  published, stale).
* :mod:`.walk`: one wallet's walk (streams, rounds, the one order every face pages over).
* :mod:`.snapshot`: a finished walk as compact JSON and back.
* :mod:`.enrich`: per-NFT detail and collection facts for one page.
* :mod:`.pages`: the answer's values (:class:`HoldingsSlice`, :class:`ProviderReport`,
  :class:`ProviderStatus`) and the one rule combining reports.
* :mod:`.page_cache`: finished pages kept in process.
* :mod:`.merging` (field-by-field merging), :mod:`.sanitize` and :mod:`.media` (what
  clients may see of hostile metadata): pure.

May import: :mod:`providers` (public names), :mod:`gateway.cache`,
:mod:`gateway.resilience`, :mod:`gateway.errors`, :mod:`gateway.settings`. Never a face
(REST, GraphQL, CLI, web) nor :mod:`gateway.identity`.
"""
