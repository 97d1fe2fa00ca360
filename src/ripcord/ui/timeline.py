"""The timeline: per source, what each snapshot changed and stored, alarms marked.

A ransomware night (thousands of files changed, the repository growing) or a
mass deletion stands out against the ordinary nights. The figures are those the
snapshot records (docs/FORMAT.md §Snapshots): the change guard's added,
modified and deleted counts where it judged the backup, else the backup's own
new and changed counts (a snapshot from before the guard shows deleted as "–"),
and `stored_added`, the bytes the backup added to the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ripcord.plan.sources import by_source
from ripcord.plan.status import bounded
from ripcord.repository import Snapshot
from ripcord.repository.marks import SUSPICIOUS, Standing
from ripcord.ui.chart import Column, bars, legend, line
from ripcord.ui.paths import text
from ripcord.ui.render import env, page
from ripcord.ui.site import Site

human_bytes = env.filters["bytes"]
when = env.filters["when"]


def routes(site: Site) -> list[BaseRoute]:
    return [Route("/timeline", _timeline)]


@dataclass(frozen=True)
class Figures:
    """What one snapshot changed, as recorded in its summary (None: not recorded)."""

    snapshot: Snapshot
    added: int | None
    changed: int | None
    deleted: int | None
    stored: int | None
    alarm: str | None  # the guard's reason, if it raised an alarm on this snapshot

    @classmethod
    def of(cls, snap: Snapshot, standing: Standing) -> Figures:
        s = snap.summary
        guarded = "guard_files" in s
        mark = standing.alarms.get(snap.id)
        alarm = text(mark.reason) if mark else None
        if alarm is None and SUSPICIOUS in snap.tags:  # a copy whose alarm mark is elsewhere
            alarm = "the change guard flagged it"
        return cls(
            snap,
            s.get("guard_added") if guarded else s.get("files_new"),
            s.get("guard_modified") if guarded else s.get("files_changed"),
            s.get("guard_deleted") if guarded else None,
            s.get("stored_added"),
            alarm,
        )

    def column(self) -> Column:
        t = self.snapshot.time
        tip = (
            f"{when(t)} · snapshot {self.snapshot.id[:12]}: {_n(self.added)} added,"
            f" {_n(self.changed)} changed, {_n(self.deleted)} deleted;"
            f" {human_bytes(self.stored)} stored"
        )
        if self.alarm is not None:
            tip += f" · GUARD ALARM: {self.alarm}"
        return Column(
            tip, t.astimezone().strftime("%m-%d"), self.added, self.changed, self.deleted,
            self.stored, self.alarm,
        )  # fmt: skip


@dataclass(frozen=True)
class Source:
    name: str
    figures: list[Figures]
    chart: Markup


def _n(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _timeline(request: Request) -> Response:
    site: Site = request.app.state.site
    name = request.query_params.get("repository") or site.names[0]
    spec = site.spec(name)  # 404 for a name the site does not have

    def read() -> tuple[list[Snapshot], Standing, int]:
        with site.using(spec.name) as repo:
            return repo.snapshots(), repo.standing(), sum(repo.pack_sizes().values())

    found = bounded(read, site.timeout, f"timeline-{name}")  # a hung NAS must not hang the page
    if isinstance(found, str):
        return page(request, "timeline.html", 503, repository=name, error=found)
    snaps, standing, stored_now = found
    sources = []
    for raw, mine in by_source(site.plan_or_one(), snaps):
        source = text(raw)
        figures = [Figures.of(s, standing) for s in mine]
        columns = [f.column() for f in figures]
        top = max((f.stored or 0 for f in figures), default=0)
        svg = bars(columns, f"Snapshots of {source}", human_bytes(top))
        sources.append(Source(source, figures, Markup(svg)))
    ordered = sorted(snaps, key=lambda s: (s.time, s.id))
    grown = list(accumulate(s.summary.get("stored_added", 0) for s in ordered))
    points = [
        (f"{when(s.time)}: {human_bytes(total)} stored by the backups so far", total)
        for s, total in zip(ordered, grown, strict=True)
    ]
    size = Markup(line(points, f"Size of {name} over time", human_bytes(grown[-1] if grown else 0)))
    return page(
        request,
        "timeline.html",
        repository=name,
        sources=sources,
        size=size,
        stored_now=stored_now,
        snapshots=len(snaps),
        legend=Markup(legend()),
        n=_n,
    )
