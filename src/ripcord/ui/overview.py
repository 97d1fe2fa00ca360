"""The first page: is the plan's 3-2-1-1-0 rule holding, and what waits for an answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ripcord.plan.state import merged, recall, remember
from ripcord.plan.status import observe_all, verdict
from ripcord.ui.render import page
from ripcord.ui.site import Site

TIMEOUT = 10.0  # seconds a repository may take before the page says it is unreachable


def routes(site: Site) -> list[BaseRoute]:
    return [Route("/", _overview)]


def _overview(request: Request) -> Response:
    site: Site = request.app.state.site
    plan = site.plan_or_one()
    now = site.now()
    before, _ = recall(plan) if site.plan else ({}, None)
    observed = observe_all(plan, lambda spec: site.using(spec.name), now, TIMEOUT)
    if site.plan:
        remember(plan, observed)
    states = [merged(s, before.get(s.repository)) for s in observed]
    rules = verdict(plan, states, now) if site.plan else []
    alarms = [(s.repository, a) for s in states for a in s.alarms]
    return page(
        request,
        "overview.html",
        states=list(zip(site.specs, states, strict=True)),
        rules=rules,
        alarms=alarms,
    )
