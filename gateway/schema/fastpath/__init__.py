"""The GraphQL face's speed tricks, and the only place that knows them.

- :mod:`.documents`: each document parsed once (the view's parse, carried in the request's
  context) and validated once;
- :mod:`.compiled` and :mod:`.projector`: the schema's executor, completing plain object
  subtrees with generated projectors instead of per-field resolver calls;
- :mod:`.recording`: each request's trace of typed service calls and their answers, and the
  provider reports for ``extensions``;
- :mod:`.replay`: a repeated request answered from the bytes it was answered with, when
  replaying its calls gives the very same answers;
- :mod:`.checked`: a repeated POST body's checked request, by its bytes (no second parse).

May import: the services' public types (:mod:`gateway.nfts`, :mod:`gateway.identity`), the
schema's call vocabulary and error classification (:mod:`gateway.schema.calls`,
:mod:`gateway.schema.errors`), :mod:`gateway.errors`; never the schema's own types. Only the
schema's assembly (``CompiledSchema``), the request context (the parsed document) and the
view import from here: types and resolvers do not know these tricks exist.
"""
