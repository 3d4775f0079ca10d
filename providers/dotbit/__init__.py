""".bit (d.id / DAS) adapter: an address's .bit names, and the addresses a .bit name points to."""

from providers.dotbit.mapping import validate_bit_name
from providers.dotbit.source import DotBitSource

__all__ = ["DotBitSource", "validate_bit_name"]
