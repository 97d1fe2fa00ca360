"""Drill records: the kept proof that samples of the repository could be restored.

A restore drill (verify/drill.py) restores sampled files into a scratch
directory and proves them. What it found is written into the repository as a
write-once object under drills/, so the proof travels with the backups it is
about, is dated, and cannot be rewritten afterwards: a failed drill stays on
record even once the damage is repaired (docs/FORMAT.md §Drills).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgpack

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import is_content_id, open_msgpack, seal
from ripcord.repository.records import check_result, common_doc, read_common, result_of
from ripcord.repository.wire import as_count, as_list, as_str

DRILL_AAD = b"ripcord v1 drill"
DRILL_VERSION = 1
MAX_DRILL = 16 << 20  # 100,000 failures with long paths and reasons fit
PATHS = "surrogateescape"  # paths that are not UTF-8, as in snapshots


@dataclass(frozen=True)
class Failure:
    """One thing the drill could not restore or prove, and why."""

    snapshot: str
    path: str
    reason: str


@dataclass(frozen=True)
class DrillRecord:
    time: datetime  # when the drill started
    host: str
    user: str
    repository: str  # config id of the repository drilled
    snapshots: tuple[str, ...]
    seed: int  # with snapshots, sample and max_bytes: the same sample again
    sample: int  # files asked for
    max_bytes: int | None  # cap on the bytes restored, if any
    files: int  # files restored and proven
    bytes: int
    source_compared: int  # files also compared with their unchanged live source
    duration: float  # seconds
    failures: tuple[Failure, ...] = ()
    id: str = ""  # storage name; not part of the stored document

    @property
    def result(self) -> str:
        return result_of(bool(self.failures))


def encode_drill(key: bytes, rec: DrillRecord) -> bytes:
    doc = {
        "v": DRILL_VERSION,
        **common_doc(rec),
        "snapshots": list(rec.snapshots),
        "seed": rec.seed,
        "sample": rec.sample,
        "max_bytes": rec.max_bytes,
        "files": rec.files,
        "bytes": rec.bytes,
        "source_compared": rec.source_compared,
        "result": rec.result,
        "failures": [
            {"snapshot": f.snapshot, "path": f.path, "reason": f.reason} for f in rec.failures
        ],
    }
    return seal(key, bytes(msgpack.packb(doc, unicode_errors=PATHS)), DRILL_AAD)


def decode_drill(key: bytes, data: bytes, drill_id: str) -> DrillRecord:
    what = f"drill {drill_id}"
    d = open_msgpack(key, data, DRILL_AAD, what, MAX_DRILL, unicode_errors=PATHS)
    try:
        if d["v"] != DRILL_VERSION:
            raise ValueError(f"drill version {d['v']!r}")
        common = read_common(d)
        snaps = d["snapshots"]
        if not isinstance(snaps, list) or not snaps or not all(is_content_id(s) for s in snaps):
            raise ValueError("bad snapshot list")
        failures = tuple(_failure(f) for f in as_list(d["failures"]))
        check_result(d["result"], bool(failures), f"{len(failures)} failures")
        max_bytes = d["max_bytes"]
        return DrillRecord(
            **common,
            snapshots=tuple(snaps),
            seed=as_count(d["seed"]),
            sample=as_count(d["sample"]),
            max_bytes=None if max_bytes is None else as_count(max_bytes),
            files=as_count(d["files"]),
            bytes=as_count(d["bytes"]),
            source_compared=as_count(d["source_compared"]),
            failures=failures,
            id=drill_id,
        )
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None


def _failure(f: Any) -> Failure:
    if not isinstance(f, dict) or not is_content_id(f["snapshot"]):
        raise ValueError("bad failure entry")
    return Failure(f["snapshot"], as_str(f["path"]), as_str(f["reason"]))
