"""The shared TTL cache: keys, the memory and Redis layers, single-flight across replicas,
and the codec for every cached JSON shape.

May import: :mod:`providers.models`, :mod:`gateway.settings`. Nothing else of the gateway:
every layer above uses it, it uses none of them.
"""
