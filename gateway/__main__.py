"""``python -m gateway``: the same as the ``nft-gateway`` command."""

from gateway.cli import main

main()
