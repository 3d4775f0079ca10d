"""The benchmark suite of issue 6: ``python -m bench`` (``make bench``). Not part of the tests."""
