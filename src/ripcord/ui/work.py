"""Jobs that run beside the pages: a backup, a check, a drill (or a restore) started
from the dashboard, each in a thread of its own, its progress and log kept for the
browser to follow.

One job of each kind at a time: a second "Back up now" while one runs would only
queue behind the repository's lock, or run the plan twice. A job's failure is a
line of text on its page, never a traceback (that goes to the server's log).
Finished jobs are kept in memory, the newest KEEP of them; a restart forgets them
(the repositories keep their own records of checks and drills).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ripcord.archive.progress import Progress
from ripcord.errors import RipcordError
from ripcord.ui.paths import text as shown

RUNNING, OK, WARN, FAILED, ALARM, REFUSED = "running", "ok", "warn", "failed", "alarm", "refused"
KEEP = 20  # finished jobs listed
LOG_LINES = 200  # log lines kept per job
log = logging.getLogger("ripcord.ui")


class Phase:
    """A Progress that records: bytes done of the total, files seen, the current file.
    The engine calls it from its worker threads; the page reads it from another."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._changed = changed
        self.total: int | None = None
        self.done = 0
        self.items = 0
        self.current = ""
        self.finished = False

    def start(self, total_bytes: int | None) -> None:
        with self._lock:
            self.total = total_bytes
        self._changed()

    def item(self, path: str) -> None:
        with self._lock:
            self.items += 1
            self.current = shown(path)
        self._changed()

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self.done += nbytes
        self._changed()

    def finish(self) -> None:
        with self._lock:
            self.finished = True
        self._changed()

    def doc(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "bytes": self.done,
                "items": self.items,
                "current": self.current,
                "finished": self.finished,
            }


@dataclass
class Job:
    id: str
    kind: str  # backup, check, drill, ...
    title: str  # what it does, in words ("check of usb")
    started: datetime
    status: str = RUNNING
    finished: datetime | None = None
    detail: str = ""  # the outcome in one line
    result: Any = None  # what the work returned (a RunReport, a CheckRun, ...)
    phases: int = 0
    phase: Phase | None = None
    version: int = 0  # bumped on every change: the event stream sends only news
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def progress(self) -> Progress:
        """A fresh Progress for the next phase of the work (the engine asks per phase)."""
        self.phases += 1
        self.phase = Phase(self._touch)
        self._touch()
        return self.phase

    def say(self, text: str) -> None:
        self.lines.append(shown(text))
        self._touch()

    def _touch(self) -> None:
        self.version += 1

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "phase": self.phases,
            "progress": self.phase.doc() if self.phase else None,
            "log": list(self.lines)[-50:],
        }


@dataclass(frozen=True)
class Outcome:
    """What a job's work returns: its status, the outcome in words, the details."""

    status: str
    detail: str
    result: Any = None


Work = Callable[[Job], Outcome]


class Busy(RipcordError):
    """A job of this kind is already running."""

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"a {job.kind} is already running ({job.title}, started"
            f" {job.started:%H:%M:%S}): wait for it to finish"
        )
        self.job = job


class Jobs:
    """The dashboard's jobs: started, running, and the last KEEP finished."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)

    def start(self, kind: str, title: str, work: Work) -> Job:
        """Run `work` in a thread of its own; Busy if a job of `kind` still runs."""
        with self._lock:
            for j in self._jobs.values():
                if j.kind == kind and j.running:
                    raise Busy(j)
            job = Job(str(next(self._ids)), kind, title, self._now())
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if not j.running]
            for old in finished[: max(0, len(finished) - KEEP)]:
                del self._jobs[old.id]
        # a daemon: stopping the dashboard abandons a job the way Ctrl-C stops a command
        # (a snapshot is written last, so an unfinished backup leaves no half snapshot)
        threading.Thread(
            target=self._run, args=(job, work), name=f"ripcord-job-{job.id}", daemon=True
        ).start()
        return job

    def _run(self, job: Job, work: Work) -> None:
        try:
            outcome = work(job)
        except (RipcordError, OSError) as e:
            outcome = Outcome(FAILED, one_line(e))
        except Exception as e:  # a fault no layer named: said in one line, logged in full
            log.exception("job %s (%s) failed", job.id, job.title)
            outcome = Outcome(FAILED, f"unexpected error: {type(e).__name__}: {one_line(e)}")
        job.result, job.detail = outcome.result, shown(outcome.detail)
        job.finished = self._now()
        job.status = outcome.status  # last: a reader that sees it finished sees it all
        job.say(f"{outcome.status}: {outcome.detail}")

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def recent(self) -> list[Job]:
        """Every job kept, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: int(j.id), reverse=True)


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if isinstance(e, OSError) and e.strerror:
        text = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    return text or type(e).__name__


_registry_lock = threading.Lock()


def jobs_of(state: Any) -> Jobs:
    """The app's Jobs (kept on `request.app.state`), made on first use."""
    with _registry_lock:
        jobs: Jobs | None = getattr(state, "jobs", None)
        if jobs is None:
            jobs = Jobs(state.site.now)
            state.jobs = jobs
        return jobs
