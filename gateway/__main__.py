"""``python -m gateway``: the same as the ``nft-gateway`` command.

Run it with the project's Python, ``.venv/bin/python -m gateway`` (``make install`` makes
it). Another Python lacks the dependencies: then this says how to run it instead of
printing a traceback.
"""

import sys

try:
    from gateway.cli import main
except ModuleNotFoundError as exc:
    if (exc.name or "").partition(".")[0] in {"gateway", "providers"}:
        raise  # our own code is broken: show it
    sys.stderr.write(
        f"nft-gateway: this Python ({sys.executable}) lacks the gateway's dependencies "
        f"(no module {exc.name!r}): run `make install`, then `.venv/bin/python -m gateway ...` "
        "or `.venv/bin/nft-gateway ...`\n"
    )
    raise SystemExit(1) from None

main()
