"""check: find every inconsistency, and name the snapshots and files it touches.

Structure first: every snapshot, mark and pending record is read and
authenticated, the snapshot chain is checked for gaps no forget explains,
every index file is read and compared with the trailer of the pack it
describes, and every tree of every kept snapshot is walked to see that each
blob it uses is indexed in a pack that exists. With `read_data`, the chosen
packs are downloaded whole, their hash, every frame's authentication and
compression, and every blob's id are checked as well.

Problems are grouped by cause (a pack, a blob, a tree, a snapshot), and each
cause names the files it affects: the per-tree walk remembers, bottom up,
which trees hold damage, and only those are walked again with paths.

On a store that keeps versions (S3 with Object Lock), an object overwritten
or delete-marked at the storage level is an error too, though ripcord still
reads the original: someone with write access to the bucket tried to destroy
history, and the owner must know (and rotate those credentials).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from ripcord.archive.node import Listing, Node
from ripcord.archive.progress import NullProgress, Progress
from ripcord.archive.trees import MAX_DEPTH, listing, part_nodes
from ripcord.errors import CorruptObject, MissingObject, RipcordError
from ripcord.repository import Repository, Snapshot
from ripcord.repository.bounds import read_bounded
from ripcord.repository.crypto import content_id
from ripcord.repository.pack import MAX_PACK_BYTES, Frame, open_frame, read_trailer
from ripcord.repository.packer import pack_name
from ripcord.repository.snapshots import unexplained_gaps
from ripcord.storage.base import Retaining, Revision, Versioned

_V = TypeVar("_V")
MAX_NAMED = 1000  # affected paths kept per problem; the count is always exact


@dataclass
class Problem:
    """One cause of damage, and what it touches."""

    kind: str
    message: str
    error: bool = True  # False: worth knowing, not damage (unreferenced data)
    snapshots: set[str] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)  # "<snapshot id 12>:/path", capped
    affected: int = 0  # files and folders affected, all of them

    def touch(self, snap: str, path: str) -> None:
        self.snapshots.add(snap)
        self.affected += 1
        if len(self.paths) < MAX_NAMED:
            self.paths.append(f"{snap[:12]}:{path}")


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    snapshots: int = 0
    trees: int = 0
    blobs: int = 0  # distinct blobs the kept snapshots use
    packs: int = 0
    index_files: int = 0
    packs_read: int = 0
    read_packs: list[str] = field(default_factory=list)  # ids of the packs read back
    bytes_read: int = 0
    unused_blobs: int = 0
    unused_bytes: int = 0
    damaged_packs: set[str] = field(default_factory=set)  # ids of packs damaged or missing

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.error]


@dataclass
class CheckOptions:
    read_packs: Callable[[list[str]], list[str]] | None = None  # which packs to read whole
    workers: int = 4


def check(
    repo: Repository, options: CheckOptions | None = None, progress: Progress | None = None
) -> tuple[CheckReport, list[str]]:
    """The report, and the packs read back whole and found intact."""
    checker = _Checker(repo, options or CheckOptions(), progress or NullProgress())
    return checker.run(), checker.verified


class _Checker:
    def __init__(self, repo: Repository, options: CheckOptions, progress: Progress) -> None:
        self.repo, self.options, self.progress = repo, options, progress
        self.report = CheckReport()
        self.causes: dict[str, Problem] = {}
        self.bad_blobs: dict[bytes, str] = {}  # blob id -> cause key
        self.sizes: dict[str, int] = {}
        self.verified: list[str] = []  # packs read whole and found intact
        self.unwalked = False  # some tree could not be read: what it uses is unknown
        self.where: dict[bytes, str] = {}  # blob id -> a pack the index files put it in
        self.doomed: set[str] = set()  # packs a pending prune plan condemned
        self.doomed_indexes: set[str] = set()  # and index files (ids)

    def problem(self, key: str, kind: str, message: str, error: bool = True) -> Problem:
        found = self.causes.get(key)
        if found is None:
            found = self.causes[key] = Problem(kind, message, error)
            self.report.problems.append(found)
        return found

    def run(self) -> CheckReport:
        repo = self.repo
        self._tampering()
        self.sizes = repo.pack_sizes()
        self.report.packs = len(self.sizes)
        snaps = self._snapshots()
        self._records()
        plans = repo.plans()  # in force: a replaced plan condemns nothing more
        self.doomed = {p for plan in plans for p in plan.packs}
        self.doomed_indexes = {i for plan in plans for i in plan.indexes}
        indexed = self._index_files()
        self._trailers(indexed)
        self._parity()
        if self.options.read_packs is not None:
            self._read_data(self.options.read_packs(sorted(self.sizes)))
        used = self._walk(snaps)
        if not self.unwalked:
            self._unused(indexed, used)  # else what lies below the damage is unknown
        return self.report

    # -- objects that stand alone ------------------------------------------------------------

    def _tampering(self) -> None:
        """Objects overwritten or delete-marked at the storage level, which a versioned
        store remembers (and reads past). Locks are left out: their holders delete them,
        and deleting one is no attack on history."""
        store = self.repo.store
        if not isinstance(store, Versioned):
            return
        for r in store.revisions():
            if r.name.startswith("locks/"):
                continue
            kind = "overwritten-object" if r.change == "overwritten" else "deleted-object"
            p = self.problem(f"{kind}/{r.name}", kind, _tampered(r, _lock_state(store, r.name)))
            if r.name.startswith("snapshots/"):
                p.snapshots.add(r.name.split("/", 1)[1])

    def _snapshots(self) -> list[Snapshot]:
        repo = self.repo
        forgotten = repo.standing().forgotten
        loaded = []
        for snap_id in repo.snapshot_ids():
            try:
                loaded.append(repo.load_snapshot(snap_id))
            except (CorruptObject, MissingObject) as e:
                if snap_id not in forgotten:
                    p = self.problem(f"snapshots/{snap_id}", "damaged-snapshot", str(e))
                    p.snapshots.add(snap_id)
        forgets = {s for m in repo.marks() if m.kind == "forget" for s in m.snapshots}
        for missing, naming in sorted(unexplained_gaps(loaded, forgets).items()):
            p = self.problem(
                f"chain/{missing}",
                "chain-gap",
                f"snapshot {missing[:12]} is named in the chain of later snapshots but is gone,"
                " and no forget record explains it: deleted outside ripcord, or altered",
            )
            p.snapshots.update(naming)
        kept = [s for s in loaded if s.id not in forgotten]
        self.report.snapshots = len(kept)
        return sorted(kept, key=lambda s: (s.time, s.id))

    def _records(self) -> None:
        """Marks, pending, drill and check records: damaged ones are named by the
        repository's readers."""
        repo = self.repo
        before = len(repo.left_out)
        repo.standing()
        repo.pending()
        repo.drills()
        repo.checks()
        for why in repo.left_out[before:]:
            if "in the future" in why:
                self.problem(why, "future-mark", why, error=False)
            else:
                self.problem(why, "damaged-record", why)

    def _index_files(self) -> dict[str, list[Frame]]:
        """Every pack the readable index files list, with its frames (first listing).

        Index files a pending plan condemned (prune or repair replaced them) are
        not judged: they may name packs already gone. They only help find a blob
        no lasting index file lists, as they help readers until prune runs.
        """
        indexed: dict[str, list[Frame]] = {}
        condemned: dict[str, list[Frame]] = {}
        sizes = {i.name: i.size for i in self.repo.store.list("index")}
        names = sorted(sizes)
        self.report.index_files = len(names)
        for name in names:
            doomed = name.split("/", 1)[1] in self.doomed_indexes
            try:
                listed = self.repo.read_index_file(name, sizes[name])
            except (CorruptObject, MissingObject) as e:
                if not doomed:
                    self.problem(name, "damaged-index", f"{e} (run `ripcord repair index`)")
                continue
            for pack, frames in listed:
                (condemned if doomed else indexed).setdefault(pack, frames)
        # the index files as they are now, not the local cache of what they were; like
        # readers, a location outside condemned packs first
        lasting = sorted(indexed.items(), key=lambda i: i[0] in self.doomed)
        fallback = [(p, f) for p, f in condemned.items() if p in self.sizes]
        for pack, frames in lasting + fallback:
            for f in frames:
                for b in f.blobs:
                    self.where.setdefault(b.id, pack)
        return indexed

    def _trailers(self, indexed: dict[str, list[Frame]]) -> None:
        """Each pack's own trailer against what the index says of it."""
        self.progress.start(None)
        try:
            for pack, size in sorted(self.sizes.items()):
                self.progress.item(f"pack {pack[:12]}")
                try:
                    frames = self.repo.read_pack_frames(pack, size)
                except (CorruptObject, MissingObject) as e:
                    self._pack_damaged(pack, f"trailer unreadable: {e}", indexed)
                    continue
                if pack not in indexed:
                    if pack not in self.doomed:
                        self.problem(
                            pack_name(pack),
                            "unindexed-pack",
                            f"{pack_name(pack)} is in no index file (a backup was killed, or"
                            " one is running now); prune removes it, `repair index` adopts it",
                            error=False,
                        )
                elif _wire(frames) != _wire(indexed[pack]):
                    self._pack_damaged(pack, "its trailer disagrees with the index", indexed)
        finally:
            self.progress.finish()
        for pack in sorted(set(indexed) - set(self.sizes)):
            key = pack_name(pack)
            self.problem(key, "missing-pack", f"{key} is missing from the repository")
            self.report.damaged_packs.add(pack)
            for frame in indexed[pack]:
                for b in frame.blobs:
                    self.bad_blobs.setdefault(b.id, key)

    def _pack_damaged(self, pack: str, why: str, indexed: dict[str, list[Frame]]) -> None:
        key = pack_name(pack)
        blobs = [b.id for frame in indexed.get(pack, []) for b in frame.blobs]
        self._damage(pack, key, "damaged-pack", f"{key}: {why}", blobs)

    def _damage(self, pack: str, key: str, kind: str, message: str, blobs: list[bytes]) -> None:
        """Damage to a pack: an error for the blobs it takes away, or only a note when a
        pending prune condemned the pack and its blobs are stored elsewhere (it was
        healed or repacked, and the prune deletes it)."""
        lost = blobs
        if pack in self.doomed:  # readers take a lasting copy where there is one
            lost = [b for b in blobs if self.where.get(b, pack) in self.doomed]
            if not lost:
                message += "; a pending prune condemned it, its blobs are stored elsewhere"
                self.problem(key, "damaged-condemned-pack", message, error=False)
                return
        self.problem(key, kind, message)
        self.report.damaged_packs.add(pack)
        for b in lost:
            self.bad_blobs.setdefault(b, key)

    def _parity(self) -> None:
        """In a repository with parity, a pack without any can only be healed from a
        replica: worth knowing, not damage."""
        if not self.repo.config.parity:
            return
        covered = {i.name.rsplit("/", 1)[1] for i in self.repo.store.list("parity")}
        bare = sorted(set(self.sizes) - covered - self.doomed)
        if bare:
            self.problem(
                "parity",
                "parity-missing",
                f"{len(bare)} packs have no parity object (e.g. {pack_name(bare[0])}: a"
                " backup killed between writing the two, or the parity was lost); damage to"
                " them can only be healed from a replica",
                error=False,
            )

    # -- reading data back -------------------------------------------------------------------

    def _read_data(self, packs: list[str]) -> None:
        total = sum(self.sizes.get(p, 0) for p in packs)
        self.progress.start(total)
        try:
            with ThreadPoolExecutor(self.options.workers, thread_name_prefix="ripcord-check") as ex:
                for pack, damage in ex.map(self._read_pack, packs):
                    self.report.packs_read += 1
                    self.report.read_packs.append(pack)
                    self.report.bytes_read += self.sizes.get(pack, 0)
                    self.progress.advance(self.sizes.get(pack, 0))
                    self.progress.item(f"pack {pack[:12]}")
                    for key, message, blobs in damage:
                        self._damage(pack, key, "damaged-data", message, blobs)
                    if not damage:
                        self.verified.append(pack)
        finally:
            self.progress.finish()

    def _read_pack(self, pack: str) -> tuple[str, list[tuple[str, str, list[bytes]]]]:
        """(pack, [(cause key, message, blob ids it spoils)]): a whole pack read back."""
        repo, name = self.repo, pack_name(pack)
        try:
            data = read_bounded(repo.store, name, MAX_PACK_BYTES, self.sizes.get(pack))
        except RipcordError as e:
            return pack, [(name, f"{name}: cannot be read ({e})", [])]
        damage: list[tuple[str, str, list[bytes]]] = []
        try:
            frames = read_trailer(repo.key, data, name)
        except CorruptObject as e:
            return pack, [(name, str(e), [])]
        for frame in frames:
            what = f"{name} frame at {frame.offset}"
            try:
                plain = open_frame(repo.key, data[frame.offset : frame.offset + frame.length], what)
            except CorruptObject as e:
                damage.append((name, str(e), [b.id for b in frame.blobs]))
                continue
            for b in frame.blobs:
                blob = plain[b.offset : b.offset + b.length]
                if len(blob) != b.length or repo.blob_id(blob) != b.id:
                    damage.append(
                        (
                            f"{name}:{b.id.hex()}",
                            f"{what}: blob {b.id.hex()} does not match its id",
                            [b.id],
                        )
                    )
        if not damage and content_id(data) != pack:  # every frame fine: the damage is
            damage.append((name, f"{name}: content does not match its name", []))  # between
        return pack, damage

    # -- walking the snapshots -----------------------------------------------------------------

    def _walk(self, snaps: list[Snapshot]) -> set[bytes]:
        """Every tree of every kept snapshot, once; then, with paths, only the trees
        with damage below them, to name the files it touches."""
        repo = self.repo
        children: dict[bytes, list[tuple[bytes, bytes]]] = {}  # tree -> [(name, subtree)]
        direct: dict[bytes, list[tuple[bytes | None, str]]] = {}  # tree -> [(name, cause key)]
        broken: dict[bytes, str] = {}  # tree -> cause key, when it cannot be read
        filled: set[bytes] = set()  # trees with at least one entry
        used: set[bytes] = set()
        stack = [bytes.fromhex(s.tree) for s in snaps]
        self.progress.start(None)
        try:
            while stack:
                tree = stack.pop()
                if tree in children or tree in broken:
                    continue
                used.add(tree)
                cause = self._blob_cause(tree, self.where.get(tree))
                if cause is None:
                    try:
                        found = listing(repo, tree)
                    except (CorruptObject, MissingObject) as e:
                        cause = f"tree/{tree.hex()}"
                        self.problem(cause, "damaged-tree", f"tree {tree.hex()}: {e}")
                if cause is not None:
                    broken[tree] = cause
                    continue
                self.report.trees += 1
                if self.report.trees % 200 == 0:
                    self.progress.item(f"{self.report.trees} folders")
                children[tree], direct[tree] = self._folder(tree, found, used)
                if found.nodes or found.parts:
                    filled.add(tree)
                stack.extend(sub for _, sub in children[tree])
        finally:
            self.progress.finish()
        self.report.blobs = len(used)
        self.unwalked = self.unwalked or bool(broken)
        damaged = _bottom_up(
            children,
            lambda t, below: bool(direct.get(t)) or any(below)
            or any(s in broken for _, s in children[t]),
        )  # fmt: skip
        heights = _bottom_up(
            children, lambda t, below: max([1 + h for h in below] or [int(t in filled)])
        )
        for snap in snaps:
            root = bytes.fromhex(snap.tree)
            if heights.get(root, 0) > MAX_DEPTH:
                self.problem(
                    f"deep/{snap.id}",
                    "too-deep",
                    f"snapshot {snap.id[:12]} nests folders deeper than {MAX_DEPTH} levels:"
                    " restore, ls and find refuse what lies below",
                ).touch(snap.id, "/")
            if root in broken:
                self.causes[broken[root]].touch(snap.id, "/")
            elif damaged.get(root):
                self._name(snap.id, root, b"", children, direct, broken, damaged)
        return used

    def _folder(
        self, tree: bytes, found: Listing, used: set[bytes]
    ) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes | None, str]]]:
        """([(name, subtree)], [(name, cause)]) of a folder's entries. A split folder's
        parts are blobs it uses, read one at a time; one that cannot be read (or lies about
        its entries) is damage to the folder itself (name None), and what it held is unknown.
        Parts are not a folder level: their entries are the folder's."""
        kids: list[tuple[bytes, bytes]] = []
        hits: list[tuple[bytes | None, str]] = []

        def take(nodes: list[Node]) -> None:
            kids.extend((n.name, n.subtree) for n in nodes if n.subtree is not None)
            hits.extend(self._content(nodes, used))

        take(found.nodes)
        for i, part in enumerate(found.parts):
            used.add(part.id)
            cause = self._blob_cause(part.id, self.where.get(part.id))
            if cause is None:
                try:
                    take(part_nodes(self.repo, tree, found.parts, i))
                    continue
                except (CorruptObject, MissingObject) as e:
                    cause = f"tree/{part.id.hex()}"
                    self.problem(cause, "damaged-tree", str(e))
            hits.append((None, cause))
            self.unwalked = True  # what the part uses is unknown
        return kids, hits

    def _content(self, nodes: list[Node], used: set[bytes]) -> list[tuple[bytes | None, str]]:
        """(name, cause) for each file of a folder that uses a blob not safely stored."""
        out: list[tuple[bytes | None, str]] = []
        for n in nodes:
            used.update(n.content)
            for b in n.content:
                cause = self._blob_cause(b, self.where.get(b))
                if cause is not None:
                    out.append((n.name, cause))
                    break
        return out

    def _blob_cause(self, blob: bytes, pack: str | None) -> str | None:
        if blob in self.bad_blobs:
            return self.bad_blobs[blob]
        if pack is None:
            key = f"blob/{blob.hex()}"
            self.problem(key, "unindexed-blob", f"blob {blob.hex()} is in no index file")
            self.bad_blobs[blob] = key
            return key
        if pack not in self.sizes:
            key = pack_name(pack)
            self.problem(key, "missing-pack", f"{key} is missing from the repository")
            self.bad_blobs[blob] = key
            return key
        return None

    def _name(
        self,
        snap: str,
        tree: bytes,
        path: bytes,
        children: dict[bytes, list[tuple[bytes, bytes]]],
        direct: dict[bytes, list[tuple[bytes | None, str]]],
        broken: dict[bytes, str],
        damaged: dict[bytes, bool],
    ) -> None:
        stack = [(tree, path)]
        while stack:
            t, p = stack.pop()
            for name, cause in direct.get(t, []):
                where = (p or b"/") if name is None else p + b"/" + name  # None: the folder
                self.causes[cause].touch(snap, os.fsdecode(where))
            for name, sub in children.get(t, []):
                if sub in broken:
                    self.causes[broken[sub]].touch(snap, os.fsdecode(p + b"/" + name))
                elif damaged.get(sub):
                    stack.append((sub, p + b"/" + name))

    def _unused(self, indexed: dict[str, list[Frame]], used: set[bytes]) -> None:
        unused = {b.id: b.length for frames in indexed.values() for f in frames for b in f.blobs}
        for b in used:
            unused.pop(b, None)
        self.report.unused_blobs = len(unused)
        self.report.unused_bytes = sum(unused.values())
        if unused:
            self.problem(
                "unused",
                "unused-data",
                f"{len(unused)} blobs ({self.report.unused_bytes} bytes before compression)"
                " are used by no snapshot; prune removes them",
                error=False,
            )


