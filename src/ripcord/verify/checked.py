"""Run a check and keep its record: the one way `ripcord check` and `run` check a copy.

A check that leaves no trace proves nothing to `status` tomorrow. So every
run, clean or not, ends with a check record (repository/checks.py) written
under the same shared lock. A check that stops on an error is recorded too,
as failed with that error, so a copy that cannot even be checked does not
keep its last good verdict. Storage that refuses the record (read-only
media) does not change the check's result: the caller is told why, and
warns.
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ripcord.archive.progress import NullProgress, Progress
from ripcord.errors import RipcordError, UsageError
from ripcord.repository import Repository
from ripcord.repository.checks import CheckRecord, problem_lines
from ripcord.verify.check import CheckOptions, CheckReport, Problem, check
from ripcord.verify.parity_heal import Healing, heal
from ripcord.verify.subset import VerifiedLog, parse_subset

ALL = "all"  # read_data: every pack
NEEDS_DATA = "--repair heals what reading data finds: add --read-data or a subset"


@dataclass
class CheckRun:
    report: CheckReport
    record: CheckRecord  # its id is "" when it could not be written
    healing: Healing | None = None  # with repair
    unrecorded: str | None = None  # why the record could not be written, if it was not


def check_and_record(
    repo: Repository,
    read_data: str | None = None,
    repair: bool = False,
    progress: Callable[[], Progress] = NullProgress,
) -> CheckRun:
    """Check `repo` under a shared lock, then write what was found as a check record.

    `read_data`: None checks the structure only, "all" reads every pack back, and
    a subset as `check --read-data-subset` takes it ("5%", "2/7") reads that share.
    `repair` heals damaged packs from their parity (needs `read_data`).
    `progress` makes a fresh Progress for each phase. Raises UsageError before
    reading anything for a bad subset; another RipcordError that stops the check
    is raised once a failed record naming it is written (if the store takes it).
    """
    if repair and read_data is None:
        raise UsageError(NEEDS_DATA)
    started, clock = repo.clock(), time.monotonic()
    read = "metadata" if read_data is None else ALL if read_data == ALL else f"subset:{read_data}"
    with repo.reading():
        log = VerifiedLog(repo.cache_dir / "verified.sqlite" if repo.cache_dir else None)
        try:
            options = CheckOptions()
            if read_data == ALL:
                options.read_packs = lambda packs: packs
            elif read_data is not None:
                options.read_packs = parse_subset(read_data, log)
            try:
                report, verified = check(repo, options, progress())
                healing = None
                if repair:
                    report, verified, healing = heal(repo, report, verified, options, progress())
            except RipcordError as e:
                stopped = _record(repo, started, clock, read, CheckReport(), str(e))
                _keep(repo, stopped)
                raise
            log.record(verified)
        finally:
            log.close()
        record = _record(repo, started, clock, read, report)
        kept, why = _keep(repo, record)
    return CheckRun(report, kept, healing, why)


def _record(
    repo: Repository,
    started: datetime,
    clock: float,
    read: str,
    report: CheckReport,
    stopped: str | None = None,
) -> CheckRecord:
    errors = [_line(p) for p in report.errors]
    if stopped is not None:
        errors.insert(0, f"check-stopped: the check could not finish: {stopped}")
    warnings = [_line(p) for p in report.problems if not p.error]
    return CheckRecord(
        time=started,
        host=socket.gethostname(),
        user=getpass.getuser(),
        repository=repo.config.id,
        read=read,
        snapshots=report.snapshots,
        packs=report.packs,
        packs_read=report.packs_read,
        bytes_read=report.bytes_read,
        errors=len(errors),
        warnings=len(warnings),
        duration=round(time.monotonic() - clock, 3),
        problems=problem_lines(errors, warnings),
    )


def _keep(repo: Repository, record: CheckRecord) -> tuple[CheckRecord, str | None]:
    """The record as written, or as it is and why the store would not take it."""
    try:
        return repo.add_check(record), None
    except RipcordError as e:
        return record, f"the check record could not be written: {e}"


def _line(p: Problem) -> str:
    return f"{p.kind}: {p.message}"
