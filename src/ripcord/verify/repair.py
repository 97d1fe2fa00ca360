"""Repair: rebuild the index from the packs, heal missing or damaged blobs from a
replica, and, only when asked, drop from the snapshots what cannot be healed.

Objects are written once and deleted only by prune, so repair never deletes.
It stores again what it can (a blob from the replica, or an intact blob out of
a damaged pack), indexes it, and then writes a *plan* condemning the damaged
packs and the index files that list them; the next `ripcord prune` carries the
plan out beside any running backup (docs/FORMAT.md §Repair). Readers prefer
locations outside condemned packs at once, and backups stop deduplicating
against them, so a blob lost for good is stored afresh by the next backup that
still finds its file.

Every mode walks every tree of every kept snapshot; healing modes also read
back every blob they use (the sure way to find damage). A replica must share
the chunk-id key (`init --copy-params-from`): a blob is healed by its id, and
the replica's `read_blob` proves the bytes match it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

from ripcord.archive.node import (
    Listing,
    Part,
    check_part,
    decode_listing,
    decode_tree_data,
    part_what,
)
from ripcord.archive.progress import NullProgress, Progress
from ripcord.errors import CorruptObject, MissingObject, RipcordError, UnsafePath
from ripcord.repository import DATA, TREE, Repository, Snapshot, chain_heads
from ripcord.repository.index import Location
from ripcord.storage.append_only import refuse_deletion
from ripcord.verify.lost import LostFinder
from ripcord.verify.reindex import IndexReport, Packs, Pending, locations, reindex, unlist

DAMAGE = (CorruptObject, MissingObject, UnsafePath)
READERS = 4  # packs read back at once
MAX_NAMED = 1000  # lost paths kept per snapshot; the count is always exact
TAG = "repaired"

Say = Callable[[str], None]
Listed = tuple[bytes, list[Part], int]  # a part as a split tree lists it: (tree, parts, index)


@dataclass
class Broken:
    """A kept snapshot that cannot be restored whole."""

    snapshot: str
    state: str  # "files-lost", "damaged" (the snapshot object), "gone" (deleted)
    lost: int = 0  # entries lost, exactly
    paths: list[str] = field(default_factory=list)  # the first MAX_NAMED of them
    action: str | None = None  # with --forget-broken: "repaired", "forgotten", "protected"
    new: str | None = None  # the repaired snapshot


@dataclass
class RepairReport:
    dry_run: bool = False
    index: IndexReport = field(default_factory=IndexReport)
    snapshots: int = 0  # kept snapshots walked
    blobs: int = 0  # distinct blobs they use
    blobs_read: int = 0  # read back and checked (0: structure only)
    blobs_broken: int = 0  # found missing or damaged
    healed: int = 0  # stored again from the replica
    elsewhere: int = 0  # found intact in another pack
    copied: int = 0  # intact blobs moved out of damaged packs
    condemned: list[str] = field(default_factory=list)  # damaged packs, for prune
    index_condemned: list[str] = field(default_factory=list)  # index files listing them
    plans: list[str] = field(default_factory=list)
    broken: list[Broken] = field(default_factory=list)
    whole: bool = False  # nothing is left that a kept snapshot cannot restore

    @property
    def lost(self) -> int:
        return sum(b.lost for b in self.broken if b.action not in ("repaired", "forgotten"))


def _as_listed(listed: Listed) -> tuple[bytes, bytes, int, bytes | None]:
    """What a split tree says of its part `i`: its id, first name, count, and the name
    it must end before. Parts listed alike are checked once."""
    _, parts, i = listed
    end = parts[i + 1].first if i + 1 < len(parts) else None
    return parts[i].id, parts[i].first, parts[i].count, end


def check_replica(repo: Repository, replica: Repository) -> None:
    """Refuse a replica whose blob ids are not ours: it could heal nothing."""
    if not repo.shares_chunk_ids(replica):
        raise RipcordError(
            "the replica does not share chunker parameters and chunk-id key with this"
            " repository, so the same data has other ids there and it cannot heal anything;"
            " a replica that can is made with `ripcord -r REPLICA init --copy-params-from REPO`"
        )


def repair_index(
    repo: Repository, say: Say = lambda _: None, progress: Progress | None = None
) -> RepairReport:
    """Rebuild the index from the pack trailers, then walk every tree to name what no
    existing pack holds (no data is read back)."""
    refuse_deletion(repo.store, "repair index")  # it condemns what it replaces
    with repo.lock():
        run = _Run(repo, say, progress)
        run.reindex(write=True)
        run.walk()
        run.finish(fixed=False)
    return run.report


def repair_from(
    repo: Repository,
    replica: Repository,
    say: Say = lambda _: None,
    progress: Progress | None = None,
) -> RepairReport:
    """Rebuild the index, read back every blob the kept snapshots use, heal what is
    missing or damaged from `replica`, and condemn the damaged packs."""
    refuse_deletion(repo.store, "repair --from REPLICA")
    check_replica(repo, replica)
    with repo.lock(), replica.reading():
        run = _Run(repo, say, progress, replica)
        run.reindex(write=True)
        run.walk(read_data=True, fix=True)
        run.finish(fixed=True)
    return run.report


def repair_snapshots(
    repo: Repository,
    forget: bool,
    say: Say = lambda _: None,
    progress: Progress | None = None,
) -> RepairReport:
    """Find the snapshots that cannot be restored whole and the files they lost. With
    `forget`, first move intact blobs out of damaged packs, then save each such snapshot
    again without its lost files (tagged `repaired`) and forget the original; a snapshot
    with nothing left, a damaged one and a deleted one are only forgotten. Protected
    snapshots are left alone. Without `forget`, nothing is written."""
    if forget:
        refuse_deletion(repo.store, "repair snapshots --forget-broken")
    lock: AbstractContextManager[Any] = repo.lock() if forget else repo.reading()
    with lock:
        run = _Run(repo, say, progress)
        run.report.dry_run = not forget
        run.reindex(write=forget)
        run.walk(read_data=True, fix=forget)
        run.finish(fixed=forget)
        if forget:
            run.forget_broken()
    return run.report


class _Run:
    def __init__(
        self,
        repo: Repository,
        say: Say,
        progress: Progress | None,
        replica: Repository | None = None,
    ) -> None:
        self.repo, self.say, self.replica = repo, say, replica
        self.progress = progress or NullProgress()
        self.report = RepairReport()
        forgotten = repo.standing().forgotten
        readable = repo.snapshots(forgotten=True)
        self.snaps = [s for s in readable if s.id not in forgotten]
        unreadable = set(repo.snapshot_ids()) - {s.id for s in readable} - forgotten
        self.report.broken = [Broken(s, "damaged", 1, ["/"]) for s in sorted(unreadable)]
        gone = set(repo.chain_gaps()) - unreadable  # a damaged one is not there either
        self.report.broken += [Broken(s, "gone", 1, ["/"]) for s in sorted(gone)]
        self.report.snapshots = len(self.snaps)
        self.pending = Pending.of(repo)
        self.packs = Packs(repo)
        self.extra: dict[bytes, Location] = {}  # blobs of packs a dry run did not index
        self.index_left = False  # a dry run found the index to repair
        self.trees: set[bytes] = set()
        self.data: set[bytes] = set()
        self.broken: dict[bytes, str] = {}  # blob -> why, while it is not healed
        self.malformed: set[bytes] = set()  # authentic trees that cannot be used
        self.listed: set[tuple[bytes, bytes, int, bytes | None]] = set()  # parts checked
        self.healed: set[bytes] = set()
        self.damaged: set[str] = set()  # packs that failed a read, or lost their trailer

    # -- the index -------------------------------------------------------------------------

    def reindex(self, write: bool) -> None:
        self.say("comparing the index with the packs")
        seen = [s.id for s in self.snaps]
        self.report.index, adopted = reindex(self.repo, self.packs, seen, write)
        i = self.report.index
        self.index_left = not write and bool(i.adopted or i.replaced or i.missing)
        if i.plan:
            self.report.plans.append(i.plan)
        if not write:
            self.extra = locations(adopted)

    # -- walking and reading ---------------------------------------------------------------

    def walk(self, read_data: bool = False, fix: bool = False) -> None:
        """Every tree of every kept snapshot (healed from the replica when it cannot be
        read); then every blob they use, located, and with `read_data` read back."""
        self.say(f"walking the trees of {len(self.snaps)} snapshots")
        self.progress.start(None)
        try:
            for snap in self.snaps:
                self._walk(bytes.fromhex(snap.tree))
        finally:
            self.progress.finish()
        used = (self.trees | self.data) - self.healed - set(self.broken)
        self.report.blobs = len(self.trees | self.data | set(self.broken))
        if read_data:
            self.say(f"reading back {len(used)} blobs")
            self._read_all(used, fix)
        else:
            self._locate_all(used)
        for blob in sorted(set(self.broken) - self.malformed):  # another copy, or the replica
            self._recover(blob)
        self.report.blobs_broken = len(self.broken) + len(self.healed) + self.report.elsewhere
        if fix:
            self.damaged |= set(self.packs.bad)  # trailer lost: its blobs are copied out

    def _walk(self, root: bytes) -> None:
        """A split tree's parts are tree blobs walked like subtrees, but read as parts:
        a version-1 tree each, checked against each listing that names it. A part can
        be what one split tree lists and not what another lists (a crafted one): the
        listing that lies is malformed, and its folder lost, as restore would refuse it."""
        stack: list[tuple[bytes, Listed | None]] = [(root, None)]
        while stack:
            tree, listed = stack.pop()
            if tree in self.broken or (listed is None and tree in self.trees):
                continue
            if listed is not None:
                if _as_listed(listed) in self.listed:
                    continue
                self.listed.add(_as_listed(listed))
            found = self._tree(tree, listed)
            if found is None or tree in self.trees:  # a part walked where another lists it
                continue
            self.trees.add(tree)
            if len(self.trees) % 200 == 0:
                self.progress.item(f"{len(self.trees)} trees")
            stack.extend((p.id, (tree, found.parts, i)) for i, p in enumerate(found.parts))
            for n in found.nodes:
                self.data.update(n.content)
                if n.subtree is not None:
                    stack.append((n.subtree, None))

    def _tree(self, tree: bytes, listed: Listed | None) -> Listing | None:
        """A tree's listing (or a part's nodes), read here or else healed from the
        replica; None if lost."""
        data = self._read(tree)
        if data is None:
            data = self._heal(tree, TREE)
        if data is None:
            return None
        derive = self.repo.id_from_digest
        try:
            if listed is None:
                return decode_listing(data, f"tree {tree.hex()}", derive)
            what = part_what(*listed)
            nodes = decode_tree_data(data, what, derive)
        except DAMAGE as e:  # authentic but unusable: a replica's copy is the same
            self.broken[tree] = str(e)
            self.malformed.add(tree)
            return None
        try:
            return Listing(check_part(nodes, listed[1], listed[2], what), [])
        except CorruptObject as e:  # the split tree lies about the part
            self.broken[listed[0]] = str(e)
            self.malformed.add(listed[0])
            return None

    def _read(self, blob: bytes) -> bytes | None:
        """The blob from any copy the index knows outside damaged packs; each failed copy
        condemns its pack for this run, and the reason is kept in `broken`."""
        tried: set[str] = set()
        while True:
            loc = self._locate([blob]).get(blob)
            if loc is None or loc.pack in tried:
                self.broken.setdefault(blob, f"blob {blob.hex()} is in no index file")
                return None
            tried.add(loc.pack)
            try:
                data = self.repo.read_at(blob, loc)
            except DAMAGE as e:
                self.broken[blob] = str(e)
                self._condemn(loc.pack)
                continue
            self.broken.pop(blob, None)
            return data

    def _locate(self, blobs: list[bytes]) -> dict[bytes, Location]:
        found = self.repo.locate_many(blobs)
        for b in blobs:
            if b not in found and b in self.extra:
                found[b] = self.extra[b]
        return found

    def _condemn(self, pack: str) -> None:
        """Prefer other copies from now on (the plan, at the end, makes it last)."""
        if pack not in self.damaged:
            self.damaged.add(pack)
            self.repo.index.condemn(self.pending.packs | self.damaged)

    def _locate_all(self, used: set[bytes]) -> None:
        """Without reading: each blob indexed in a pack that exists."""
        where = self._locate(sorted(used))
        for blob in used:
            loc = where.get(blob)
            if loc is None:
                self.broken[blob] = f"blob {blob.hex()} is in no index file"
            elif not self.packs.exists(loc.pack):
                self.broken[blob] = f"pack {loc.pack} is missing from the repository"

    def _read_all(self, used: set[bytes], fix: bool) -> None:
        where = self._locate(sorted(used))
        by_pack: dict[str, list[tuple[bytes, Location]]] = {}
        for blob in used:
            loc = where.get(blob)
            if loc is None:
                self.broken[blob] = f"blob {blob.hex()} is in no index file"
            else:
                by_pack.setdefault(loc.pack, []).append((blob, loc))
        self.progress.start(sum(loc.length for loc in where.values()))
        jobs = [(p, sorted(bs, key=lambda b: b[1].frame_offset)) for p, bs in by_pack.items()]
        try:
            with ThreadPoolExecutor(READERS, thread_name_prefix="ripcord-repair") as pool:
                suspect = self.damaged | set(self.packs.bad)
                results = pool.map(lambda j: self._read_pack(j[0], j[1], suspect), jobs)
                for pack, intact, failed in results:
                    self.report.blobs_read += len(by_pack[pack])
                    self.progress.advance(sum(loc.length for _, loc in by_pack[pack]))
                    self.broken.update(failed)
                    if failed or pack in suspect:
                        self._condemn(pack)
                        if fix:
                            self._copy_out(intact)
        finally:
            self.progress.finish()

    def _read_pack(
        self, pack: str, blobs: list[tuple[bytes, Location]], suspect: set[str]
    ) -> tuple[str, list[tuple[bytes, bytes]], dict[bytes, str]]:
        """(pack, [(blob, bytes)] intact, {blob: why} failed), read in a worker thread.
        The bytes are kept only if the pack turns out damaged: they are to be copied out
        (a pack's worth per worker at most)."""
        intact: list[tuple[bytes, bytes]] = []
        failed: dict[bytes, str] = {}
        for blob, loc in blobs:
            try:
                intact.append((blob, self.repo.read_at(blob, loc)))
            except DAMAGE as e:
                failed[blob] = str(e)
        if not failed and pack not in suspect:
            intact = []  # a sound pack: nothing to copy
        return pack, intact, failed

    def _copy_out(self, intact: list[tuple[bytes, bytes]]) -> None:
        for blob, data in intact:
            self.repo.add_blob(self._type(blob), data, blob, again=True)
            self.report.copied += 1

    def _recover(self, blob: bytes) -> None:
        """Another intact copy in this repository, else the replica."""
        if self._read(blob) is not None:
            self.report.elsewhere += 1
        else:
            self._heal(blob, self._type(blob))

    def _heal(self, blob: bytes, blob_type: int) -> bytes | None:
        if self.replica is None:
            return None
        try:
            data = self.replica.read_blob(blob)  # checks the bytes against the id
        except DAMAGE:
            return None
        self.repo.add_blob(blob_type, data, blob, again=True)
        self.broken.pop(blob, None)
        self.healed.add(blob)
        self.report.healed += 1
        return data

    def _type(self, blob: bytes) -> int:
        return TREE if blob in self.trees else DATA

    # -- the outcome -----------------------------------------------------------------------

    def finish(self, fixed: bool) -> None:
        """Store what was healed, condemn the damaged packs, and name what is lost."""
        repo = self.repo
        if fixed:
            repo.flush()
            if self.damaged:
                written, indexes = unlist(repo, self.damaged)
                self.report.index.written += written
                seen = [s.id for s in self.snaps]
                plan = repo.write_plan(sorted(self.damaged), indexes, [], seen)
                self.report.plans.append(plan.id)
                self.report.condemned = sorted(self.damaged)
                self.report.index_condemned = indexes
        else:
            repo.sync_index()  # forget this run's preferences in the local cache
        self.finder = LostFinder(repo, self._doc, set(self.broken))
        if self.broken:
            self.say("naming the files that are lost")
            for snap in self.snaps:
                paths = self.finder.paths(bytes.fromhex(snap.tree))
                if paths:
                    shown = [os.fsdecode(p) for p in paths[:MAX_NAMED]]
                    self.report.broken.append(Broken(snap.id, "files-lost", len(paths), shown))
        trailers_left = bool(self.report.index.trailers) and not fixed
        self.report.whole = not (self.report.broken or trailers_left or self.index_left)

    def _doc(self, tree: bytes) -> Any:
        data = self._read(tree)
        if data is None:
            raise MissingObject(self.broken[tree])
        return self.repo.parse_tree(tree, data)

    def forget_broken(self) -> None:
        """Save each broken snapshot again without what it lost, then forget the originals
        (one mark); protected ones are left as they are."""
        repo, report = self.repo, self.report
        if not report.broken:
            return
        protected = repo.protected()
        by_id = {s.id: s for s in self.snaps}
        listed = repo.snapshots()
        heads = chain_heads(listed)
        # saved again by a run killed before it forgot the originals: not saved twice
        saved = {s.parent: s for s in listed if TAG in s.tags and s.parent}
        forget = []
        for b in report.broken:
            if b.snapshot in protected:
                b.action = "protected"
                continue
            snap = by_id.get(b.snapshot)
            if snap is not None and bytes.fromhex(snap.tree) not in self.finder.lost:
                again = self._without_lost(snap, b, heads)
                done = saved.get(snap.id)
                if done is not None and done.tree == again.tree:
                    b.new = done.id
                else:
                    b.new = repo.save_snapshot(again)
                    heads = [b.new]
            b.action = "repaired" if b.new else "forgotten"
            forget.append(b.snapshot)
        if forget:
            repo.add_mark("forget", forget, reason="repair: broken")
        report.whole = all(b.action != "protected" for b in report.broken)

    def _without_lost(self, snap: Snapshot, b: Broken, heads: list[str]) -> Snapshot:
        root = self.finder.rewrite(bytes.fromhex(snap.tree))
        return replace(
            snap,
            tree=root.hex(),
            tags=snap.tags if TAG in snap.tags else [*snap.tags, TAG],
            chain=heads,
            parent=snap.id,  # its files were taken from the original, not read again
            summary={**snap.summary, "files_lost": b.lost},
            id="",
        )
