"""The snapshot browser: each repository's snapshots, and a snapshot's folders.

`routes` also gathers the browser's other pages (search, history, download,
restore) in the one order their URLs need: `/snapshots/REPO/search` and
`/snapshots/REPO/history/...` are tried before `/snapshots/REPO/ID/...`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ripcord.repository import Snapshot
from ripcord.ui import download, restore, search, versions
from ripcord.ui.entries import Entry, crumbs
from ripcord.ui.paging import Page, page_after, page_before
from ripcord.ui.paths import path_after, query_name, quote_path, shown, text
from ripcord.ui.reading import answered, locate
from ripcord.ui.render import page
from ripcord.ui.site import Site


def routes(site: Site) -> list[BaseRoute]:
    return [
        Route("/snapshots", _snapshots),
        Route("/snapshots/{repo}", _snapshots),
        *search.routes(site),
        *versions.routes(site),
        Route("/snapshots/{repo}/{snap}", _to_root),
        Route("/snapshots/{repo}/{snap}/browse/{path:anypath}", _browse),
        *download.routes(site),
        *restore.routes(site),
    ]


@dataclass(frozen=True)
class Row:
    """One snapshot in the list."""

    snap: Snapshot
    protected: bool
    alarm: str | None  # the guard's reason, if it raised an alarm on this snapshot
    alarm_answered: bool  # someone said whether the alarm's change was intentional

    @property
    def host(self) -> str:
        return text(self.snap.host)

    @property
    def tags(self) -> list[str]:
        return [text(t) for t in self.snap.tags]

    @property
    def paths(self) -> list[tuple[str, str]]:
        """(text, url path) of each path the snapshot backed up."""
        raw = [os.fsencode(p) for p in self.snap.paths]
        return [(shown(p), quote_path(p)) for p in raw]

    @property
    def files(self) -> int | None:
        return self.snap.summary.get("total_files")

    @property
    def bytes(self) -> int | None:
        return self.snap.summary.get("total_bytes")


def _snapshots(request: Request) -> Response:
    site: Site = request.app.state.site
    name = request.path_params.get("repo", site.names[0])
    with answered(), site.using(name) as repo:
        snaps = repo.snapshots()
        standing = repo.standing()
    rows = [
        Row(
            s,
            s.id in standing.protected,
            standing.alarms[s.id].reason if s.id in standing.alarms else None,
            s.id in standing.answers,
        )
        for s in reversed(snaps)
    ]
    return page(request, "snapshots.html", repo=name, rows=rows)


def _to_root(request: Request) -> Response:
    p = request.path_params
    to = f"/snapshots/{quote(p['repo'], safe='')}/{quote(p['snap'], safe='')}/browse/"
    return RedirectResponse(to, status_code=303)


def _browse(request: Request) -> Response:
    """A folder a page of entries at a time (`?after=NAME`, `?before=NAME`), or a file."""
    site: Site = request.app.state.site
    name, snap_id = request.path_params["repo"], request.path_params["snap"]
    path = path_after(request, 4)
    at = locate(site, name, snap_id, path)
    entries: list[Entry] = []
    shown_page = Page([], False, False)
    if at.is_dir and at.node.subtree is not None:
        after, before = query_name(request, "after"), query_name(request, "before")
        with answered(), site.using(name) as repo:
            if before is not None:
                shown_page = page_before(repo, at.node.subtree, path, before)
            else:
                shown_page = page_after(repo, at.node.subtree, path, after)
        base = path.rstrip(b"/") + b"/"
        entries = [Entry(c, base + c.name) for c in shown_page.nodes]
    return page(
        request,
        "browse.html",
        repo=name,
        snap=at.snapshot,
        current=Entry(at.node, path),
        at=at,
        crumbs=crumbs(path),
        entries=entries,
        previous=_query("before", entries[0]) if shown_page.more_before and entries else None,
        next=_query("after", entries[-1]) if shown_page.more_after and entries else None,
    )


def _query(key: str, entry: Entry) -> str:
    """The query of the page before or after `entry` (names as raw bytes, quoted)."""
    return f"?{key}={quote(entry.node.name, safe='')}"
