"""/jobs: buttons that back up, check or drill now, and each job followed live.

A job's page follows it through Server-Sent Events (static/jobs.js with
EventSource): its status, the phase's counters and current file, its log. When
it ends the page reloads and shows the result: the run's steps, the check's
errors, the drill's record. /jobs/{id}/state is the same as JSON.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ripcord.plan.run import RunReport
from ripcord.ui import actions
from ripcord.ui.render import page
from ripcord.ui.restore import RestoreDone
from ripcord.ui.site import Site
from ripcord.ui.work import Busy, Job, Work, jobs_of
from ripcord.verify.checked import CheckRun
from ripcord.verify.drill import DEFAULT_SAMPLE, DrillReport

TICK = 0.25  # seconds between looks at a running job
STREAM = 25.0  # seconds one event stream lasts; EventSource reconnects by itself (so a
# stopping server is not held up by a page left open)
MAX_SAMPLE = 10_000


def routes(site: Site) -> list[BaseRoute]:
    return [
        Route("/jobs", _list),
        Route("/jobs/backup", _backup, methods=["POST"]),
        Route("/jobs/check", _check, methods=["POST"]),
        Route("/jobs/drill", _drill, methods=["POST"]),
        Route("/jobs/{id:int}", _job),
        Route("/jobs/{id:int}/state", _state),
        Route("/jobs/{id:int}/events", _events),
    ]


def _list(request: Request, message: str | None = None, status_code: int = 200) -> Response:
    site: Site = request.app.state.site
    plan = site.plan
    sample = plan.drill.sample if plan and plan.drill else DEFAULT_SAMPLE
    return page(
        request,
        "jobs.html",
        status_code,
        jobs=jobs_of(request.app.state).recent(),
        reads=list(actions.READS),
        sample=sample,
        message=message,
    )


async def _backup(request: Request) -> Response:
    site: Site = request.app.state.site
    title = f"run of plan {site.plan.name}" if site.plan else f"backup to {site.names[0]}"
    return _start(request, "backup", title, actions.backup(site))


async def _check(request: Request) -> Response:
    site: Site = request.app.state.site
    form = await request.form()
    name = _field(form.get("repository"), site.names[0])
    read = _field(form.get("read"), "metadata")
    if read not in actions.READS:
        return _list(request, f"unknown choice of data to read: {read!r}", 400)
    site.spec(name)  # 404 for a repository the site does not have
    return _start(request, "check", f"check of {name}", actions.check(site, name, read))


async def _drill(request: Request) -> Response:
    site: Site = request.app.state.site
    form = await request.form()
    name = _field(form.get("repository"), site.names[0])
    text = _field(form.get("sample"), str(DEFAULT_SAMPLE))
    if not text.isdigit() or not 1 <= int(text) <= MAX_SAMPLE:
        return _list(request, f"the sample is a number of files from 1 to {MAX_SAMPLE}", 400)
    site.spec(name)
    return _start(request, "drill", f"drill of {name}", actions.drill_now(site, name, int(text)))


def _start(request: Request, kind: str, title: str, work: Work) -> Response:
    try:
        job = jobs_of(request.app.state).start(kind, title, work)
    except Busy as e:
        return _list(request, str(e), 409)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def _field(value: object, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _find(request: Request) -> Job:
    job = jobs_of(request.app.state).get(str(request.path_params["id"]))
    if job is None:
        raise HTTPException(404, "no such job (finished jobs are kept until a restart)")
    return job


def _job(request: Request) -> Response:
    job = _find(request)
    return page(request, "job.html", job=job, view=_view(job.result))


def _view(result: object) -> str | None:
    """Which result section the job page shows."""
    views = (
        (RunReport, "run"),
        (actions.BackupDone, "backup"),
        (CheckRun, "check"),
        (DrillReport, "drill"),
        (RestoreDone, "restore"),
    )
    return next((name for kind, name in views if isinstance(result, kind)), None)


def _state(request: Request) -> Response:
    return JSONResponse(_find(request).doc())


async def _events(request: Request) -> Response:
    """The job's state whenever it changes, then an `done` event when it ends."""
    job = _find(request)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        seen = -1
        loop = asyncio.get_running_loop()
        until = loop.time() + STREAM
        while loop.time() < until:
            finished = not job.running  # read before the state: no end goes unsent
            if job.version != seen:
                seen = job.version
                yield f"data: {json.dumps(job.doc())}\n\n"
            if finished:
                yield "event: done\ndata: {}\n\n"
                return
            await asyncio.sleep(TICK)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"x-accel-buffering": "no"}
    )
