"""Restore a file or folder of a snapshot onto the server, as `ripcord restore --verify`
does: archive/restore.py's Restorer, run as a dashboard job (ui/work.py) so a long
restore shows its progress on the job page instead of timing out.

The target is checked before the job starts, so a mistake is a message on the form:
it must be an absolute path; an existing one must be an empty folder unless
"overwrite" is ticked; and the dashboard must be able to write there.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ripcord.archive.progress import Progress
from ripcord.archive.restore import RestoreOptions, Restorer, RestoreReport
from ripcord.repository import Snapshot
from ripcord.ui.entries import Entry, crumbs
from ripcord.ui.paths import path_after, shown, text
from ripcord.ui.reading import Located, locate
from ripcord.ui.render import page
from ripcord.ui.site import Site
from ripcord.ui.work import FAILED, OK, WARN, Busy, Job, Outcome, Work, jobs_of


def routes(site: Site) -> list[BaseRoute]:
    return [
        Route("/snapshots/{repo}/{snap}/restore/{path:anypath}", _restore, methods=["GET", "POST"])
    ]


class TargetRefused(Exception):
    """Why the target chosen cannot be restored into (shown on the form)."""


def default_target(snap: Snapshot) -> str:
    """A folder that does not exist yet, under the home of the user the dashboard runs
    as: nothing is overwritten unless the user asks."""
    return str(Path.home() / f"ripcord-restore-{snap.time.astimezone():%Y%m%d-%H%M%S}")


def check_target(target: str, overwrite: bool) -> str:
    """The target, normalised, once made sure a restore can write there."""
    if not target or not os.path.isabs(target) or "\0" in target:
        raise TargetRefused("the target must be an absolute path on the server, like /srv/back")
    target = os.path.normpath(target)
    if os.path.lexists(target):
        if not os.path.isdir(target) or os.path.islink(target):
            raise TargetRefused(f"{target} exists and is not a folder")
        if any(os.scandir(target)) and not overwrite:
            raise TargetRefused(
                f"{target} is not empty: choose an empty or new folder, or tick overwrite"
            )
    try:
        os.makedirs(target, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):  # root passes access(); this asks the disk
            pass
    except OSError as e:
        why = e.strerror or str(e)
        raise TargetRefused(f"the dashboard cannot write to {target}: {why}") from None
    return target


@dataclass(frozen=True)
class RestoreDone:
    """A restore job's result."""

    target: str
    report: RestoreReport


async def _restore(request: Request) -> Response:
    site: Site = request.app.state.site
    name, snap_id = request.path_params["repo"], request.path_params["snap"]
    at = await run_in_threadpool(locate, site, name, snap_id, path_after(request, 4))
    if request.method == "GET":
        return _form(request, name, at, default_target(at.snapshot), False, None)
    form = await request.form()
    target = str(form.get("target") or "").strip()
    overwrite = form.get("overwrite") == "yes"
    try:
        target = await run_in_threadpool(check_target, target, overwrite)
    except TargetRefused as e:
        return _form(request, name, at, target, overwrite, str(e), 400)
    title = f"restore of {shown(at.path or b'/')} to {target}"
    try:
        job = jobs_of(request.app.state).start("restore", title, _work(site, name, at, target))
    except Busy as e:
        return _form(request, name, at, target, overwrite, str(e), 409)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def _form(
    request: Request,
    name: str,
    at: Located,
    target: str,
    overwrite: bool,
    error: str | None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "restore.html",
        status_code,
        repo=name,
        snap=at.snapshot,
        current=Entry(at.node, at.path),
        crumbs=crumbs(at.path),
        target=target,
        landing=os.path.join(target, shown(at.path).lstrip("/")) if target else "",
        overwrite=overwrite,
        error=error,
    )


class _Shown:
    """The engine's progress with each path made fit for a page or JSON (a name that is
    not UTF-8 reaches us with surrogate escapes, which neither can carry)."""

    def __init__(self, inner: Progress) -> None:
        self._inner = inner

    def start(self, total_bytes: int | None) -> None:
        self._inner.start(total_bytes)

    def item(self, path: str) -> None:
        self._inner.item(text(path))

    def advance(self, nbytes: int) -> None:
        self._inner.advance(nbytes)

    def finish(self) -> None:
        self._inner.finish()


def _work(site: Site, name: str, at: Located, target: str) -> Work:
    spec = site.spec(name)
    options = RestoreOptions(target=target, paths=[os.fsdecode(at.path or b"/")], verify=True)

    def work(job: Job) -> Outcome:
        with site.connect_fresh(spec) as repo, repo.reading():
            r = Restorer(repo, at.snapshot, options, _Shown(job.progress())).run()
        for path in r.verify_failed:
            job.say(f"verification failed: {text(path)}")
        for path, why in r.errors:
            job.say(f"could not restore {text(path)}: {text(why)}")
        detail = (
            f"restored {r.files} files and {r.dirs} folders ({r.bytes_written} bytes) to"
            f" {target}; {r.verified} files verified"
        )
        if r.incomplete:
            trouble = len(r.errors) + len(r.verify_failed)
            status = WARN if r.files else FAILED
            return Outcome(status, f"{detail}; {trouble} problems", RestoreDone(target, r))
        return Outcome(OK, detail, RestoreDone(target, r))

    return work
