"""What a wallet holds: the NFT service and everything below it.

Orchestration (:mod:`.service`), the wallet walk that merges the providers' streams into one
stable order (:mod:`.walk`), field-by-field merging (:mod:`.merging`), and what clients may
see of hostile metadata (:mod:`.sanitize`, :mod:`.media`).

May import: :mod:`providers` (public names), :mod:`gateway.cache`,
:mod:`gateway.resilience`, :mod:`gateway.errors`, :mod:`gateway.settings`. Never a face
(REST, GraphQL, CLI, web) nor :mod:`gateway.identity`.
"""
