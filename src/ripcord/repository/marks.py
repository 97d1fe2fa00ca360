"""Marks: small write-once records that change what a snapshot means.

A snapshot is never rewritten, so protecting one (retention may never drop
it), releasing it, or forgetting it is a new object under marks/, folded in
time order. Being an append, a mark can be written to write-once and
append-only storage, a later mark can undo an earlier one without deleting
anything, and a forget mark stays behind after prune deleted the snapshot, so
the snapshot chain can tell a forget from a tamper (docs/FORMAT.md §Marks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgpack

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import is_content_id, open_msgpack, seal
from ripcord.repository.wire import as_str, as_time

MARK_AAD = b"ripcord v1 mark"
MARK_VERSION = 1
MAX_MARK = 16 << 20  # a forget of 100,000 snapshots fits
# alarm: the change guard flagged snapshots[0] and pinned snapshots[1:] (the last good);
# ack: someone said the change was intentional (the pin goes); incident: it was not
# (the pin stays, the alarm is answered)
KINDS = ("protect", "unprotect", "forget", "alarm", "ack", "incident")
WEAKENING = ("unprotect", "forget", "ack")  # what a planted mark would want to do
SUSPICIOUS = "suspicious"  # the tag of a snapshot the change guard raised an alarm on
SKEW = timedelta(minutes=5)  # clock difference between hosts that is still "now"


@dataclass(frozen=True)
class Mark:
    kind: str
    snapshots: tuple[str, ...]
    time: datetime
    host: str
    user: str
    reason: str = ""  # why: the policy of a forget, free text otherwise
    id: str = ""  # storage name; not part of the stored document


def encode_mark(key: bytes, mark: Mark) -> bytes:
    doc = {
        "v": MARK_VERSION,
        "kind": mark.kind,
        "snapshots": list(mark.snapshots),
        "time": mark.time.isoformat(),
        "host": mark.host,
        "user": mark.user,
        "reason": mark.reason,
    }
    return seal(key, bytes(msgpack.packb(doc)), MARK_AAD)


def decode_mark(key: bytes, data: bytes, mark_id: str) -> Mark:
    what = f"mark {mark_id}"
    d = open_msgpack(key, data, MARK_AAD, what, MAX_MARK)
    try:
        if d["v"] != MARK_VERSION:
            raise ValueError(f"mark version {d['v']!r}")
        snaps = d["snapshots"]
        if d["kind"] not in KINDS or not isinstance(snaps, list):
            raise ValueError("unknown kind or no snapshot list")
        if not snaps or not all(is_content_id(s) for s in snaps):
            raise ValueError("bad snapshot id")
        time = as_time(d["time"])
        return Mark(
            str(d["kind"]),
            tuple(str(s) for s in snaps),
            time,
            as_str(d["host"]),
            as_str(d["user"]),
            as_str(d["reason"]),
            mark_id,
        )
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None


@dataclass
class Standing:
    """What the marks say, folded: which snapshots are protected, which forgotten."""

    protected: set[str] = field(default_factory=set)  # by protect marks or guard pins
    forgotten: set[str] = field(default_factory=set)
    ignored: list[Mark] = field(default_factory=list)  # dated in the future: not applied
    pinned: set[str] = field(default_factory=set)  # by guard alarms not acknowledged
    alarms: dict[str, Mark] = field(default_factory=dict)  # suspicious id -> its alarm
    answers: dict[str, Mark] = field(default_factory=dict)  # suspicious id -> ack/incident

    def open_alarms(self) -> list[Mark]:
        """Alarms nobody has answered yet, oldest first."""
        return [m for s, m in self.alarms.items() if s not in self.answers]


def fold(marks: list[Mark], now: datetime, skew: timedelta = SKEW) -> Standing:
    """Apply every mark, oldest first (ties by id).

    A mark dated after `now` (beyond `skew`) that would weaken a snapshot's
    standing is not applied: a planted unprotect dated next year must not
    override every protect written until then. A snapshot that is protected
    once everything is folded is never forgotten, whatever the order: a forget
    mark backdated to before a protect cannot undo it. A guard alarm pins the
    snapshots it names until an `ack` says the change was intentional; no
    unprotect lifts a pin.
    """
    out = Standing()
    forgets: set[str] = set()
    for m in sorted(marks, key=lambda m: (m.time, m.id)):
        if m.kind in WEAKENING and m.time - now > skew:
            out.ignored.append(m)
            continue
        if m.kind == "alarm":
            out.alarms.setdefault(m.snapshots[0], m)
            continue
        if m.kind in ("ack", "incident"):
            out.answers[m.snapshots[0]] = m
            continue
        for snap in m.snapshots:
            if m.kind == "protect":
                out.protected.add(snap)
            elif m.kind == "unprotect":
                out.protected.discard(snap)
            else:
                forgets.add(snap)
    for suspicious, alarm in out.alarms.items():
        answer = out.answers.get(suspicious)
        if answer is None or answer.kind == "incident":  # unanswered, or not intentional
            out.pinned.update(alarm.snapshots)
    out.protected |= out.pinned
    out.forgotten = forgets - out.protected
    return out
