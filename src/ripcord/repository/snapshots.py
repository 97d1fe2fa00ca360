"""Snapshots: the root of one backup, written last, chained to those before.

Each snapshot names the ids of the newest snapshots its writer saw when it
started (the heads of the chain). Concurrent writers fork the chain and a
later snapshot joins the forks, so a deleted or altered snapshot shows up as
a dangling or mismatching reference (docs/FORMAT.md §Snapshots).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import msgpack

from ripcord.errors import CorruptObject, MissingObject, UsageError
from ripcord.repository.crypto import is_content_id, open_msgpack, seal
from ripcord.repository.wire import as_time

SNAPSHOT_AAD = b"ripcord v1 snapshot"
SNAPSHOT_VERSION = 1
MAX_SNAPSHOT = 16 << 20
PATHS = "surrogateescape"  # how a path that is not UTF-8 is kept in a str


@dataclass
class Snapshot:
    time: datetime
    host: str
    user: str
    paths: list[str]
    tree: str  # hex id of the root tree blob
    tags: list[str] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)  # heads seen at start
    parent: str | None = None  # snapshot whose files were reused unread
    excludes: list[str] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    origin: str | None = None  # a copy: the id of the snapshot first copied (ripcord copy)
    version: int = SNAPSHOT_VERSION
    id: str = ""  # storage name; not part of the stored document

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("id")
        doc["time"] = self.time.isoformat()
        return doc


def encode_snapshot(key: bytes, snap: Snapshot) -> bytes:
    doc = snap.to_doc()
    if doc["origin"] is None:  # only copies carry it: every other snapshot reads as before
        del doc["origin"]
    # paths are file names: bytes that are not UTF-8 travel as surrogate escapes
    return seal(key, bytes(msgpack.packb(doc, unicode_errors=PATHS)), SNAPSHOT_AAD)


def decode_snapshot(key: bytes, data: bytes, snap_id: str) -> Snapshot:
    what = f"snapshot {snap_id}"
    d = open_msgpack(key, data, SNAPSHOT_AAD, what, MAX_SNAPSHOT, unicode_errors=PATHS)
    try:
        if d["version"] != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {d['version']}")
        time = as_time(d["time"])
        return Snapshot(
            time=time,
            host=str(d["host"]),
            user=str(d["user"]),
            paths=[str(p) for p in d["paths"]],
            tree=_hex_id(d["tree"]),
            tags=[str(t) for t in d["tags"]],
            chain=[_hex_id(c) for c in d["chain"]],
            parent=_hex_id(d["parent"]) if d["parent"] else None,
            excludes=[str(e) for e in d["excludes"]],
            summary={str(k): int(v) for k, v in d["summary"].items()},
            origin=_hex_id(d["origin"]) if d.get("origin") is not None else None,
            id=snap_id,
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None


def _hex_id(value: Any) -> str:
    if not is_content_id(value):
        raise ValueError(f"bad id {value!r}")
    return str(value)


def chain_heads(snapshots: list[Snapshot]) -> list[str]:
    """Snapshots no other snapshot names in its chain: the newest of each fork."""
    named = {c for s in snapshots for c in s.chain}
    return sorted(s.id for s in snapshots if s.id not in named)


def unexplained_gaps(snapshots: list[Snapshot], forgotten: set[str]) -> dict[str, list[str]]:
    """Snapshots named in a chain that are gone with no forget record to say why:
    {missing id: ids of the snapshots naming it}. Each is a deletion outside ripcord
    or a tampered snapshot (docs/FORMAT.md §Snapshots)."""
    present = {s.id for s in snapshots}
    out: dict[str, list[str]] = {}
    for s in snapshots:
        for c in s.chain:
            if c not in present and c not in forgotten:
                out.setdefault(c, []).append(s.id)
    return out


def parse_time(text: str, local_tz: Any = None) -> datetime:
    """ISO 8601 date or date-time; without a zone it means local time."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"not an ISO 8601 time: {text!r} (try 2026-11-20 or 2026-11-20T18:00)"
        ) from None
    if t.tzinfo is None:
        t = t.astimezone(local_tz) if local_tz is None else t.replace(tzinfo=local_tz)
    return t


def resolve(snapshots: list[Snapshot], spec: str) -> Snapshot:
    """`latest`, a unique id prefix, or `@TIME` (newest at or before TIME).

    `snapshots` must be sorted oldest first. A bare `@DATE` means the end of
    that day, so `@2026-11-20` finds the last snapshot taken on the 20th.
    """
    if not snapshots:
        raise MissingObject("the repository has no snapshots")
    if spec == "latest":
        return snapshots[-1]
    if spec.startswith("@"):
        text = spec[1:]
        try:  # a date alone (2026-11-20 or 20261120): through the end of that day
            when = parse_time(date.fromisoformat(text).isoformat() + "T23:59:59.999999")
        except ValueError:
            when = parse_time(text)
        older = [s for s in snapshots if s.time <= when]
        if not older:
            raise MissingObject(f"no snapshot at or before {text}")
        return older[-1]
    spec = spec.lower()
    if not spec or any(c not in "0123456789abcdef" for c in spec):
        raise UsageError(f"not a snapshot id, 'latest' or @TIME: {spec!r}")
    matches = [s for s in snapshots if s.id.startswith(spec)]
    if not matches:
        raise MissingObject(f"no snapshot {spec}")
    if len(matches) > 1:
        raise UsageError(f"snapshot prefix {spec} is ambiguous ({len(matches)} match)")
    return matches[0]
