"""The benchmark suite of issue 6: ``python -m bench`` (``make bench``). Not part of the tests.

Imports the package (``gateway``, ``providers``) and itself, never ``tests``: what a bench
needs from the test suite's helpers has its own copy here (:mod:`bench.replicas`, the fault
list in :mod:`bench.resilience`); speed goals live here, not in tests.
"""
