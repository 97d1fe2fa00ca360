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
from ripcord.repository.wire import as_time
from ripcord.storage import InvalidName, validate_name

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
    # a plan that replaces others holds what they left locked (Object Lock): it needs
    # no barrier and no rescue, and the records it replaces are not carried out again
    replaces: list[str] = field(default_factory=list)  # pending record ids
    names: list[str] = field(default_factory=list)  # other objects, by full name

    @property
    def leftover(self) -> bool:
        return bool(self.replaces)


@dataclass
class Barrier:
    plan: str
    time: datetime
    holders: list[str] = field(default_factory=list)
    id: str = ""


def in_force(records: list[Plan | Barrier]) -> tuple[list[Plan], list[Barrier]]:
    """The plans no other plan replaces (oldest first), and the barriers of none of them.

    A replaced plan was carried out once already; the objects it could not delete
    (locked) are condemned by the plan that replaces it, so it condemns nothing more.
    """
    replaced = {r for p in records if isinstance(p, Plan) for r in p.replaces}
    plans = [p for p in records if isinstance(p, Plan) and p.id not in replaced]
    live = {p.id for p in plans}
    others = [b for b in records if isinstance(b, Barrier) and b.plan not in live]
    return sorted(plans, key=lambda p: (p.time, p.id)), others


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
    if plan.replaces or plan.names:  # absent otherwise, as before these existed
        doc["replaces"] = plan.replaces
        doc["names"] = plan.names
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
        time = as_time(d["time"])
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
            _ids(d.get("replaces", [])),
            _names(d.get("names", [])),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None


def _names(values: object) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("bad name list")
    for v in values:
        try:
            validate_name(v)
        except InvalidName:
            raise ValueError(f"bad object name {v!r}") from None
    return [str(v) for v in values]


def _ids(values: object) -> list[str]:
    if not isinstance(values, list) or not all(is_content_id(v) for v in values):
        raise ValueError("bad id list")
    return [str(v) for v in values]