def _tampered(r: Revision, lock: str) -> str:
    when = f"{r.when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if r.change == "overwritten":
        times = "once" if r.count == 1 else f"{r.count} times"
        return (
            f"{r.name} was overwritten at the storage level on {when} ({times});"
            f" ripcord reads the original version, {lock}"
        )
    return (
        f"{r.name} was deleted at the storage level on {when} (a delete marker);"
        f" ripcord still reads the original version, {lock}"
    )


def _lock_state(store: object, name: str) -> str:
    """How long the original stays safe: what the owner must know next."""
    try:
        until = store.retained_until(name) if isinstance(store, Retaining) else None
    except RipcordError as e:
        return f"whose lock could not be read ({e})"
    if until is None:
        return "which is not locked"
    if until <= datetime.now(UTC):
        return f"whose lock ran out on {until:%Y-%m-%d %H:%M} UTC: it can be deleted now"
    return f"locked until {until:%Y-%m-%d %H:%M} UTC"


def _wire(frames: Iterable[Frame]) -> list[tuple[int, int, tuple[object, ...]]]:
    return [(f.offset, f.length, f.blobs) for f in frames]


def _bottom_up(
    children: dict[bytes, list[tuple[bytes, bytes]]],
    value: Callable[[bytes, list[_V]], _V],
) -> dict[bytes, _V]:
    """For each readable tree, `value(tree, the values of its readable subtrees)`, each
    subtree's taken first (post-order from a stack, no recursion: trees can be deep)."""
    out: dict[bytes, _V] = {}
    for root in children:
        stack = [(root, False)]
        while stack:
            tree, expanded = stack.pop()
            if tree in out:
                continue
            subs = [s for _, s in children[tree] if s in children]
            if not expanded:
                stack.append((tree, True))
                stack.extend((s, False) for s in subs if s not in out)
                continue
            out[tree] = value(tree, [out[s] for s in subs])
    return out
