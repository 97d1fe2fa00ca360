"""The first page: what waits for an answer, is the 3-2-1-1-0 rule holding, and each
repository as `ripcord status` sees it (the same survey, plan/survey.py).

A guard alarm is answered here as `guard ack` answers it, in every repository
of the plan that holds it (a copy carries the alarm of the snapshot it copied).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ripcord.plan.alarms import answer_everywhere, pending
from ripcord.plan.model import Plan, RepositorySpec
from ripcord.plan.status import observe
from ripcord.plan.survey import Survey, single, survey
from ripcord.repository import Repository
from ripcord.repository.crypto import is_content_id
from ripcord.ui.render import page
from ripcord.ui.site import Site

ANSWER_TIMEOUT = 30.0  # seconds to open a repository afresh (its password's KDF) and answer
MAX_REASON = 1000  # characters of the reason kept with an answer
ANSWERS = {"intentional": True, "incident": False}

# what each rule asks, in plain words (its reason says how it stands)
MEANING = {
    "3 copies": "three copies of the data hold a recent snapshot, the live data counting as one",
    "2 media": "the backup copies are on at least two different kinds of storage",
    "1 offsite": "at least one current copy is kept away from the building",
    "1 immutable or offline": "at least one current copy cannot be deleted by whoever"
    " gets the password: its store refuses deletion, or it is unplugged",
    "0 errors": "the latest check and restore drill of every copy found nothing wrong",
}


def routes(site: Site) -> list[BaseRoute]:
    return [Route("/", _overview), Route("/alarms/answer", _answer, methods=["POST"])]


def look(site: Site) -> Survey:
    """The plan's survey; one repository's facts when the dashboard shows only one."""
    now = site.now()

    def connect(spec: RepositorySpec) -> AbstractContextManager[Repository]:
        return site.using(spec.name)

    if _whole_plan(site) and site.plan is not None:
        return survey(site.plan, connect, now, site.timeout)
    (spec,) = site.specs
    state = observe(spec, connect, Plan(Path("-"), (), ()), now, site.timeout)
    return single(spec, state, now)


def _whole_plan(site: Site) -> bool:
    """Every repository of a plan (not the one `-r NAME` picked out of it)."""
    return site.plan is not None and site.specs == site.plan.repositories


def _overview(request: Request) -> Response:
    site: Site = request.app.state.site
    seen = look(site)
    alarms = pending((c.spec.name, c.state.reachable, a) for c, a in seen.alarms)
    return page(
        request,
        "overview.html",
        survey=seen,
        alarms=alarms,
        meaning=MEANING,
        timeout=site.timeout,
    )


async def _answer(request: Request) -> Response:
    """Answer an alarm in every repository holding it; the page says where it was."""
    site: Site = request.app.state.site
    form = await request.form()
    key, reason, choice = (form.get(k) for k in ("snapshot", "reason", "answer"))
    problem = None
    if not isinstance(key, str) or not is_content_id(key):
        problem = "Which alarm? The form named no snapshot."
    elif not isinstance(choice, str) or choice not in ANSWERS:
        problem = "Was it intentional or not? Press one of the two buttons."
    elif not isinstance(reason, str) or not reason.strip():
        problem = "Say why in a few words: the reason is kept with the answer."
    elif len(reason) > MAX_REASON:
        problem = f"The reason is longer than {MAX_REASON} characters."
    if problem is not None:
        return page(request, "answered.html", 400, problem=problem, done=[])
    assert isinstance(key, str) and isinstance(choice, str) and isinstance(reason, str)
    done = await run_in_threadpool(
        answer_everywhere,
        site.specs,
        site.connect_fresh,
        key,
        ANSWERS[choice],
        reason.strip(),
        ANSWER_TIMEOUT,
    )
    answered = [d for d in done if d.snapshot]
    if not answered:
        failed = "; ".join(f"{d.repository}: {d.error}" for d in done if d.error)
        problem = f"No repository holds an unanswered alarm on snapshot {key[:12]}" + (
            f" that could be reached ({failed})." if failed else " (it was answered already)."
        )
    return page(
        request,
        "answered.html",
        200 if answered else 409,
        problem=problem,
        done=done,
        key=key,
        intentional=ANSWERS[choice],
        reason=reason.strip(),
    )
