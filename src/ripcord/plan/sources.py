"""Which source a snapshot is a backup of: a plan's named sources, or, without a plan,
each host and set of paths (`host:path,path`), the way `status` names them."""

from __future__ import annotations

from ripcord.plan.model import Plan
from ripcord.plan.status import belongs, group_name
from ripcord.repository import Snapshot


def by_source(plan: Plan, snaps: list[Snapshot]) -> list[tuple[str, list[Snapshot]]]:
    """`snaps` split by source, each oldest first: the plan's sources in its order (a
    source with no snapshot included), or without sources every `host:paths` group by
    name. Snapshots of no source of the plan are left out."""
    ordered = sorted(snaps, key=lambda s: (s.time, s.id))
    if plan.sources:
        return [(src.name, [s for s in ordered if belongs(plan, src, s)]) for src in plan.sources]
    groups: dict[str, list[Snapshot]] = {}
    for s in ordered:
        groups.setdefault(group_name(s), []).append(s)
    return sorted(groups.items())
