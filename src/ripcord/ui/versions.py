"""A file's or folder's history: each version, the snapshots it is in, when it was
deleted; archive/history.py's `history`, as `ripcord history` shows it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ripcord.archive.history import Gone, Version, history
from ripcord.ui.entries import Entry
from ripcord.ui.paths import path_after, quote_path, shown, text
from ripcord.ui.reading import answered
from ripcord.ui.render import page
from ripcord.ui.site import Site


def routes(site: Site) -> list[BaseRoute]:
    return [Route("/snapshots/{repo}/history/{path:anypath}", _history)]


@dataclass(frozen=True)
class Host:
    """The versions of the path in one host's snapshots."""

    host: str
    events: list[tuple[Version | Gone, Entry | None]]  # a version with its entry


def _history(request: Request) -> Response:
    site: Site = request.app.state.site
    name = request.path_params["repo"]
    path = path_after(request, 3)
    with answered(), site.using(name) as repo:
        found = history(repo, repo.snapshots(), os.fsdecode(path))
    hosts = [
        Host(
            text(h.host),
            [(e, Entry(e.node, path) if isinstance(e, Version) else None) for e in h.events],
        )
        for h in found
    ]
    return page(
        request,
        "history.html",
        repo=name,
        path=shown(path),
        url=quote_path(path),
        hosts=hosts,
    )
