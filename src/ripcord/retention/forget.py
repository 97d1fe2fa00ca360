"""forget: decide which snapshots go, and record it as one forget mark.

Nothing is deleted here: a forget mark hides snapshots from every command and
prune later frees what only they used. One mark per run keeps a forget atomic
(all of it or none of it is in the repository) and says why in its `reason`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ripcord.errors import CorruptObject, MissingObject, RipcordError
from ripcord.repository import Repository, Snapshot, resolve
from ripcord.repository.crypto import is_content_id
from ripcord.repository.marks import SUSPICIOUS, Mark, Standing
from ripcord.retention.duration import format_duration
from ripcord.retention.policy import Policy, decide, group_key

BY_ID = "by id"


@dataclass
class Verdict:
    """One snapshot's fate; `time` is None for a snapshot too damaged to read."""

    id: str
    time: datetime | None
    keep: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Group:
    key: dict[str, str | list[str]]  # only the fields grouped by
    verdicts: list[Verdict]


@dataclass
class Plan:
    """What a forget would do; `reason` goes into the mark."""

    groups: list[Group]
    reason: str

    @property
    def kept(self) -> list[str]:
        return [v.id for g in self.groups for v in g.verdicts if v.keep]

    @property
    def forgotten(self) -> list[str]:
        return [v.id for g in self.groups for v in g.verdicts if not v.keep]


def by_policy(
    repo: Repository, policy: Policy, host: str | None = None, tags: Iterable[str] = ()
) -> Plan:
    """Apply `policy` to the snapshots of `host` carrying all `tags` (the others stay
    untouched), against the real clock, with protected snapshots always kept."""
    wanted = set(tags)
    snaps = [
        s for s in repo.snapshots() if (host is None or s.host == host) and wanted <= set(s.tags)
    ]
    standing = repo.standing()
    keep = standing.protected | held(snaps, standing)
    decisions = decide(snaps, policy, repo.clock(), keep, suspicious(snaps, standing))
    groups: dict[tuple[tuple[str, ...], ...], Group] = {}
    for d in decisions:  # newest first, and so is each group
        key = group_key(d.snapshot, policy.group_by)
        group = groups.setdefault(key, Group(dict(_key_doc(policy.group_by, key)), []))
        s = d.snapshot
        group.verdicts.append(Verdict(s.id, s.time, d.keep, d.reasons, d.notes))
    return Plan([groups[k] for k in sorted(groups)], describe(policy, host, wanted))


def held(snaps: list[Snapshot], standing: Standing) -> set[str]:
    """Snapshots an unanswered guard alarm holds: of the alarmed source (host and
    paths), every one from the suspicious snapshot onward. Whatever came after an
    attack may be needed to understand it."""
    by_id = {s.id: s for s in snaps}
    out: set[str] = set()
    for alarm in standing.open_alarms():
        flagged = by_id.get(alarm.snapshots[0])
        if flagged is None:
            continue
        source = (flagged.host, sorted(flagged.paths))
        out.update(
            s.id for s in snaps if (s.host, sorted(s.paths)) == source and s.time >= flagged.time
        )
    return out


def suspicious(snaps: list[Snapshot], standing: Standing) -> set[str]:
    """Snapshots the guard flagged and nobody called intentional: kept as evidence by
    their pin, they fill no keep quota (a quota must be filled by good snapshots)."""
    acked = {s for s, m in standing.answers.items() if m.kind == "ack"}
    return {s.id for s in snaps if SUSPICIOUS in s.tags and s.id not in acked}


def by_ids(repo: Repository, specs: Iterable[str]) -> Plan:
    """Forget exactly the snapshots named (prefix, `latest`, `@TIME`, or a full id).

    A full id may name a snapshot too damaged to read, so that prune can free
    what only it used. A protected snapshot is refused: protection must be
    lifted on purpose, with `unprotect`. Already forgotten ones are skipped.
    """
    standing = repo.standing()
    stored = set(repo.snapshot_ids())
    visible: list[Snapshot] | None = None
    verdicts: dict[str, Verdict] = {}
    for spec in specs:
        full = spec.lower()
        if is_content_id(full) and full in stored:
            if full in standing.forgotten:
                continue
            verdict = _stored(repo, full)
        else:
            if visible is None:
                visible = repo.snapshots()
            snap = resolve(visible, spec)
            verdict = Verdict(snap.id, snap.time, keep=False)
        if verdict.id in standing.pinned:
            raise RipcordError(
                f"snapshot {verdict.id[:12]} is pinned by a guard alarm: answer it with"
                " `ripcord guard ack` first if the change was intentional"
            )
        if verdict.id in standing.protected:
            raise RipcordError(
                f"snapshot {verdict.id[:12]} is protected: run `ripcord unprotect"
                f" {verdict.id[:12]}` first to forget it"
            )
        verdicts.setdefault(verdict.id, verdict)
    newest_first = sorted(verdicts.values(), key=_age)
    return Plan([Group({}, newest_first)] if newest_first else [], BY_ID)


def write(repo: Repository, plan: Plan) -> Mark | None:
    """One forget mark naming everything the plan forgets; none if it forgets nothing."""
    forgotten = plan.forgotten
    return repo.add_mark("forget", forgotten, plan.reason) if forgotten else None


def describe(policy: Policy, host: str | None = None, tags: Iterable[str] = ()) -> str:
    """The policy in the words of the command line, for the mark's reason."""
    words = [f"keep-last {policy.keep_last}"] if policy.keep_last else []
    for period in ("hourly", "daily", "weekly", "monthly", "yearly"):
        if policy.count(period):
            words.append(f"keep-{period} {policy.count(period)}")
    if policy.keep_within is not None:
        words.append(f"keep-within {format_duration(policy.keep_within)}")
    words += [f"keep-tag {t}" for t in sorted(policy.keep_tags)]
    words.append(f"group by {','.join(policy.group_by)}" if policy.group_by else "no grouping")
    if host is not None:
        words.append(f"host {host}")
    words += [f"tag {t}" for t in sorted(tags)]
    return ", ".join(words)


def _stored(repo: Repository, snap_id: str) -> Verdict:
    try:
        snap = repo.load_snapshot(snap_id)
    except (CorruptObject, MissingObject) as e:
        return Verdict(snap_id, None, keep=False, notes=[f"unreadable: {e}"])
    return Verdict(snap.id, snap.time, keep=False)


def _age(v: Verdict) -> tuple[float, str]:
    """Newest first, ties by id; an unreadable snapshot (no time) last."""
    return (-v.time.timestamp() if v.time else float("inf"), v.id)


def _key_doc(
    group_by: tuple[str, ...], key: tuple[tuple[str, ...], ...]
) -> Iterable[tuple[str, str | list[str]]]:
    for name, values in zip(group_by, key, strict=True):
        yield name, values[0] if name == "host" else list(values)
