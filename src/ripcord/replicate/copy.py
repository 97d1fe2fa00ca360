"""Copy snapshots from one repository to another (`ripcord copy`, and `run` in a plan).

A copy is the same snapshot with a new id: the target's own key seals it, its
`chain` names the target's heads, its `parent` is the target's copy of the
source's parent, and `origin` names the snapshot first copied, so that a copy
of a copy, or a copy back, is known for what it is (docs/FORMAT.md §Snapshots).

Write order is a backup's: the blobs (replicate/blobs.py), then `flush` makes
them durable and indexed, and only then the snapshot. A crash leaves at most
packs no snapshot uses; the next run finds those blobs in the target and
sends only the rest. A source snapshot is skipped when the target holds a
snapshot with its id or origin, forgotten ones included: a copy never brings
back what retention in the target removed (until prune deleted it; see
docs/CLI.md §ripcord copy).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ripcord.archive.progress import NullProgress, Progress
from ripcord.errors import MissingObject, UsageError
from ripcord.replicate.blobs import BlobCopier
from ripcord.replicate.marks import carry_marks
from ripcord.repository import Repository, Snapshot, chain_heads

NULL_PROGRESS = NullProgress()


@dataclass
class CopyReport:
    copied: list[tuple[str, str]] = field(default_factory=list)  # (source id, id in target)
    skipped: list[str] = field(default_factory=list)  # source ids the target already holds
    blobs_copied: int = 0
    bytes_copied: int = 0  # plaintext bytes of the blobs sent
    marks_copied: int = 0


def copy_snapshots(
    source: Repository,
    target: Repository,
    snapshot_ids: list[str] | None = None,
    progress: Progress = NULL_PROGRESS,
) -> CopyReport:
    """Copy the snapshots `snapshot_ids` (full ids; None: every snapshot of the source not
    forgotten) that the target does not hold yet, oldest first, with their marks."""
    check_copyable(source, target)
    report = CopyReport()
    with target.lock(), source.reading():
        chosen = _chosen(source, snapshot_ids)
        held = _Held(target.snapshots(forgotten=True))
        everything = {s.id: s for s in source.snapshots(forgotten=True)}
        heads = chain_heads(target.snapshots())
        blobs = BlobCopier(source, target, progress)
        progress.start(None)
        try:
            for snap in chosen:
                if held.copy_of(snap) is not None:
                    report.skipped.append(snap.id)
                    continue
                progress.item(f"snapshot {snap.id[:12]}")
                blobs.copy(bytes.fromhex(snap.tree))
                parent = everything.get(snap.parent or "")
                copy = replace(
                    snap,
                    chain=heads,
                    parent=held.copy_of(parent) if parent else held.named(snap.parent),
                    origin=snap.origin or snap.id,
                    tags=list(snap.tags),
                    summary=dict(snap.summary),
                    id="",
                )
                heads = [target.save_snapshot(copy)]  # flushes the blobs first
                held.add(copy)
                report.copied.append((snap.id, copy.id))
        finally:
            blobs.close()
            progress.finish()
        report.blobs_copied, report.bytes_copied = blobs.blobs, blobs.bytes
        copies = {s.id: c for s in everything.values() if (c := held.copy_of(s)) is not None}
        report.marks_copied = carry_marks(source, target, [s.id for s in chosen], copies)
    return report


def check_copyable(source: Repository, target: Repository) -> None:
    """Refuse, before anything is written, a target that cannot take the source's blobs."""
    if source.config.id == target.config.id:
        raise UsageError("the source and the target are the same repository: nothing to copy")
    if not source.shares_chunk_ids(target):
        raise UsageError(
            "the target does not share chunker parameters and chunk-id key with the source,"
            " so the same data would have other ids there; copy to a repository made with"
            " `ripcord -r TARGET init --copy-params-from SOURCE`"
        )


def _chosen(source: Repository, ids: list[str] | None) -> list[Snapshot]:
    """The source snapshots to copy, oldest first (parents before their children)."""
    live = source.snapshots()
    if ids is None:
        return live
    by_id = {s.id: s for s in live}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise MissingObject(f"no snapshot {unknown[0]} in the source (or it was forgotten)")
    wanted = set(ids)
    return [s for s in live if s.id in wanted]


class _Held:
    """The target's snapshots by every name they answer to: their id and their origin."""

    def __init__(self, snapshots: Iterable[Snapshot]) -> None:
        self._by_name: dict[str, str] = {}
        for s in snapshots:
            self.add(s)

    def add(self, snap: Snapshot) -> None:
        for name in (snap.id, snap.origin):
            if name:
                self._by_name.setdefault(name, snap.id)

    def copy_of(self, snap: Snapshot) -> str | None:
        """The target's snapshot that is `snap` or a copy of the same original, if any."""
        return self.named(snap.id, snap.origin)

    def named(self, *names: str | None) -> str | None:
        for name in names:
            if name and name in self._by_name:
                return self._by_name[name]
        return None
