"""status: what each copy holds and proves now, and the 3-2-1-1-0 verdict, rule by rule.

`observe` reads one repository's facts (reachable, newest snapshot of each
source, last check and drill, immutability as the store says, unanswered
guard alarms) within a bounded time; `verdict` judges a plan's copies:

- 3 copies hold a snapshot within the RPO, the live data counting as one;
- 2 different media among the current backup copies;
- 1 current copy offsite;
- 1 current copy immutable (verified with the store) or kept offline;
- 0 errors in the latest check and drill of each copy, each recent enough.

Each rule carries its reason in plain words, because a red light nobody can
explain gets switched off.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from ripcord.archive.backup import normalize_sources
from ripcord.plan.immutability import probe
from ripcord.plan.model import Plan, RepositorySpec, Source
from ripcord.plan.state import Alarm, CopyState, Newest, Proof
from ripcord.repository import Repository, Snapshot
from ripcord.repository.checks import CheckRecord
from ripcord.repository.drills import DrillRecord
from ripcord.repository.marks import SKEW, fold

Connect = Callable[[RepositorySpec], AbstractContextManager[Repository]]
T = TypeVar("T")
TIMEOUT = 60.0  # seconds one repository may take to answer before it counts as unreachable


def belongs(plan: Plan, source: Source, snap: Snapshot) -> bool:
    """Whether `snap` is a backup of `source` by this plan: the plan's host (or this
    machine's name) and the source's paths, as a backup records them."""
    host = plan.host or socket.gethostname()
    paths = [os.fsdecode(p) for p in normalize_sources(list(source.paths))]
    return snap.host == host and sorted(snap.paths) == paths


def observe(
    spec: RepositorySpec,
    connect: Connect,
    plan: Plan,
    now: datetime,
    timeout: float = TIMEOUT,
) -> CopyState:
    """What `spec`'s repository holds as of `now`; unreachable, with the reason in one
    line, when opening or reading it fails or takes longer than `timeout` seconds."""
    found = bounded(lambda: _read(spec, connect, plan, now), timeout, f"status-{spec.name}")
    if isinstance(found, str):
        return CopyState(spec.name, False, error=found)
    return found


def bounded(work: Callable[[], T], timeout: float, name: str) -> T | str:
    """`work()`, or why it failed in one line (an error, or no answer within `timeout`
    seconds). It runs in a daemon thread: a store that never answers (a black-holed
    NAS) must not keep the caller, or the process, waiting."""
    done: list[T | BaseException] = []

    def run() -> None:
        try:
            done.append(work())
        except BaseException as e:  # reported as the reason it failed
            done.append(e)

    worker = threading.Thread(target=run, name=f"ripcord-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not done:
        return f"no answer within {timeout:g} s"
    found = done[0]
    if isinstance(found, BaseException):
        if not isinstance(found, Exception):
            raise found
        return _one_line(found)
    return found


def observe_all(
    plan: Plan, connect: Connect, now: datetime, timeout: float = TIMEOUT
) -> list[CopyState]:
    """Every repository of the plan observed at once: the slowest bounds the wait."""
    specs = plan.repositories
    with ThreadPoolExecutor(max(1, len(specs)), thread_name_prefix="ripcord-observe") as pool:
        return list(pool.map(lambda s: observe(s, connect, plan, now, timeout), specs))


def _read(spec: RepositorySpec, connect: Connect, plan: Plan, now: datetime) -> CopyState:
    with connect(spec) as repo:
        return facts(repo, spec.name, plan, now)


def facts(repo: Repository, name: str, plan: Plan, now: datetime) -> CopyState:
    """What an open repository holds as of `now` (later records are not yet there).

    A plan without sources (`status` of one repository) gets the newest snapshot
    of each host and set of paths instead, named `host:path,path`. Marks are
    folded as of `now` (an `ack` that `run --time` dated in the future still
    answers its alarm), without touching the repository's clock: the dashboard
    keeps it open, and its next ack must be dated by the real one."""
    snaps = [s for s in repo.snapshots() if s.time <= now + SKEW]
    if plan.sources:
        newest = tuple(_newest(plan, src, snaps) for src in plan.sources)
    else:
        newest = _groups(snaps)
    latest = max(snaps, key=lambda s: (s.time, s.id), default=None)
    origins = {s.id: s.origin for s in snaps}
    alarms = tuple(
        Alarm(m.snapshots[0], m.time, m.reason, origins.get(m.snapshots[0]) or "")
        for m in fold(repo.marks(), now).open_alarms()
        if m.time <= now + SKEW
    )
    return CopyState(
        repository=name,
        reachable=True,
        observed=now,
        newest=newest,
        check=_check(c for c in repo.checks() if c.time <= now + SKEW),
        drill=_drill(d for d in repo.drills() if d.time <= now + SKEW),
        immutable=probe(repo, latest.id if latest else None),
        alarms=alarms,
    )


def group_name(snap: Snapshot) -> str:
    """A source without a plan: the host and the sorted paths, `host:path,path`."""
    return f"{snap.host}:{','.join(sorted(snap.paths))}"


def _groups(snaps: list[Snapshot]) -> tuple[Newest, ...]:
    last: dict[str, Snapshot] = {}
    for s in sorted(snaps, key=lambda s: (s.time, s.id)):
        last[group_name(s)] = s
    return tuple(Newest(name, s.id, s.time) for name, s in sorted(last.items()))


def _newest(plan: Plan, source: Source, snaps: list[Snapshot]) -> Newest:
    mine = [s for s in snaps if belongs(plan, source, s)]
    if not mine:
        return Newest(source.name)
    last = max(mine, key=lambda s: (s.time, s.id))
    return Newest(source.name, last.id, last.time)


def _check(records: Iterable[CheckRecord]) -> Proof | None:
    c = max(records, key=lambda r: (r.time, r.id), default=None)
    if c is None:
        return None
    first = c.problems[0] if c.errors and c.problems else ""
    return Proof(c.id, c.time, c.result, c.errors, first)


def _drill(records: Iterable[DrillRecord]) -> Proof | None:
    d = max(records, key=lambda r: (r.time, r.id), default=None)
    if d is None:
        return None
    first = f"{d.failures[0].path}: {d.failures[0].reason}" if d.failures else ""
    return Proof(d.id, d.time, d.result, len(d.failures), first)


def _one_line(e: Exception) -> str:
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    return line if len(line) <= 300 else line[:297] + "..."


# -- the verdict ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str  # "3 copies", "2 media", "1 offsite", "1 immutable or offline", "0 errors"
    holds: bool
    reason: str  # in plain words


def verdict(plan: Plan, states: list[CopyState], now: datetime) -> list[Rule]:
    """The five rules, in order, each with why it holds or not. A repository of the
    plan with no state counts as never reached."""
    by_name = {s.repository: s for s in states}
    copies = []
    for spec in plan.repositories:
        state = by_name.get(spec.name) or CopyState(spec.name, False, error="not observed")
        copies.append(_Copy(spec, state, behind(plan, spec, state, now)))
    current = [c for c in copies if c.behind is None]
    return [
        _three(copies, current),
        _two(copies, current),
        _offsite(copies, current),
        _immutable(copies, current),
        _zero(plan, copies, now),
    ]


@dataclass(frozen=True)
class _Copy:
    spec: RepositorySpec
    state: CopyState
    behind: str | None  # why it is not current (None: it is)

    @property
    def name(self) -> str:
        return f"'{self.spec.name}'"

    @property
    def verified(self) -> bool:
        """Immutable, as its store said."""
        return self.state.immutable is not None and self.state.immutable.verified


def behind(plan: Plan, spec: RepositorySpec, state: CopyState, now: datetime) -> str | None:
    """Why this copy holds no snapshot within the RPO of every source (None: it does)."""
    name = f"'{spec.name}'"
    if not state.reachable and not spec.offline:
        last = f"; it last succeeded {ago(now, state.observed)}" if state.known else ""
        return f"{name} is unreachable ({state.error}){last}"
    if not state.known:
        return f"{name} is offline and was never seen connected"
    for n in state.newest:
        if n.time is None:
            return f"{name} holds no snapshot of '{n.source}'"
        if now - n.time > plan.rpo:
            return (
                f"{name} last succeeded {ago(now, n.time)} (its newest snapshot of"
                f" '{n.source}' is older than the RPO of {span(plan.rpo)})"
            )
    if {n.source for n in state.newest} < {s.name for s in plan.sources}:
        return f"{name} was last seen before every source of the plan was backed up there"
    return None


def _three(copies: list[_Copy], current: list[_Copy]) -> Rule:
    n = 1 + len(current)
    held = _and(["the live data"] + [c.name for c in current])
    if n >= 3:
        return Rule("3 copies", True, f"{n} copies are current: {held}")
    lagging = "; ".join(c.behind for c in copies if c.behind is not None)
    are = "copy is" if n == 1 else "copies are"
    return Rule("3 copies", False, f"only {n} {are} current ({held}): {lagging}")


def _two(copies: list[_Copy], current: list[_Copy]) -> Rule:
    media = sorted({c.spec.media for c in current})
    if len(media) >= 2:
        return Rule("2 media", True, "the current copies are on " + _and(media))
    if not current:
        why = "no backup copy is current"
    elif len(current) == 1:
        why = f"only {current[0].name} is current, on media '{media[0]}'"
    else:
        both = "both" if len(current) == 2 else "all"
        why = f"{_and([c.name for c in current])} are {both} on media '{media[0]}'"
    elsewhere = [c for c in copies if c.spec.media not in media]
    if elsewhere:
        why += "; " + "; ".join(f"{c.behind} (media '{c.spec.media}')" for c in elsewhere)
    return Rule("2 media", False, why)


def _offsite(copies: list[_Copy], current: list[_Copy]) -> Rule:
    held = [c.name for c in current if c.spec.offsite]
    if held:
        are = "is" if len(held) == 1 else "are"
        return Rule("1 offsite", True, f"{_and(held)} {are} offsite and current")
    away = [c.behind for c in copies if c.spec.offsite and c.behind]
    if not away:
        return Rule("1 offsite", False, "no repository of the plan is offsite (offsite = true)")
    return Rule("1 offsite", False, "no offsite copy is current: " + "; ".join(away))


def _immutable(copies: list[_Copy], current: list[_Copy]) -> Rule:
    held = [
        f"{c.name} is immutable ({c.state.immutable.how})"
        if c.state.immutable is not None and c.verified
        else f"{c.name} is kept offline"
        for c in current
        if c.verified or c.spec.offline
    ]
    # a claim the store does not back is said even when the rule holds
    unbacked = [
        f"{c.name} is said to be immutable, but is not: {c.state.immutable.how}"
        for c in copies
        if c.spec.immutable and c.state.immutable is not None and not c.verified
    ]
    if held:
        return Rule("1 immutable or offline", True, "; ".join(held + unbacked))
    lagging = [c.behind for c in copies if c.behind and (c.verified or c.spec.offline)]
    why = "; ".join(unbacked + lagging) or (
        "no copy is immutable (S3 Object Lock, an append-only server) or kept offline"
    )
    return Rule("1 immutable or offline", False, why)


def _zero(plan: Plan, copies: list[_Copy], now: datetime) -> Rule:
    problems: list[str] = []
    checks = plan.check.every if plan.check else None
    drills = plan.drill.every if plan.drill else None
    for c in copies:
        if not c.state.known:
            problems.append(f"{c.name} was never reached: its checks and drills are unknown")
            continue
        problems += _proof_problems(c.name, "check", c.state.check, checks, now)
        problems += _proof_problems(c.name, "drill", c.state.drill, drills, now)
    if problems:
        return Rule("0 errors", False, "; ".join(problems))
    return Rule("0 errors", True, "the latest check and drill of every copy found no errors")


def _proof_problems(
    name: str, kind: str, proof: Proof | None, every: timedelta | None, now: datetime
) -> list[str]:
    """What is wrong with a copy's latest check or drill: none, a failure, or its age
    (over twice the plan's schedule: two runs in a row did not prove it)."""
    if proof is None:
        return [f"{name} was never {kind}ed"]
    out = []
    if proof.result != "pass":
        n = proof.errors
        what = "failed" if kind == "drill" else f"found {n} error{'s' * (n != 1)}"
        detail = f" ({proof.first})" if proof.first else ""
        out.append(f"the last {kind} of {name} {what} on {proof.time:%Y-%m-%d}{detail}")
    if every is not None and now - proof.time > 2 * every:
        out.append(
            f"the last {kind} of {name} is {span(now - proof.time)} old"
            f" ({kind}s are due every {span(every)})"
        )
    return out


# -- words ------------------------------------------------------------------------------------


def span(d: timedelta) -> str:
    """A length of time as people say it: 26 hours, 4 days, 3 weeks."""
    seconds = max(0, int(d.total_seconds()))
    # a unit is used from 3 weeks, 2 days, 2 hours, 1 minute ("36 hours", "10 days"),
    # and for a whole number of days or hours ("1 day", "1 hour")
    for unit, size, least in (
        ("week", 7 * 86400, 3),
        ("day", 86400, 2),
        ("hour", 3600, 2),
        ("minute", 60, 1),
    ):
        n = seconds // size
        if n >= least or (n and unit in ("day", "hour") and seconds % size == 0):
            return f"{n} {unit}{'s' * (n != 1)}"
    return f"{seconds} second{'s' * (seconds != 1)}"


def ago(now: datetime, then: datetime | None) -> str:
    return "never" if then is None else f"{span(now - then)} ago"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
