"""Marks: small write-once records that change what a snapshot means.

A snapshot is never rewritten, so protecting one (retention may never drop
it) or releasing it is a new object under marks/, folded in time order. Being
an append, a mark can be written to write-once and append-only storage, and a
later mark can undo an earlier one without deleting anything
(docs/FORMAT.md §Marks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgpack

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import is_content_id, open_msgpack, seal

MARK_AAD = b"ripcord v1 mark"
MARK_VERSION = 1
MAX_MARK = 64 << 10
KINDS = ("protect", "unprotect")


@dataclass(frozen=True)
class Mark:
    kind: str
    snapshot: str
    time: datetime
    host: str
    user: str
    id: str = ""  # storage name; not part of the stored document


def encode_mark(key: bytes, mark: Mark) -> bytes:
    doc = {
        "v": MARK_VERSION,
        "kind": mark.kind,
        "snapshot": mark.snapshot,
        "time": mark.time.isoformat(),
        "host": mark.host,
        "user": mark.user,
    }
    return seal(key, bytes(msgpack.packb(doc)), MARK_AAD)


def decode_mark(key: bytes, data: bytes, mark_id: str) -> Mark:
    what = f"mark {mark_id}"
    d = open_msgpack(key, data, MARK_AAD, what, MAX_MARK)
    try:
        if d["v"] != MARK_VERSION:
            raise ValueError(f"mark version {d['v']!r}")
        if d["kind"] not in KINDS or not is_content_id(d["snapshot"]):
            raise ValueError("unknown kind or bad snapshot id")
        time = datetime.fromisoformat(d["time"])
        if time.tzinfo is None:
            raise ValueError("mark time has no time zone")
        return Mark(
            str(d["kind"]), str(d["snapshot"]), time, str(d["host"]), str(d["user"]), mark_id
        )
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None


def protected(marks: list[Mark]) -> set[str]:
    """Snapshots protected once every mark is applied, oldest first (ties by id)."""
    out: set[str] = set()
    for m in sorted(marks, key=lambda m: (m.time, m.id)):
        if m.kind == "protect":
            out.add(m.snapshot)
        else:
            out.discard(m.snapshot)
    return out
