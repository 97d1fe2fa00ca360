"""Prune: delete what no snapshot references, safely beside running backups.

Deletion lives here and nowhere else. It happens in two steps
(docs/FORMAT.md §Pruning beside backups):

1. **Plan.** Walk every snapshot that is not forgotten, find the packs no
   blob of which is used (deleted) and the packs mostly unused (their used
   blobs are copied into new packs, then the old ones deleted), write new
   index files for what stays, and write a *plan* that condemns the old
   packs, the old index files and the forgotten snapshots. Then a *barrier*
   naming every lock holder alive at that moment.
2. **Carry out.** Once every holder on the barrier has finished (or its lock
   went stale), delete what the plan condemned, except packs that a snapshot
   written meanwhile turned out to need (a backup that started before the
   plan may have reused their blobs): those are rescued and indexed again.

A client that locks after the plan was written reads it and never reuses
condemned blobs, so it needs no waiting for. A prune killed at any point
leaves the repository readable; the next prune carries out or finishes what
is pending before planning anything new.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ripcord.archive.progress import NullProgress, Progress
from ripcord.archive.trees import load_refs
from ripcord.errors import CorruptObject, MissingObject, RipcordError
from ripcord.repository import Repository, Snapshot
from ripcord.repository.index import Location, PackFrames
from ripcord.repository.locks import Lock
from ripcord.repository.pack import Frame
from ripcord.repository.packer import pack_name
from ripcord.repository.parity import parity_name
from ripcord.repository.pending import Barrier, Plan, in_force
from ripcord.storage import ObjectLocked, ObjectNotFound
from ripcord.storage.append_only import refuse_deletion

DEFAULT_MAX_UNUSED = 0.05  # of the repository's size, as restic
POLL = 5.0  # seconds between looks at the barrier's holders while waiting


@dataclass
class PruneOptions:
    max_unused: float = DEFAULT_MAX_UNUSED  # share of the repository left unused
    dry_run: bool = False
    wait: float = 0.0  # seconds to wait for backups that started before the plan


@dataclass
class PruneReport:
    dry_run: bool = False
    snapshots_deleted: int = 0
    packs_deleted: int = 0
    packs_repacked: int = 0
    blobs_repacked: int = 0
    packs_rescued: int = 0
    index_files_replaced: int = 0
    size_before: int = 0  # stored bytes of all packs when the plan was made
    unused_before: int = 0  # of which no snapshot needs
    bytes_deleted: int = 0  # stored bytes of packs deleted
    bytes_written: int = 0  # stored bytes of new packs (repacking)
    plans_done: list[str] = field(default_factory=list)
    plans_abandoned: list[str] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # plan id -> holders still running
    # objects condemned but still under a storage lock: name -> when it ends (if known)
    pending_deletion: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def freed(self) -> int:
        return self.bytes_deleted - self.bytes_written


Say = Callable[[str], None]


def prune(
    repo: Repository,
    options: PruneOptions,
    say: Say = lambda _: None,
    progress: Progress | None = None,
) -> PruneReport:
    """Carry out what earlier prunes left pending, then plan and carry out a new prune.

    `say` hears each phase; `progress` follows the copying of repacked data."""
    report = PruneReport(dry_run=options.dry_run)
    if not 0 <= options.max_unused <= 1:
        raise RipcordError(f"max unused must be between 0% and 100%: {options.max_unused:.0%}")
    if not options.dry_run:
        refuse_deletion(repo.store, "prune")  # before any pack, index file or plan is written
    deadline = time.monotonic() + options.wait
    with repo.lock(prune=True) as lock:
        if not options.dry_run:
            carry_out(repo, lock, report, deadline, say)
            if report.waiting:
                say("an earlier prune is still waiting for backups: nothing new planned")
                return report
        plan = make_plan(repo, options, report, lock, say, progress or NullProgress())
        if plan is not None:
            carry_out(repo, lock, report, deadline, say)
    return report


# -- step 1: the plan ---------------------------------------------------------------------


@dataclass
class _PackUse:
    size: int  # stored bytes, trailer included
    frames: list[Frame]
    used: int = 0  # stored bytes of frames attributable to used blobs
    keep: list[tuple[Frame, int]] = field(default_factory=list)  # (frame, blob index) used here

    @property
    def unused(self) -> int:
        """Stored bytes of frames no used blob needs (the trailer is neither)."""
        return sum(f.length for f in self.frames) - self.used

    def share(self) -> float:
        return self.unused / self.size if self.size else 0.0

    def frames_used(self) -> int:
        """Plain bytes of the used blobs: what repacking this pack copies."""
        return sum(frame.blobs[i].length for frame, i in self.keep)


def make_plan(
    repo: Repository,
    options: PruneOptions,
    report: PruneReport,
    lock: Lock,
    say: Say,
    progress: Progress,
) -> Plan | None:
    # what earlier plans condemned and could not delete yet (Object Lock) is theirs
    held = repo.plans()
    held_packs = {p for plan in held for p in plan.packs}
    held_indexes = {f"index/{i}" for plan in held for i in plan.indexes}
    snaps, doomed = _snapshots(repo)
    doomed = [s for s in doomed if s not in {s for plan in held for s in plan.snapshots}]
    say(f"finding the data {len(snaps)} snapshots use")
    walked: list[bytes] = []
    used, _ = referenced(repo, snaps, order=walked)
    sizes = {p: n for p, n in repo.pack_sizes().items() if p not in held_packs}
    index_names = sorted(i.name for i in repo.store.list("index") if i.name not in held_indexes)
    packs: dict[str, _PackUse] = {}
    unsized: dict[str, list[Frame]] = {}  # listed by an index file, not by data/ above
    for name in index_names:
        try:
            listed = repo.read_index_file(name)
        except (CorruptObject, MissingObject) as e:  # replaced like the others; if a
            say(f"{e}: replaced")  # used blob was listed only there, _place says so
            continue
        for pack, frames in listed:
            if pack not in packs and pack in sizes:
                packs[pack] = _PackUse(sizes[pack], frames)
            elif pack not in sizes:
                unsized.setdefault(pack, frames)
    # a pack a backup stored after data/ was listed, indexed before index/ was: its
    # index file is condemned with the rest, so the pack must stay listed (it is not
    # condemned either); one that is still not in data/ is gone, and is dropped
    arrived = repo.pack_sizes()
    carried = [(p, f) for p, f in unsized.items() if p in arrived]
    orphans = [p for p in sizes if p not in packs]  # in no index: a crashed writer's
    missing = _place(used, packs)
    if missing:
        example = next(iter(missing)).hex()
        raise MissingObject(
            f"{len(missing)} blobs the snapshots use are in no pack the index lists (e.g."
            f" {example}); prune deletes nothing while data is missing: repair the repository"
        )
    report.size_before = sum(sizes.values())
    gone = [p for p, u in packs.items() if not u.keep]
    partial = sorted(
        (p for p, u in packs.items() if u.keep and u.unused), key=lambda p: -packs[p].share()
    )
    unused = sum(packs[p].unused for p in partial)
    report.unused_before = unused + sum(sizes[p] for p in gone + orphans)
    total = sum(packs[p].size for p in packs if p not in gone)
    repack = []
    for p in partial:
        if unused <= options.max_unused * total:
            break
        repack.append(p)
        unused -= packs[p].unused
        total -= packs[p].unused
    report.packs_repacked = len(repack)
    if not (gone or orphans or repack or doomed):
        say("nothing to prune")
        return None
    if options.dry_run:  # what would go
        report.blobs_repacked = sum(len(packs[p].keep) for p in repack)
        report.packs_deleted = len(gone) + len(orphans) + len(repack)
        report.snapshots_deleted = len(doomed)
        report.bytes_deleted = sum(sizes[p] for p in gone + orphans + repack)
        return None
    say(f"copying the used data out of {len(repack)} mostly unused packs")
    written_before = repo.stored_bytes
    progress.start(sum(packs[p].frames_used() for p in repack))
    # trees in the order a walk meets them, so the next walk (check, prune) reads
    # their frames one after the other instead of decompressing each many times
    rank = {tree: n for n, tree in enumerate(walked)}
    moving = [(p, frame, i) for p in repack for frame, i in packs[p].keep]
    moving.sort(key=lambda m: rank.get(m[1].blobs[m[2]].id, len(rank)))
    try:
        for p, frame, i in moving:
            b = frame.blobs[i]
            loc = Location(p, b.type, frame.offset, frame.length, b.offset, b.length)
            repo.add_blob(b.type, repo.read_at(b.id, loc), b.id, again=True)
            report.blobs_repacked += 1
            progress.advance(b.length)
        repo.flush()
    finally:
        progress.finish()
    report.bytes_written = repo.stored_bytes - written_before
    condemned = set(gone) | set(orphans) | set(repack)
    lasting = [(p, u.frames) for p, u in packs.items() if p not in condemned] + carried
    repo.write_index_files(lasting)
    report.index_files_replaced = len(index_names)
    plan = repo.write_plan(
        sorted(condemned),
        [n.split("/", 1)[1] for n in index_names],
        doomed,
        [s.id for s in snaps],
        sync=False,  # carry_out syncs, once this plan's bookkeeping is freed
    )
    _barrier(repo, plan, lock)
    return plan


def _snapshots(repo: Repository) -> tuple[list[Snapshot], list[str]]:
    """The snapshots to keep, and the ids of the forgotten ones still stored.

    A snapshot that cannot be read stops prune: what it references is unknown.
    """
    stored = repo.snapshot_ids()
    forgotten = repo.standing().forgotten
    readable = repo.snapshots(forgotten=True)
    unreadable = set(stored) - {s.id for s in readable} - forgotten
    if unreadable:
        example = min(unreadable)
        raise RipcordError(
            f"{len(unreadable)} snapshots cannot be read (e.g. {example[:12]}); prune cannot"
            " know what they reference and deletes nothing. Forget them by id first"
            f" (ripcord forget {example}) if they are beyond repair."
        )
    live = [s for s in readable if s.id not in forgotten]
    return live, sorted(set(stored) & forgotten)


def referenced(
    repo: Repository,
    snaps: Iterable[Snapshot],
    trees: set[bytes] | None = None,
    order: list[bytes] | None = None,
) -> tuple[set[bytes], set[bytes]]:
    """(every blob id the snapshots use, the tree ids among them).

    `trees` already walked are skipped: tree ids are content hashes, so a
    subtree shared by a thousand snapshots is read once. `order` receives the
    trees in the order walked.
    """
    trees = set() if trees is None else trees
    used: set[bytes] = set()
    for snap in snaps:
        try:
            try:
                _walk(repo, bytes.fromhex(snap.tree), trees, used, order)
            except MissingObject:
                # a backup that ended after this process read the index: its snapshot is
                # listed, and its index files were written before it. Read them, once.
                repo.sync_index()
                _walk(repo, bytes.fromhex(snap.tree), trees, used, order)
        except (MissingObject, CorruptObject) as e:
            raise type(e)(
                f"snapshot {snap.id[:12]} cannot be read whole ({e}); prune deletes nothing"
                " while data is missing or damaged"
            ) from None
    return used, trees


def _walk(
    repo: Repository,
    root: bytes,
    trees: set[bytes],
    used: set[bytes],
    order: list[bytes] | None,
) -> None:
    stack = [root]
    while stack:
        tree = stack.pop()
        if tree in trees:
            continue
        content, subtrees = load_refs(repo, tree)
        used.update(content)
        stack.extend(subtrees)
        trees.add(tree)  # only once read whole: a failed walk leaves no false "seen"
        used.add(tree)
        if order is not None:
            order.append(tree)


def _place(used: set[bytes], packs: dict[str, _PackUse]) -> set[bytes]:
    """Give each used blob one pack to live in; count what each pack's used blobs
    cost. Returns the used blobs no pack holds."""
    left = set(used)
    for use in packs.values():
        for frame in use.frames:
            total = sum(b.length for b in frame.blobs) or 1
            kept = 0
            for i, b in enumerate(frame.blobs):
                if b.id in left:
                    left.discard(b.id)
                    use.keep.append((frame, i))
                    kept += b.length
            use.used += frame.length * kept // total
    return left


def _barrier(repo: Repository, plan: Plan, lock: Lock) -> Barrier:
    """Name the holders that may have started before the plan was durable."""
    return repo.write_barrier(plan, sorted(lock.live_holders()))


# -- step 2: carrying it out ----------------------------------------------------------------


def carry_out(repo: Repository, lock: Lock, report: PruneReport, deadline: float, say: Say) -> None:
    """Carry out every pending plan whose barrier has cleared, oldest first."""
    plans, others = in_force(repo.pending())
    barriers = {b.plan: b for b in repo.pending() if isinstance(b, Barrier)}
    replaced = {r for p in plans for r in p.replaces}
    for stray in others:  # its plan is done (a crash between the two deletions)
        if stray.id not in replaced:
            _delete(repo, f"pending/{stray.id}", report)
    for plan in plans:
        if plan.leftover:  # its barrier cleared when the plan it replaces was carried out
            _sweep(repo, plan, report)
            continue
        barrier = barriers.get(plan.id) or _barrier(repo, plan, lock)
        while True:
            running = set(barrier.holders) & lock.live_holders()
            if not running or time.monotonic() >= deadline:
                break
            say(f"waiting for {len(running)} backups that started before the prune")
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        if running:
            report.waiting[plan.id] = len(running)
            continue
        _execute(repo, plan, barrier, report, say)


def _execute(repo: Repository, plan: Plan, barrier: Barrier, report: PruneReport, say: Say) -> None:
    repo.sync_index()  # learn index files written since the plan (backups that finished)
    condemned = set(plan.packs)
    indexed = _indexed_since(repo, plan, condemned) if condemned else set()
    rescued = (_needed_since(repo, plan, condemned) if condemned else set()) | indexed
    if rescued:
        say(f"keeping {len(rescued)} packs that backups running beside the prune used")
        if rescued - indexed:
            repo.write_index_file(_frames_of(repo, plan, rescued - indexed))
        report.packs_rescued += len(rescued)
    parity = [i.name for i in repo.store.list("parity")]  # before data/: see below
    sizes = repo.pack_sizes()
    doomed = sorted(condemned - rescued)
    left = _delete_all(repo, doomed, plan.snapshots, plan.indexes, plan.names, sizes, report)
    # parity whose pack went some other way (lost, deleted by hand) protects nothing; a
    # writer stores parity after its pack, so parity listed before data/ whose pack
    # data/ does not hold is such a leftover, never a backup's in flight
    for name in parity:
        if name.rsplit("/", 1)[1] not in sizes and _delete(repo, name, report) is False:
            left.names.append(name)
    records = [f"pending/{barrier.id}", f"pending/{plan.id}"]  # the plan goes last: until
    if left:  # then, a killed prune carries it out again
        _leave(repo, plan, barrier, left)  # Object Lock: kept condemned until locks expire
        for name in records:
            _delete(repo, name, report)
    elif not all([_delete(repo, name, report) is not False for name in records]):
        _leave(repo, plan, barrier, left)  # only the records are locked: still replace them
    report.plans_done.append(plan.id)


@dataclass
class _Left:
    """What a plan could not delete because its storage lock has not expired."""

    packs: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.packs or self.indexes or self.snapshots or self.names)


def _leave(repo: Repository, plan: Plan, barrier: Barrier, left: _Left) -> None:
    """Write the plan that keeps `left` condemned and replaces `plan` (never carried out
    again: a pack it rescued is no longer condemned)."""
    repo.write_plan(
        left.packs,
        left.indexes,
        left.snapshots,
        [],
        sync=False,
        replaces=[plan.id, barrier.id],
        names=left.names,
    )


def _sweep(repo: Repository, plan: Plan, report: PruneReport) -> None:
    """Delete what an earlier plan left because it was locked, as each lock expires.

    No rescue: every client that locked since the plan it replaces saw that plan."""
    records = [f"pending/{r}" for r in plan.replaces]
    left = _delete_all(
        repo, plan.packs, plan.snapshots, plan.indexes, plan.names + records, None, report
    )
    if not left:
        _delete(repo, f"pending/{plan.id}", report)


def _delete_all(
    repo: Repository,
    packs: list[str],
    snapshots: list[str],
    indexes: list[str],
    names: list[str],
    sizes: dict[str, int] | None,
    report: PruneReport,
) -> _Left:
    """Delete condemned packs (each with its parity), snapshots, index files and other
    objects; return what their storage locks kept."""
    sizes = repo.pack_sizes() if sizes is None else sizes
    left = _Left()
    for p in packs:
        if _delete(repo, pack_name(p), report, sizes.get(p)) is False:
            left.packs.append(p)
        if _delete(repo, parity_name(p), report) is False:
            left.names.append(parity_name(p))
    stored = set(repo.snapshot_ids())
    for s in snapshots:
        gone = _delete(repo, f"snapshots/{s}", report)
        report.snapshots_deleted += bool(gone) and s in stored
        if gone is False:
            left.snapshots.append(s)
    left.indexes = [i for i in indexes if _delete(repo, f"index/{i}", report) is False]
    left.names += [n for n in names if _delete(repo, n, report) is False]
    return left


def _frames_of(repo: Repository, plan: Plan, packs: set[str]) -> list[PackFrames]:
    """The frame lists of rescued packs, from the index files the plan condemned
    (still there), or else from the packs' own trailers."""
    found: dict[str, list[Frame]] = {}
    for i in plan.indexes:
        if len(found) == len(packs):
            break
        try:
            listed = repo.read_index_file(f"index/{i}")
        except MissingObject:
            continue
        found.update((p, frames) for p, frames in listed if p in packs)
    for p in packs - set(found):
        found[p] = repo.read_pack_frames(p)
    return sorted(found.items())


