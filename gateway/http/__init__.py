"""The HTTP edge every face shares (GraphQL, REST, the gallery page, the operator routes).

* :mod:`~gateway.http.security`: bodies read with a byte cap (413), JSON only (415), JSON
  depth, the one JSON encoder for every body the gateway sends (``encode_json``),
  ``nosniff`` / ``no-store`` headers and the CORS allowlist.
* :mod:`~gateway.http.responses`: answers whose header pairs are encoded once (a kept
  REST page's, a replayed GraphQL answer's), sent with only their length added.
* :mod:`~gateway.http.ratelimit`: client API keys (401) and token buckets per client key
  and IP (429), in memory or in Redis.
* :mod:`~gateway.http.edge`: what every request gets in one pass: a request id, the
  security headers, a metrics sample and an access log line.
* :mod:`~gateway.http.observability`: Prometheus metrics (also the resilience layer's and
  the cache's observer), ``/metrics`` and ``/readyz``.
* :mod:`~gateway.http.logs`: JSON log lines with request ids (``configure_logging``).
* :mod:`~gateway.http.upstream_log`: a WARNING line per upstream failure, at most one per
  provider and kind per interval (the metrics observer calls it).
* :mod:`~gateway.http.redaction`: every configured secret out of every log record and
  every response body.
* :mod:`~gateway.http.server`: the HTTP/1.1 protocol ``serve`` runs (uvicorn's, plus
  header and body deadlines and a connection cap).
* :mod:`~gateway.http.spellings`: the spellings of a key that redaction looks for.
* :mod:`~gateway.http.logrepeats`: a flood of one log message as one line with a count.

May import: :mod:`gateway.errors`, :mod:`gateway.settings` and each other. Never the
services (:mod:`gateway.nfts`, :mod:`gateway.identity`), the cache, nor the faces.
"""
