"""Pending deletions: what a prune condemned, and which running clients it waits for.

Prune deletes in two steps so that a backup running beside it never ends
with a snapshot that references deleted data (docs/FORMAT.md §Pruning beside
backups). A *plan* lists the packs, index files and forgotten snapshots to
delete; a *barrier* names the lock holders that were alive once the plan was
durable. Clients that lock after the plan exists see it and stop using what
it condemns; the holders on the barrier may not have seen it, so the plan is
carried out only after every one of them has finished, and then only for the
packs that no snapshot written meanwhile turned out to need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import msgpack

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import is_content_id, open_msgpack, seal

PENDING_AAD = b"ripcord v1 pending"
PENDING_VERSION = 1
MAX_PENDING = 64 << 20


@dataclass
class Plan:
    time: datetime
    host: str
    packs: list[str]  # pack ids
    indexes: list[str]  # index file ids
    snapshots: list[str]  # forgotten snapshot ids
    seen: list[str]  # live snapshots whose references the plan honoured
    id: str = ""


@dataclass
class Barrier:
    plan: str
    time: datetime
    holders: list[str] = field(default_factory=list)
    id: str = ""


def encode_plan(key: bytes, plan: Plan) -> bytes:
    doc = {
        "v": PENDING_VERSION,
        "kind": "plan",
        "time": plan.time.isoformat(),
        "host": plan.host,
        "packs": plan.packs,
        "indexes": plan.indexes,
        "snapshots": plan.snapshots,
        "seen": plan.seen,
    }
    return seal(key, bytes(msgpack.packb(doc)), PENDING_AAD)


def encode_barrier(key: bytes, barrier: Barrier) -> bytes:
    doc = {
        "v": PENDING_VERSION,
        "kind": "barrier",
        "plan": barrier.plan,
        "time": barrier.time.isoformat(),
        "holders": barrier.holders,
    }
    return seal(key, bytes(msgpack.packb(doc)), PENDING_AAD)


def decode_pending(key: bytes, data: bytes, object_id: str) -> Plan | Barrier:
    what = f"pending/{object_id}"
    d = open_msgpack(key, data, PENDING_AAD, what, MAX_PENDING)
    try:
        if d["v"] != PENDING_VERSION:
            raise ValueError(f"version {d['v']!r}")
        time = datetime.fromisoformat(d["time"])
        if time.tzinfo is None:
            raise ValueError("time has no time zone")
        if d["kind"] == "barrier":
            holders = [str(h) for h in d["holders"]]
            return Barrier(_ids([d["plan"]])[0], time, holders, object_id)
        if d["kind"] != "plan":
            raise ValueError(f"unknown kind {d['kind']!r}")
        return Plan(
            time,
            str(d["host"]),
            _ids(d["packs"]),
            _ids(d["indexes"]),
            _ids(d["snapshots"]),
            _ids(d["seen"]),
            object_id,
        )
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None


def _ids(values: object) -> list[str]:
    if not isinstance(values, list) or not all(is_content_id(v) for v in values):
        raise ValueError("bad id list")
    return [str(v) for v in values]
