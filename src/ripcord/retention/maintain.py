"""Maintain: keep the storage locks on everything a kept snapshot needs from expiring.

With S3 Object Lock each object is written locked for the repository's
retention (`init --object-lock ... --retention D`). A lock that runs out leaves
the object deletable by anyone holding the bucket's credentials, so the locks
of every object still needed are pushed forward before they end: once less than
half the retention is left (`HORIZON`), to now + the retention. What no kept
snapshot needs (forgotten snapshots, packs only they use, condemned objects)
is left to expire, so prune can delete it.

Every lock is asked of the store (one request per object, in parallel) rather
than inferred from write times or a local record: a lock is a fact about the
bucket, and a wrong guess costs history.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ripcord.archive.progress import NullProgress, Progress
from ripcord.errors import CorruptObject, MissingObject, UsageError
from ripcord.repository import Repository
from ripcord.repository.packer import pack_name
from ripcord.repository.parity import parity_name
from ripcord.retention.prune import referenced
from ripcord.storage import ObjectInfo, ObjectNotFound
from ripcord.storage.base import Retaining

HORIZON = 0.5  # extend a lock once less than this share of the retention is left
MARGIN = 0.25  # of the retention: how long before the first lock ends to run again
WORKERS = 8  # requests in flight: each is one small round trip

Say = Callable[[str], None]


@dataclass
class MaintainReport:
    dry_run: bool = False
    retention: timedelta = timedelta(0)
    live: int = 0  # objects a kept snapshot (or the repository itself) needs
    live_bytes: int = 0
    extended: int = 0  # locks pushed forward (or that would be, with dry_run)
    relocked: int = 0  # of which had no lock left: they were deletable until now
    gone: int = 0  # listed, then deleted before their lock was asked (a prune)
    locked_until: datetime | None = None  # the new end of the extended locks
    earliest: datetime | None = None  # the first lock on a live object to end, after this run
    unlocked: list[str] = field(default_factory=list)  # live objects that had no lock left
    damaged: list[str] = field(default_factory=list)  # kept snapshots that cannot be walked

    @property
    def next_run(self) -> datetime | None:
        """When to run again: a quarter of the retention before the first lock ends."""
        return None if self.earliest is None else self.earliest - self.retention * MARGIN


def maintain(
    repo: Repository,
    dry_run: bool = False,
    say: Say = lambda _: None,
    progress: Progress | None = None,
) -> MaintainReport:
    """Extend the lock of every object a kept snapshot needs that ends within the horizon."""
    store = repo.store
    lock = repo.config.object_lock
    if lock is None:
        raise UsageError("this repository has no Object Lock (init --object-lock): no locks")
    if not isinstance(store, Retaining):
        raise UsageError(
            "this copy of the repository is on storage without Object Lock: no locks to extend"
        )
    period = timedelta(seconds=lock.retention_seconds)
    report = MaintainReport(dry_run, period)
    with repo.reading():
        say("finding what the kept snapshots need")
        objects = live_objects(repo, report.damaged)
        report.live = len(objects)
        report.live_bytes = sum(o.size for o in objects)
        now = repo.clock()
        horizon, until = now + period * HORIZON, now + period
        bar = progress or NullProgress()
        bar.start(report.live_bytes)

        def visit(obj: ObjectInfo) -> tuple[datetime | None, datetime | None, bool]:
            """(its lock's end before, after this run, whether it is extended); after is
            None when the object is gone (a prune deleted it since the listing)."""
            try:
                ends = store.retained_until(obj.name)
                if ends is not None and ends >= horizon:
                    return ends, ends, False
                if not dry_run:
                    store.extend_retention(obj.name, until)
                return ends, until if not dry_run else ends or now, True
            except ObjectNotFound:
                return None, None, False
            finally:
                bar.advance(obj.size)

        try:
            with ThreadPoolExecutor(WORKERS, thread_name_prefix="ripcord-maintain") as pool:
                seen = list(pool.map(visit, objects))
        finally:
            bar.finish()
    for obj, (before, after, extended) in zip(objects, seen, strict=True):
        report.gone += after is None
        report.extended += extended
        if extended and before is None:
            report.relocked += 1
            report.unlocked.append(obj.name)
    report.earliest = min((e for _, e, _ in seen if e is not None), default=None)
    report.locked_until = until if report.extended and not dry_run else None
    report.unlocked.sort()
    return report


def live_objects(repo: Repository, damaged: list[str]) -> list[ObjectInfo]:
    """Every object a kept snapshot needs, or the repository itself: the config, key
    slots, marks, drill and check records, kept snapshots, index files in force, and the packs
    (with their parity) that hold a blob a kept snapshot uses. Pending records and
    locks are not: they matter only while prune runs.

    A kept snapshot that cannot be walked whole is named in `damaged`; what the
    others need is still found (and the damaged one's own object kept)."""
    condemned: set[str] = set()
    for plan in repo.plans():
        condemned.update(f"index/{i}" for i in plan.indexes)
        condemned.update(f"snapshots/{s}" for s in plan.snapshots)
        condemned.update(plan.names)
    out = [repo.store.stat("config")]
    for prefix in ("keys", "marks", "drills", "checks", "index"):
        out += [o for o in repo.store.list(prefix) if o.name not in condemned]
    forgotten = repo.standing().forgotten
    kept = [s for s in repo.snapshots(forgotten=True) if s.id not in forgotten]
    out += [o for o in repo.store.list("snapshots") if o.name.split("/", 1)[1] not in forgotten]
    used: set[bytes] = set()
    trees: set[bytes] = set()
    for snap in kept:
        try:
            used |= referenced(repo, [snap], trees)[0]
        except (MissingObject, CorruptObject):  # `check` says what is wrong with it
            damaged.append(snap.id)
    packs = repo.index.packs_holding(list(used))
    sizes = repo.pack_sizes()
    out += [ObjectInfo(pack_name(p), sizes[p]) for p in sorted(packs) if p in sizes]
    names = {parity_name(p) for p in packs}
    out += [o for o in repo.store.list("parity") if o.name in names]
    return out
