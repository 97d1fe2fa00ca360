"""Search: files and folders by name (or path glob) and mtime across a repository's
snapshots, with archive/find.py's Finder as `ripcord find` uses it."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ripcord.archive.find import Criteria, Finder
from ripcord.errors import UsageError
from ripcord.repository import Snapshot, parse_time
from ripcord.ui.entries import Entry
from ripcord.ui.paths import text
from ripcord.ui.reading import answered
from ripcord.ui.render import page
from ripcord.ui.site import Site

MAX_SHOWN = 500  # matches listed; the count says how many more there are


def routes(site: Site) -> list[BaseRoute]:
    return [Route("/snapshots/{repo}/search", _search)]


@dataclass(frozen=True)
class Found:
    snap: Snapshot
    entries: list[Entry]


def _search(request: Request) -> Response:
    site: Site = request.app.state.site
    name = request.path_params["repo"]
    q = request.query_params
    form = {k: q.get(k, "").strip() for k in ("pattern", "path", "newer", "older")}
    with answered(), site.using(name) as repo:
        snaps = repo.snapshots()
        sources = sorted({p for s in snaps for p in s.paths})
        found: list[Found] = []
        total, error = 0, None
        if form["pattern"]:
            try:
                criteria = Criteria.parse(
                    (form["pattern"],),
                    parse_time(form["newer"]) if form["newer"] else None,
                    parse_time(form["older"]) if form["older"] else None,
                )
            except UsageError as e:
                error = str(e)
            else:
                finder = Finder(repo, criteria)
                chosen = [s for s in snaps if not form["path"] or form["path"] in s.paths]
                for s in reversed(chosen):  # newest first
                    hits = finder.search(s)
                    total += len(hits)
                    room = max(0, MAX_SHOWN - sum(len(f.entries) for f in found))
                    if hits and room:
                        found.append(Found(s, [Entry(n, p) for p, n in hits[:room]]))
    return page(
        request,
        "search.html",
        400 if error else 200,
        repo=name,
        form=form,
        sources=[(p, text(p)) for p in sources],
        found=found,
        total=total,
        shown_count=sum(len(f.entries) for f in found),
        error=error,
        searched=bool(form["pattern"]) and error is None,
    )
