"""The change guard at work during a backup, and answering its alarms.

Before the snapshot is written, its tree is compared with its parent's and
judged against the source's history; the counts go into the snapshot's
summary (the history of the next backups) and an alarm tags it `suspicious`.
Once it is written, an alarm is recorded as a mark that pins the suspicious
snapshot (evidence) and the last good one, so that no retention can drop
them until someone says the change was intentional (`guard ack`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ripcord.errors import RipcordError
from ripcord.guard.changes import ChangeStats, measure
from ripcord.guard.verdict import ALARM, GuardSettings, Verdict, judge, summary_of
from ripcord.repository import Repository, Snapshot
from ripcord.repository.marks import SUSPICIOUS, Mark


@dataclass
class Guard:
    """Plugs into a backup (`Backup(judge=...)`); holds the verdict afterwards."""

    settings: GuardSettings = field(default_factory=GuardSettings)
    canaries: list[str] = field(default_factory=list)
    stats: ChangeStats | None = None
    verdict: Verdict | None = None
    parent: str | None = None
    last_good: str | None = None
    alarm: Mark | None = None

    def before_save(
        self, repo: Repository, snap: Snapshot, parent: Snapshot | None, history: list[Snapshot]
    ) -> None:
        """Judge the new tree against the parent's; `history` is the source's snapshots,
        oldest first, the parent last."""
        stats = measure(
            repo,
            bytes.fromhex(parent.tree) if parent else None,
            bytes.fromhex(snap.tree),
            parent.summary.get("guard_random") if parent else None,
            self.canaries,
        )
        stats.files_before = parent.summary.get("total_files", 0) if parent else 0
        stats.files_after = snap.summary.get("total_files", 0)
        if parent is None:  # nothing to compare with: only what stands alone can alarm
            stats.deleted = stats.modified = stats.turned_random = stats.head_scrambled = 0
        unwanted = unwanted_alarms(repo)
        past = [{**h.summary, "guard_unwanted": int(h.id in unwanted)} for h in history]
        verdict = judge(stats, past, self.settings)
        snap.summary.update(summary_of(stats, verdict))
        if verdict.level == ALARM and SUSPICIOUS not in snap.tags:
            snap.tags.append(SUSPICIOUS)
        self.stats, self.verdict = stats, verdict
        self.parent = parent.id if parent else None
        self.last_good = last_good(history, unwanted)

    def after_save(self, repo: Repository, snap: Snapshot) -> None:
        """Record an alarm: pin the suspicious snapshot and the last good one."""
        if self.verdict is None or self.verdict.level != ALARM:
            return
        pinned = [snap.id] + ([self.last_good] if self.last_good else [])
        self.alarm = repo.add_mark("alarm", pinned, "; ".join(self.verdict.reasons))


def unwanted_alarms(repo: Repository) -> set[str]:
    """Snapshots whose alarm is unanswered or was answered 'not intentional'."""
    standing = repo.standing()
    return {
        s
        for s in standing.alarms
        if s not in standing.answers or standing.answers[s].kind == "incident"
    }


def last_good(history: Iterable[Snapshot], unwanted: set[str]) -> str | None:
    """The newest of these snapshots (oldest first) not among `unwanted` (flagged by an
    alarm that is unanswered or was not intentional)."""
    good = [h for h in history if h.id not in unwanted]
    return good[-1].id if good else None


def answer(repo: Repository, snap: Snapshot, intentional: bool, reason: str = "") -> Mark:
    """Answer the alarm on `snap`: intentional lifts its pin, not intentional keeps it
    and records the incident."""
    standing = repo.standing()
    if snap.id not in standing.alarms:
        raise RipcordError(f"snapshot {snap.id[:12]} raised no guard alarm")
    kind = "ack" if intentional else "incident"
    default = "the change was intentional" if intentional else "the change was not intentional"
    return repo.add_mark(kind, [snap.id], reason or default)


def source_history(repo: Repository, snap: Snapshot) -> list[Snapshot]:
    """The snapshots of the same host and paths taken before `snap`, oldest first."""
    same = [
        s
        for s in repo.snapshots()
        if s.host == snap.host and sorted(s.paths) == sorted(snap.paths) and s.time < snap.time
    ]
    return sorted(same, key=lambda s: (s.time, s.id))


def recheck(
    repo: Repository, snap: Snapshot, settings: GuardSettings | None = None
) -> tuple[ChangeStats, Verdict]:
    """Judge an existing snapshot against the one before it (nothing is written)."""
    history = source_history(repo, snap)
    parent = history[-1] if history else None
    g = Guard(settings or GuardSettings())
    draft = replace(snap, summary=dict(snap.summary), tags=list(snap.tags))
    g.before_save(repo, draft, parent, history)
    assert g.stats is not None and g.verdict is not None
    return g.stats, g.verdict
