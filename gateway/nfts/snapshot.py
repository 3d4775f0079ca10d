"""A finished walk as compact JSON and back: what other replicas and stale-if-error read.

:func:`encode_walk` turns a complete :class:`~gateway.nfts.walk.WalletWalk` into JSON-ready
data (the committed holdings, each with every provider's record, and the stream reports);
:func:`decode_walk` rebuilds an equal, complete walk from it, so every replica pages the
very same order without walking again.

The holdings travel positional (each record as :func:`gateway.cache.codec.pack_record`
spells it) and zlib-compressed (base64 text, a tenth of the plain JSON): every cache layer
keeps a copy, and plain JSON would cost more than the walk itself.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import orjson

from gateway.cache.codec import pack_record, unpack_record
from gateway.nfts.merging import Holding
from gateway.nfts.spam import SpamJudge
from gateway.nfts.walk import StreamReport, StreamStatus, WalletWalk
from providers.models import Chain

__all__ = ["SNAPSHOT_VERSION", "decode_walk", "encode_walk"]

# Bump when the snapshot's JSON shape changes (old snapshots then read as misses).
# 3: records carry floors; the walk says when it read the providers (``fetched_at``).
# 4: records carry the spam verdict's facts (signals, verified, NSFW, trading, owners).
SNAPSHOT_VERSION = 4
# zlib level for snapshots: 6 is about as small as 9 here, at a third of the time.
SNAPSHOT_COMPRESSION = 6
SNAPSHOT_CHUNK = 4096  # characters per string of the compressed holdings
SNAPSHOT_BATCH = 256  # holdings encoded at a time
SNAPSHOT_PLAIN_MAX = 64  # up to this many holdings, a snapshot is plain (uncompressed)
_REPORT_FIELDS = fields(StreamReport)


def encode_walk(walk: WalletWalk) -> dict[str, Any]:
    """The walk's committed holdings and reports as JSON-ready data; :func:`decode_walk`
    rebuilds an equal, complete walk from it. Safe to call from a worker thread once the
    walk is complete (nothing changes it then)."""
    data: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "owner": walk.owner,
        "fetched_at": walk.fetched_at,
        "reports": [_report_json(report) for report in walk.reports],
    }
    holdings = list(walk.holdings)
    if len(holdings) <= SNAPSHOT_PLAIN_MAX:  # compressing would not pay
        data["holdings"] = [[pack_record(r) for r in h.records] for h in holdings]
        return data
    text = base64.b64encode(_compressed(holdings))
    # Short strings, not one long one: orjson reserves its output buffer in proportion
    # to the longest string and never gives the slack back (up to 9x, kept in cache).
    data["zlib"] = [
        text[i : i + SNAPSHOT_CHUNK].decode("ascii") for i in range(0, len(text), SNAPSHOT_CHUNK)
    ]
    return data


def decode_walk(
    data: Mapping[str, Any],
    priority: Mapping[str, Sequence[str]],
    spam_judge: SpamJudge | None = None,
) -> WalletWalk:
    """A complete walk from :func:`encode_walk`'s data (verdicts given by ``spam_judge``).
    Raises ``ValueError`` (or ``KeyError``/``TypeError``) when the data is not a snapshot of
    this version."""
    if data.get("version") != SNAPSHOT_VERSION:
        raise ValueError("not a wallet snapshot of this version")
    if "zlib" in data:
        try:
            text = "".join(data["zlib"])
            packed = orjson.loads(zlib.decompress(base64.b64decode(text)))
        except (zlib.error, orjson.JSONDecodeError) as exc:
            raise ValueError("the snapshot's holdings do not decode") from exc
    else:
        packed = data["holdings"]
    return WalletWalk.restored(
        str(data["owner"]),
        ([unpack_record(record) for record in records] for records in packed),
        [_report_from_json(report) for report in data["reports"]],
        priority,
        fetched_at=float(data["fetched_at"]),
        spam_judge=spam_judge,
    )


def _compressed(holdings: Sequence[Holding]) -> bytes:
    """The holdings as one compressed JSON array, encoded a batch at a time (a big
    wallet's plain JSON never exists whole: it would cost more than the walk)."""
    compressor = zlib.compressobj(SNAPSHOT_COMPRESSION)
    parts = [compressor.compress(b"[")]
    for start in range(0, len(holdings), SNAPSHOT_BATCH):
        chunk = holdings[start : start + SNAPSHOT_BATCH]
        batch = [[pack_record(r) for r in h.records] for h in chunk]
        separator = b"," if start else b""
        parts.append(compressor.compress(separator + orjson.dumps(batch)[1:-1]))
    parts.append(compressor.compress(b"]"))
    parts.append(compressor.flush())
    return b"".join(parts)


def _report_json(report: StreamReport) -> dict[str, Any]:
    # Its fields one level deep, as they are (str, int, float, None, two enums): not
    # ``asdict``, whose deep copy took 10 µs a report, 0.1 ms of a cold walk's ten.
    data = {field.name: getattr(report, field.name) for field in _REPORT_FIELDS}
    data["chain"] = report.chain.value
    data["status"] = report.status.value
    return data


def _report_from_json(data: Mapping[str, Any]) -> StreamReport:
    return StreamReport(
        **{**data, "chain": Chain(data["chain"]), "status": StreamStatus(data["status"])}
    )