def _needed_since(repo: Repository, plan: Plan, condemned: set[str]) -> set[str]:
    """Condemned packs holding the only copy of a blob that a snapshot written since
    the plan uses (its backup started before the plan and reused the blob)."""
    known = set(plan.seen) | set(plan.snapshots)
    new = [s for s in repo.snapshots(forgotten=True) if s.id not in known]
    if not new:
        return set()
    used, _ = referenced(repo, new)
    usable = repo.index.known_many(list(used))  # outside every condemned pack
    out: set[str] = set()
    for loc in repo.locate_many([b for b in used if b not in usable]).values():
        if loc.pack in condemned:
            out.add(loc.pack)
    return out


def _indexed_since(repo: Repository, plan: Plan, condemned: set[str]) -> set[str]:
    """Condemned packs that an index file written since the plan lists: a backup that
    was storing them when the plan was made indexed them later."""
    old = {f"index/{i}" for i in plan.indexes}
    out: set[str] = set()
    for info in repo.store.list("index"):
        if info.name in old or info.name in repo.written_index:
            continue
        for pack, _ in repo.read_index_file(info.name, info.size):
            if pack in condemned:
                out.add(pack)
    return out


def _delete(
    repo: Repository, name: str, report: PruneReport, size: int | None = None
) -> bool | None:
    """Delete `name`: True when deleted, None when already gone (a killed prune's), False
    when its storage lock has not expired yet (left pending deletion, in `report`).

    `size`, for a pack, is counted as freed once it is deleted."""
    try:
        repo.store.delete(name)
    except ObjectNotFound:
        return None
    except ObjectLocked as e:
        report.pending_deletion[name] = e.until
        return False
    if size is not None:
        report.packs_deleted += 1
        report.bytes_deleted += size
    return True
