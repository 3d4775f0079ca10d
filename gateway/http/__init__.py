"""The HTTP edge shared by every face: security headers and body rules, per-client rate
limits, observability (request ids, JSON logs, metrics) and key redaction.

May import: :mod:`gateway.errors`, :mod:`gateway.settings`. Never the services
(:mod:`gateway.nfts`, :mod:`gateway.identity`) nor the faces.
"""
