"""A guard alarm is one event however many copies carry it: seen once, answered everywhere.

`run` copies a suspicious snapshot to every repository of the plan, and the
copy carries the alarm (replicate/marks.py) under the copy's own id. Answering
it in the first repository only would leave the others pinned and `status`
exiting 4 until the next copy carried the answer over; so an answer is
written, as `guard ack` writes it (guard.answer), in every repository that
holds an unanswered alarm on the snapshot or on a copy of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from ripcord.guard.guard import answer
from ripcord.plan.model import RepositorySpec
from ripcord.plan.state import Alarm
from ripcord.plan.status import TIMEOUT, Connect, bounded
from ripcord.repository import Repository


@dataclass(frozen=True)
class Pending:
    """One unanswered alarm and the repositories holding it (by the plan's names)."""

    key: str  # the snapshot first backed up (copies name it as their origin)
    snapshot: str  # as the first repository holding it calls it
    time: datetime  # when it was first raised
    reason: str
    holders: tuple[tuple[str, bool], ...]  # (repository, reachable now)

    @property
    def answerable(self) -> bool:
        """Some repository holding it can be reached now."""
        return any(reachable for _, reachable in self.holders)


def pending(alarms: Iterable[tuple[str, bool, Alarm]]) -> list[Pending]:
    """(repository, reachable, alarm) grouped by the snapshot they are about, oldest first."""
    groups: dict[str, list[tuple[str, bool, Alarm]]] = {}
    for name, reachable, alarm in alarms:
        groups.setdefault(alarm.key, []).append((name, reachable, alarm))
    out = []
    for key, found in groups.items():
        first = min(found, key=lambda f: f[2].time)[2]
        holders = tuple((name, reachable) for name, reachable, _ in found)
        out.append(Pending(key, first.snapshot, first.time, first.reason, holders))
    return sorted(out, key=lambda p: (p.time, p.key))


@dataclass(frozen=True)
class Answered:
    """What answering did in one repository."""

    repository: str
    snapshot: str | None = None  # the id answered there (None: nothing to answer)
    error: str | None = None  # why it could not be answered there


def answer_everywhere(
    specs: Iterable[RepositorySpec],
    connect: Connect,
    key: str,
    intentional: bool,
    reason: str,
    timeout: float = TIMEOUT,
) -> list[Answered]:
    """Answer the alarm on snapshot `key` (or on a copy of it) in each repository of
    `specs` holding it unanswered, all at once, each given `timeout` seconds. `connect`
    should give a connection of the calling thread's own (the answer takes a lock,
    which reads the index)."""

    def one(spec: RepositorySpec) -> Answered:
        def work() -> Answered:
            with connect(spec) as repo:
                return Answered(spec.name, answer_in(repo, key, intentional, reason))

        done = bounded(work, timeout, f"answer-{spec.name}")
        return Answered(spec.name, error=done) if isinstance(done, str) else done

    todo = list(specs)
    with ThreadPoolExecutor(max(1, len(todo)), thread_name_prefix="ripcord-answer") as pool:
        return list(pool.map(one, todo))


def answer_in(repo: Repository, key: str, intentional: bool, reason: str) -> str | None:
    """Answer the unanswered alarm on `key` or a copy of it in `repo`; the snapshot id
    answered, or None when `repo` holds no such alarm."""
    with repo.lock():
        open_ = {m.snapshots[0] for m in repo.standing().open_alarms()}
        for snap in repo.snapshots():
            if snap.id in open_ and key in (snap.id, snap.origin):
                answer(repo, snap, intentional, reason)
                return snap.id
    return None
