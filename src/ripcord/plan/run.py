"""ripcord run: a plan's whole job in one command, each copy on its own.

Back up each source (to the first repository that can be reached, then copy
the new snapshots to every other one; or, in `independent` mode, back up to
each repository separately), apply retention per repository, then check and
drill each copy whose proof is due. Every step is attempted and reported on
its own: one unreachable repository or one failing step never stops the
others, because the point of several copies is that they fail separately.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.progress import NullProgress, Progress
from ripcord.errors import (
    EXIT_ERROR,
    EXIT_GUARD_ALARM,
    EXIT_PARTIAL,
    LockedError,
    RipcordError,
)
from ripcord.guard.guard import Guard
from ripcord.plan.hooks import HookOutcome, fire
from ripcord.plan.model import Plan, RepositorySpec, Source
from ripcord.plan.state import state_path
from ripcord.plan.status import Connect, belongs
from ripcord.replicate.copy import copy_snapshots
from ripcord.repository import Repository
from ripcord.retention.forget import by_policy, write
from ripcord.retention.prune import PruneOptions, prune
from ripcord.storage.append_only import deletion_refused
from ripcord.verify.checked import check_and_record
from ripcord.verify.drill import DrillOptions, drill

Say = Callable[[str], None]


class _Dated(Protocol):
    @property
    def time(self) -> datetime: ...


OK, WARN, SKIPPED, FAILED, ALARM = "ok", "warn", "skipped", "failed", "alarm"
RANK = (OK, SKIPPED, WARN, FAILED, ALARM)  # the run's status is its worst step's


@dataclass
class Step:
    """One thing `run` did (or could not do) to one repository."""

    action: str  # connect, backup, copy, forget, prune, check, drill
    repository: str
    status: str = OK
    detail: str = ""
    source: str | None = None
    facts: dict[str, object] = field(default_factory=dict)

    def doc(self) -> dict[str, object]:
        return {
            "action": self.action,
            "repository": self.repository,
            "source": self.source,
            "status": self.status,
            "detail": self.detail,
            **self.facts,
        }


@dataclass
class RunReport:
    plan: str
    started: datetime
    steps: list[Step] = field(default_factory=list)
    finished: datetime | None = None
    hooks: list[HookOutcome] = field(default_factory=list)

    @property
    def status(self) -> str:
        return max((s.status for s in self.steps), key=RANK.index, default=OK)

    @property
    def exit_code(self) -> int:
        return {ALARM: EXIT_GUARD_ALARM, FAILED: EXIT_ERROR, WARN: EXIT_PARTIAL}.get(self.status, 0)

    def doc(self) -> dict[str, object]:
        return {
            "plan": self.plan,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "status": self.status,
            "exit_code": self.exit_code,
            "steps": [s.doc() for s in self.steps],
            "hooks": [h.doc() for h in self.hooks],
        }


class Runner:
    """Carries out one run of a plan; `now` replaces the clock (tests simulate weeks)."""

    def __init__(
        self,
        plan: Plan,
        connect: Connect,
        now: datetime | None = None,
        progress: Callable[[], Progress] = NullProgress,
        say: Say = lambda _: None,
    ) -> None:
        self.plan, self.connect, self.now = plan, connect, now
        self.progress, self.say = progress, say
        self.report = RunReport(plan.name, now or datetime.now().astimezone())
        self.open: dict[str, Repository] = {}

    def run(self) -> RunReport:
        with ExitStack() as stack:
            for spec in self.plan.repositories:
                self._connect(stack, spec)
            self._backups()
            if self.plan.mode == "copy" and self.open:
                self._copies(next(iter(self.open)))
            for spec in self.plan.repositories:
                repo = self.open.get(spec.name)
                if repo is not None:
                    self._retention(spec, repo)
                    self._proofs(spec, repo)
        self.report.finished = self.now or datetime.now().astimezone()
        return self.report

    # -- each step -------------------------------------------------------------------------

    def _connect(self, stack: ExitStack, spec: RepositorySpec) -> None:
        with self._step("connect", spec) as step:
            repo = stack.enter_context(self.connect(spec))
            if self.now is not None:
                now = self.now
                repo.clock = lambda: now
            self.open[spec.name] = repo
            step.detail = "reachable"
        if spec.name not in self.open and spec.offline:
            # a rotated disk that is not plugged in: expected, not a failure
            last = self.report.steps[-1]
            last.status, last.detail = SKIPPED, f"offline copy not connected ({last.detail})"

    def _backups(self) -> None:
        """Back up every source, to the first reachable repository or (independent) to each."""
        targets = [s for s in self.plan.repositories if s.name in self.open]
        if self.plan.mode == "copy":
            targets = targets[:1]  # the first reachable one; the others get copies
        if not targets:
            self.report.steps.append(
                Step("backup", "-", FAILED, "no repository could be reached: nothing backed up")
            )
            return
        for source in self.plan.sources:
            for spec in targets:
                self._backup(spec, self.open[spec.name], source)

    def _backup(self, spec: RepositorySpec, repo: Repository, source: Source) -> None:
        options = BackupOptions(
            paths=list(source.paths),
            tags=list(source.tags),
            host=self.plan.backup_host,
            time=self.now,
            excludes=list(source.excludes),
            exclude_caches=source.exclude_caches,
            one_file_system=source.one_file_system,
        )
        guard = Guard(settings=self.plan.guard, canaries=list(source.canaries))
        with self._step("backup", spec, source) as step:
            self.say(f"backing up {source.name} to {spec.name}")
            report = Backup(repo, options, self.progress(), judge=guard).run()
            step.facts = {
                "snapshot": report.snapshot_id,
                "files": report.total_files,
                "bytes": report.total_bytes,
                "added": report.data_added,
                "unreadable": len(report.errors),
            }
            step.detail = (
                f"snapshot {report.snapshot_id[:12]}: {report.files_new} new,"
                f" {report.files_changed} changed files, {report.data_added} bytes added"
            )
            if report.incomplete:
                step.status = WARN
                step.detail += f"; {len(report.errors)} files could not be read"
            if guard.verdict is not None:
                step.facts["guard"] = guard.verdict.level
                if guard.alarm is not None:
                    step.status = ALARM
                    step.detail += "; GUARD ALARM: " + "; ".join(guard.verdict.reasons)

    def _copies(self, primary: str) -> None:
        """Copy to every other reachable repository the plan's snapshots in `primary`
        newer than its newest of the same source, so a copy that missed earlier runs
        catches up (even when today's backup failed), while one its own retention thinned
        is not filled up again with what it forgot and pruned."""
        source = self.open[primary]
        ours = [
            (src.name, s)
            for s in source.snapshots()
            for src in self.plan.sources
            if belongs(self.plan, src, s)
        ]
        for spec in self.plan.repositories:
            target = self.open.get(spec.name)
            if target is None or spec.name == primary:
                continue
            with self._step("copy", spec) as step:
                self.say(f"copying from {primary} to {spec.name}")
                held = target.snapshots()
                newest = {
                    src.name: max(
                        (s.time for s in held if belongs(self.plan, src, s)), default=None
                    )
                    for src in self.plan.sources
                }
                wanted = [s.id for name, s in ours if _later(s.time, newest[name])]
                copied = copy_snapshots(source, target, wanted, self.progress())
                step.facts = {
                    "from": primary,
                    "copied": len(copied.copied),
                    "bytes": copied.bytes_copied,
                }
                step.detail = (
                    f"{len(copied.copied)} snapshots copied from {primary}"
                    f" ({copied.bytes_copied} bytes of new data)"
                )

    def _retention(self, spec: RepositorySpec, repo: Repository) -> None:
        policy = spec.retention or self.plan.retention
        if policy is None:
            return
        with self._step("forget", spec) as step:
            with repo.lock():
                found = by_policy(repo, policy, host=self.plan.backup_host)
                write(repo, found)
            step.facts = {"kept": len(found.kept), "forgotten": len(found.forgotten)}
            step.detail = f"kept {len(found.kept)}, forgot {len(found.forgotten)}"
        if not self.plan.prune or not _prune_due(repo):
            return
        refused = deletion_refused(repo.store, "prune")
        if refused is not None:
            self.report.steps.append(
                Step("prune", spec.name, SKIPPED, "append-only server: prune runs on the server")
            )
            return
        with self._step("prune", spec) as step:
            done = prune(repo, PruneOptions(), say=self.say)
            step.facts = {"freed": done.freed, "pending_deletion": len(done.pending_deletion)}
            step.detail = f"freed {done.freed} bytes" + (
                f"; {len(done.pending_deletion)} objects wait for their lock to end"
                if done.pending_deletion
                else ""
            )

    def _proofs(self, spec: RepositorySpec, repo: Repository) -> None:
        """Check, then drill, each when its schedule says it is due."""
        now = repo.clock()
        check_plan = self.plan.check
        if check_plan is not None and _due(repo.checks(), check_plan.every, now):
            with self._step("check", spec) as step:
                self.say(f"checking {spec.name}")
                done = check_and_record(repo, check_plan.read_data_subset, progress=self.progress)
                errors = len(done.report.errors)
                step.facts = {"check": done.record.id, "errors": errors}
                step.detail = f"{done.record.packs_read} packs read back, {errors} errors"
                if errors:
                    step.status = FAILED
                if done.unrecorded:
                    step.detail += f"; {done.unrecorded}"
        drill_plan = self.plan.drill
        if drill_plan is not None and _due(repo.drills(), drill_plan.every, now):
            with self._step("drill", spec) as step:
                self.say(f"drilling {spec.name}")
                options = DrillOptions(sample=drill_plan.sample, max_bytes=drill_plan.max_bytes)
                record = drill(repo, options, self.progress).record
                step.facts = {"drill": record.id, "files": record.files}
                step.detail = f"{record.files} files restored and proven"
                if record.failures:
                    step.status = FAILED
                    step.detail += f"; {len(record.failures)} FAILED"

    @contextmanager
    def _step(
        self, action: str, spec: RepositorySpec, source: Source | None = None
    ) -> Iterator[Step]:
        """A step whose failure is recorded, never raised: the others go on."""
        step = Step(action, spec.name, source=source.name if source else None)
        self.report.steps.append(step)
        try:
            yield step
        except (RipcordError, OSError) as e:
            step.status, step.detail = FAILED, _one_line(e)
        except Exception as e:  # a fault no layer named (a bug, a library's own error)
            step.status, step.detail = (
                FAILED,
                f"unexpected error: {type(e).__name__}: {_one_line(e)}",
            )


@contextmanager
def one_at_a_time(plan: Plan) -> Iterator[None]:
    """Hold the plan's run lock: a timer firing while a long run (or one started by
    hand) still goes would back up and prune the same copies twice at once."""
    path = state_path(plan).with_suffix(".run.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise LockedError(
                f"another run of plan {plan.name} is going on ({holder}); this one does nothing"
            ) from None
        f.truncate(0)
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        yield


def _prune_due(repo: Repository) -> bool:
    """Whether a prune has anything to do: forgotten snapshots still stored (tonight's,
    or a night whose prune failed), or deletions an earlier prune left pending. A
    prune walks every kept snapshot; on a night with nothing to free that is waste."""
    gone = repo.standing().forgotten & set(repo.snapshot_ids())
    return bool(gone) or bool(repo.plans())


def _later(t: datetime, than: datetime | None) -> bool:
    return than is None or t > than


def _due(records: Sequence[_Dated], every: timedelta, now: datetime) -> bool:
    last = max((r.time for r in records), default=None)
    return last is None or now - last >= every


def _one_line(e: BaseException) -> str:
    text = str(e) or type(e).__doc__ or type(e).__name__
    return " ".join(text.split())


def run_plan(
    plan: Plan,
    connect: Connect,
    now: datetime | None = None,
    progress: Callable[[], Progress] = NullProgress,
    say: Say = lambda _: None,
) -> RunReport:
    """Run `plan` between its hooks: start before; after, success, or failure (and
    alarm first, on a guard alarm). A failing hook is reported, never fatal."""
    with one_at_a_time(plan):
        runner = Runner(plan, connect, now, progress, say)
        return _between_hooks(plan, runner)


def _between_hooks(plan: Plan, runner: Runner) -> RunReport:
    started = fire(plan.hooks, "start", runner.report.doc(), plan.name, plan.path)
    report = runner.run()
    summary = report.doc()
    if report.status == ALARM:
        report.hooks += fire(plan.hooks, "alarm", summary, plan.name, plan.path)
    event = "failure" if report.status in (FAILED, ALARM) else "success"
    report.hooks[:0] = started
    report.hooks += fire(plan.hooks, event, summary, plan.name, plan.path)
    return report
