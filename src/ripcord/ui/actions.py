"""What the buttons of /jobs do: the same calls as `ripcord run`, `backup`, `check` and
`drill`, each on a connection of its own (a job runs beside the pages)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ripcord.archive.backup import Backup, BackupOptions, BackupReport
from ripcord.errors import LockedError, RipcordError
from ripcord.guard.guard import Guard
from ripcord.plan.model import RepositorySpec
from ripcord.plan.run import ALARM, FAILED, OK, WARN, run_plan
from ripcord.ui.site import Site
from ripcord.ui.work import REFUSED, Job, Outcome, Work
from ripcord.verify.checked import check_and_record
from ripcord.verify.drill import DrillOptions, drill

READS = {  # the check form's choices: what `check` reads back
    "metadata": None,
    "5%": "5%",
    "all": "all",
}
RUN_STATUS = {OK: OK, WARN: WARN, FAILED: FAILED, ALARM: ALARM}


@dataclass(frozen=True)
class BackupDone:
    """A backup without a plan: what `ripcord backup` reports."""

    repository: str
    paths: list[str]
    report: BackupReport
    guard: Guard


def backup(site: Site) -> Work:
    """With a plan, run it (`ripcord run`); without, back up the newest snapshot's paths
    again, as `ripcord backup PATHS` would."""
    plan = site.plan
    if plan is None:
        return lambda job: _backup_again(site, site.specs[0], job)

    def work(job: Job) -> Outcome:
        job.say(f"running plan {plan.name}")
        try:
            report = run_plan(plan, site.connect_fresh, progress=job.progress, say=job.say)
        except LockedError as e:  # the plan's run lock: `ripcord run` (or a timer) holds it
            return Outcome(REFUSED, f"a run is already in progress: {e}")
        failed = sum(s.status == FAILED for s in report.steps)
        detail = f"run of plan {plan.name}: {report.status}, {len(report.steps)} steps"
        return Outcome(
            RUN_STATUS.get(report.status, OK),
            detail + (f", {failed} failed" if failed else ""),
            report,
        )

    return work


def _backup_again(site: Site, spec: RepositorySpec, job: Job) -> Outcome:
    host = socket.gethostname()
    with site.connect_fresh(spec) as repo:
        mine = [s for s in repo.snapshots() if s.host == host]
        if not mine:
            raise RipcordError(
                f"{spec.name} holds no snapshot of this host ({host}) to take again:"
                " back up with `ripcord backup PATHS` once (or run the dashboard with a plan)"
            )
        newest = max(mine, key=lambda s: (s.time, s.id))
        options = BackupOptions(
            paths=list(newest.paths), tags=list(newest.tags), excludes=list(newest.excludes)
        )
        job.say(f"backing up {', '.join(newest.paths)} to {spec.name}")
        guard = Guard()
        report = Backup(repo, options, job.progress(), judge=guard).run()
    detail = (
        f"snapshot {report.snapshot_id[:12]}: {report.files_new} new,"
        f" {report.files_changed} changed files"
    )
    status = OK
    if report.incomplete:
        status, detail = WARN, detail + f"; {len(report.errors)} files could not be read"
    if guard.alarm is not None and guard.verdict is not None:
        status, detail = ALARM, detail + "; GUARD ALARM: " + "; ".join(guard.verdict.reasons)
    return Outcome(status, detail, BackupDone(spec.name, newest.paths, report, guard))


def check(site: Site, name: str, read: str) -> Work:
    """`ripcord check` of the repository `name`; `read` is a key of READS."""
    spec = site.spec(name)
    read_data = READS[read]

    def work(job: Job) -> Outcome:
        job.say(f"checking {name} (reading {read})")
        with site.connect_fresh(spec) as repo:
            done = check_and_record(repo, read_data, progress=job.progress)
        errors = len(done.report.errors)
        detail = f"{done.report.snapshots} snapshots, {done.report.packs_read} packs read back,"
        detail += f" {errors} error{'s' * (errors != 1)}"
        if done.unrecorded:
            detail += f"; {done.unrecorded}"
        return Outcome(FAILED if errors else OK, detail, done)

    return work


def drill_now(site: Site, name: str, sample: int) -> Work:
    """`ripcord drill --sample N` of the repository `name`."""
    spec = site.spec(name)

    def work(job: Job) -> Outcome:
        job.say(f"drilling {name}: restoring {sample} sampled files")
        with site.connect_fresh(spec) as repo:
            report = drill(repo, DrillOptions(sample=sample), job.progress)
        rec = report.record
        detail = f"drill {rec.id[:12]}: {rec.result}, {rec.files} files restored and proven"
        if rec.failures:
            detail += f", {len(rec.failures)} FAILED"
        return Outcome(FAILED if rec.failures else OK, detail, report)

    return work
