"""The GraphQL face's speed tricks, and the only place that knows them: a compiled
projection of the schema (:mod:`.compiled`), the recording of the service calls a request
made (:mod:`.recording`) and their replay for a repeated document (:mod:`.replay`).

May import: the services' public types, :mod:`gateway.schema` (errors), :mod:`gateway.errors`.
"""
