"""Files -> trees: walk the sources, chunk what changed, save a snapshot.

Files unchanged since the parent snapshot (same size, mtime, ctime, inode)
are not read again: their stored node is reused as it is, and a directory
whose nodes all match is not even re-encoded, so a no-change backup costs
one lstat per entry. Directory listings and small files are read by thread
pools ahead of the walk (syscalls release the GIL); large files stream on
the walking thread while packing runs in the repository's pools. Errors on
single files are collected, not fatal: the snapshot is saved and the caller
exits 3 (docs/CLI.md).
"""

from __future__ import annotations

import getpass
import os
import socket
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Protocol

import blake3
from pyfastcdc import FastCDC

from ripcord.archive.excludes import Excluder, is_cache_dir
from ripcord.archive.holes import Window, data_ranges, zero_chunks
from ripcord.archive.meta import node_from_stat, read_xattrs
from ripcord.archive.node import (
    DIR,
    FILE,
    SOCKET,
    SPLIT_VERSION,
    SYMLINK,
    Node,
    Signal,
    parts_from_wire,
    tree_doc,
)
from ripcord.archive.parts import PartedEntries, TreeWriter
from ripcord.archive.progress import NullProgress, Progress
from ripcord.archive.scan import STAT_BATCH, Entry, Scanner
from ripcord.archive.signals import Sampler, signal_of
from ripcord.archive.trees import MAX_DEPTH, depth
from ripcord.errors import RipcordError
from ripcord.repository import DATA, Repository, Snapshot, chain_heads
from ripcord.repository.repository import TreeTooLarge

_EMPTY = blake3.blake3(b"").digest()
READ_ATTEMPTS = 2  # a file that changes while read is read once more
SCAN_WORKERS = 8
SCAN_AHEAD = 512  # directory listings read ahead of the walk
READ_WORKERS = 4
READ_GROUP = 32  # small files read by one worker in one go
READ_AHEAD = 4  # groups read ahead of the walk, per directory
WINDOW = STAT_BATCH  # a directory's entries held at once (a batch of stats)
HOLE_CHUNKS = 4  # a hole of at least this many largest chunks is not read (archive/holes.py)

Wire = dict[str, Any]


class Entries(Protocol):
    """A parent snapshot's folder by name: a dict, or a split tree read part by part."""

    def get(self, name: bytes, /) -> Wire | None: ...


@dataclass
class BackupOptions:
    paths: list[str]
    tags: list[str] = field(default_factory=list)
    host: str = field(default_factory=socket.gethostname)
    time: datetime | None = None
    excludes: list[str] = field(default_factory=list)
    exclude_caches: bool = False
    one_file_system: bool = False


@dataclass
class BackupReport:
    snapshot_id: str = ""
    parent: str | None = None
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    dirs: int = 0
    others: int = 0
    total_files: int = 0
    total_bytes: int = 0
    bytes_read: int = 0
    data_blobs_added: int = 0
    data_added: int = 0
    stored_added: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    changed_while_read: list[str] = field(default_factory=list)

    @property
    def incomplete(self) -> bool:
        return bool(self.errors or self.changed_while_read)

    def summary(self) -> dict[str, int]:
        keys = (
            "files_new", "files_changed", "files_unchanged", "dirs", "others", "total_files",
            "total_bytes", "bytes_read", "data_blobs_added", "data_added", "stored_added",
        )  # fmt: skip
        d = {k: int(getattr(self, k)) for k in keys}
        d["errors"] = len(self.errors)
        d["changed_while_read"] = len(self.changed_while_read)
        return d


def normalize_sources(paths: list[str]) -> list[bytes]:
    """Absolute, normalised, without paths already inside another source."""
    out: list[bytes] = []
    for p in sorted({os.path.normpath(os.path.abspath(os.fsencode(p))) for p in paths}):
        if not any(p == o or p.startswith(o.rstrip(b"/") + b"/") for o in out):
            out.append(p)
    return out


@dataclass
class _Read:
    """One consistent read of a file: its chunks' ids, hash, signal, and the stat after."""

    content: list[bytes]
    digest: bytes
    size: int
    sig: Signal | None
    st: os.stat_result
    changed: bool
    xattrs: dict[bytes, bytes]
    blobs: list[tuple[bytes, bytes]] = field(default_factory=list)  # (id, data) from workers


_TOO_DEEP = (
    f"folders nested deeper than {MAX_DEPTH} levels: restore refuses them,"
    " so what is inside is not backed up"
)


@dataclass
class _Way:
    """A folder on the way from / to the sources, its entries handed out one by one."""

    path: bytes
    items: list[tuple[bytes, Any]]  # (name, the layout below it: None for a source)
    prev: Entries  # the parent snapshot's entries here, by name
    node: Node | None = None  # None for the root
    next: int = 0
    wires: list[Wire] = field(default_factory=list)


@dataclass(frozen=True)
class _Descend:
    """From a directory's entries: walk this subdirectory next."""

    entry: Entry
    prev: Wire | None


@dataclass
class _Open:
    """A directory being backed up: the wire nodes of its entries as they come."""

    node: Node
    prev_sub: bytes | None  # the parent snapshot's tree id for it
    prev_list: list[Any]  # that tree's wire nodes ([] when it was split)
    outer_dev: int  # the source's device above it, set back when it is done
    items: Iterator[Wire | _Descend]
    tree: TreeWriter
    path: bytes = b""


def _lost(count: int, e: TreeTooLarge) -> RipcordError:
    return RipcordError(f"{count} entries left out: {e}")


def _wires(doc: dict[Any, Any]) -> list[Wire]:
    """A version-1 tree document's wire nodes that have a name ([] if it has none)."""
    nodes = doc.get("nodes") if doc.get("v") != SPLIT_VERSION else None
    if not isinstance(nodes, list):
        return []
    return [n for n in nodes if isinstance(n, dict) and isinstance(n.get("name"), bytes)]


def _unchanged(prev: Wire | None, st: os.stat_result) -> bool:
    return (
        prev is not None
        and prev.get("type") == FILE
        and prev.get("size") == st.st_size
        and prev.get("mtime") == st.st_mtime_ns
        and prev.get("ctime") == st.st_ctime_ns
        and prev.get("inode") == st.st_ino
        and not prev.get("changed")
    )


def _same_version(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (b.st_size, b.st_mtime_ns, b.st_ctime_ns)


class Judge(Protocol):
    """Looks at a snapshot before and after it is written (the change guard)."""

    def before_save(
        self, repo: Repository, snap: Snapshot, parent: Snapshot | None, history: list[Snapshot]
    ) -> None:
        """May add tags and summary entries; `history` is the source's snapshots, oldest
        first, the parent last."""

    def after_save(self, repo: Repository, snap: Snapshot) -> None: ...


class Backup:
    def __init__(
        self,
        repo: Repository,
        options: BackupOptions,
        progress: Progress | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.repo, self.options, self.judge = repo, options, judge
        self.progress = progress or NullProgress()
        self.report = BackupReport()
        self.excluder = Excluder(options.excludes)
        self.min_size = repo.config.chunker.min_size
        self._local = threading.local()
        self._root_dev = 0
        self._has_parent = False  # set by _run: with no parent, no file is looked at for a note
        # every PATH given, nested ones too: with -x, a mount named like `/home` is entered
        self._named = {os.path.normpath(os.path.abspath(os.fsencode(p))) for p in options.paths}
        self._zero = bytes(repo.config.chunker.max_size)  # a hole's chunk, hashed once
        self._zero_digest = blake3.blake3(self._zero).digest()
        self._scan = Scanner(SCAN_WORKERS, SCAN_AHEAD)
        self._read = ThreadPoolExecutor(READ_WORKERS, thread_name_prefix="ripcord-read")

    def run(self) -> BackupReport:
        sources = normalize_sources(self.options.paths)
        if not sources:
            raise RipcordError("nothing to back up: no paths given")
        try:
            with self.repo.lock():
                self._run(sources)
        finally:
            self._scan.close()
            self._read.shutdown(cancel_futures=True)
        return self.report

    def _run(self, sources: list[bytes]) -> None:
        existing = self.repo.snapshots()
        history = self._history(existing, sources)
        parent = history[-1] if history else None
        self.report.parent = parent.id if parent else None
        self._has_parent = parent is not None
        stored_before = self.repo.stored_bytes
        self.progress.start(None)
        root_prev = bytes.fromhex(parent.tree) if parent else None
        if sources == [b"/"]:
            root = self._whole_root(root_prev)
        else:
            root_children = self._intermediate(self._layout(self._shallow(sources)), root_prev)
            if not root_children:
                raise RipcordError(
                    "nothing was backed up: no source path could be read ("
                    + "; ".join(f"{p}: {e}" for p, e in self.report.errors)
                    + ")"
                )
            root = self.repo.save_tree(tree_doc(root_children))
        self.repo.flush()
        self.report.stored_added = self.repo.stored_bytes - stored_before
        snap = Snapshot(
            time=self.options.time or datetime.now(UTC),
            host=self.options.host,
            user=getpass.getuser(),
            paths=[os.fsdecode(s) for s in sources],
            tree=root.hex(),
            tags=list(self.options.tags),
            chain=chain_heads(existing),
            parent=self.report.parent,
            excludes=list(self.excluder.patterns),
            summary=self.report.summary(),
        )
        if self.judge is not None:
            self.judge.before_save(self.repo, snap, parent, history)
        self.report.snapshot_id = self.repo.save_snapshot(snap)
        if self.judge is not None:
            self.judge.after_save(self.repo, snap)
        self.progress.finish()

    def _history(self, existing: list[Snapshot], sources: list[bytes]) -> list[Snapshot]:
        """Earlier snapshots of the same host and paths, oldest first: the last is the parent."""
        paths = sorted(os.fsdecode(s) for s in sources)
        return [s for s in existing if s.host == self.options.host and sorted(s.paths) == paths]

    # -- the parent snapshot -------------------------------------------------------------

    def _prev_tree(self, tree_id: bytes | None) -> tuple[list[Any], Entries]:
        """A parent tree's wire nodes, as stored and by name; empty if unusable. A split
        tree gives no list, and its entries are looked up a part at a time.

        Reused nodes go back into new trees unchanged, so they need no more
        checking than their shape: restore validates every tree it reads.
        """
        doc = self._prev_doc(tree_id)
        if doc.get("v") == SPLIT_VERSION:
            try:
                parts = parts_from_wire(doc.get("parts"))
            except (RipcordError, ValueError):
                return [], {}
            return [], PartedEntries(parts, lambda part: _wires(self._prev_doc(part)))
        nodes = _wires(doc)
        return nodes, {n["name"]: n for n in nodes}

    def _prev_doc(self, tree_id: bytes | None) -> dict[Any, Any]:
        if tree_id is None:
            return {}
        try:
            doc = self.repo.load_tree(tree_id)
        except RipcordError:
            return {}  # a damaged parent only costs re-reading
        return doc if isinstance(doc, dict) else {}

    # -- the tree above the sources ------------------------------------------------------

    def _shallow(self, sources: list[bytes]) -> list[bytes]:
        """The sources restore can hold: one nested past MAX_DEPTH is an error."""
        for s in sources:
            if depth(s) > MAX_DEPTH:
                self._error(
                    s, RipcordError(f"nested deeper than {MAX_DEPTH} levels: restore refuses it")
                )
        return [s for s in sources if depth(s) <= MAX_DEPTH]

    @staticmethod
    def _layout(sources: list[bytes]) -> dict[bytes, Any]:
        """Nested dict of path components; None marks a source to back up whole."""
        layout: dict[bytes, Any] = {}
        for s in sources:
            parts = [c for c in s.split(b"/") if c]
            d = layout
            for part in parts[:-1]:
                d = d.setdefault(part, {})
            if parts:
                d[parts[-1]] = None
        return layout

    def _whole_root(self, prev_tree: bytes | None) -> bytes:
        """Backing up '/' itself: its entries are the snapshot's top level."""
        st = os.lstat(b"/")
        self._root_dev = st.st_dev
        prev = {"type": DIR, "subtree": prev_tree} if prev_tree else None
        subtree = self._dir(Entry(b"/", b"/", st, None), prev)["subtree"]
        assert isinstance(subtree, bytes)
        return subtree

    def _intermediate(self, layout: dict[bytes, Any], prev_tree: bytes | None) -> list[Wire]:
        """The root's entries: the folders on the way to the sources, each holding only
        what leads to one, and the sources themselves (a loop, not recursion: a source
        may lie a thousand folders deep)."""
        stack = [_Way(b"", sorted(layout.items()), self._prev_tree(prev_tree)[1])]
        while True:
            top = stack[-1]
            if top.next == len(top.items):
                stack.pop()
                if not stack:
                    return top.wires
                if top.wires and top.node is not None:  # else no source below could be read
                    top.node.subtree = self.repo.save_tree(tree_doc(top.wires))
                    stack[-1].wires.append(top.node.to_wire())
                continue
            name, sub = top.items[top.next]
            top.next += 1
            child_path = top.path + b"/" + name
            try:
                st = os.lstat(child_path)
                if sub is not None and stat.S_ISLNK(st.st_mode):
                    st = os.stat(child_path)  # a symlinked dir on the way to a source
            except OSError as err:
                self._error(child_path, err)
                continue
            p = top.prev.get(name)
            if sub is None:
                self._root_dev = st.st_dev
                wire = self._entry(Entry(name, child_path, st, None), p, None)
                if wire is not None:
                    top.wires.append(wire)
            elif not stat.S_ISDIR(st.st_mode):
                self._error(child_path, NotADirectoryError("not a directory"))
            else:
                node = node_from_stat(name, st)
                node.xattrs = self._xattrs_path(child_path)
                sub_prev = p.get("subtree") if p else None
                prev = self._prev_tree(sub_prev if isinstance(sub_prev, bytes) else None)[1]
                stack.append(_Way(child_path, sorted(sub.items()), prev, node))

    # -- walking a source ----------------------------------------------------------------

    def _entry(self, e: Entry, prev: Wire | None, read: _Read | OSError | None) -> Wire | None:
        assert e.st is not None
        mode = e.st.st_mode
        if stat.S_ISREG(mode):
            return self._file(e, prev, read)
        if stat.S_ISDIR(mode):
            return self._dir(e, prev)
        node = node_from_stat(e.name, e.st)
        if node.type == SOCKET:
            return None  # sockets cannot be restored meaningfully
        self.report.others += 1
        if node.type == SYMLINK:
            try:
                node.target = os.readlink(e.path)
            except OSError as err:
                self._error(e.path, err)
                return None
        else:
            node.xattrs = self._xattrs_path(e.path)
        return node.to_wire()

    def _dir(self, e: Entry, prev: Wire | None) -> Wire:
        """A directory and everything below it, from a stack of the directories open on
        the way down rather than by recursion (a source may be a thousand deep)."""
        stack = [self._open(e, prev)]
        while True:
            top = stack[-1]
            item = next(top.items, None)
            if isinstance(item, _Descend):
                stack.append(self._open(item.entry, item.prev))
            elif item is not None:
                top.tree.append(item)
            else:
                stack.pop()
                wire = self._close(top)
                if not stack:
                    return wire
                stack[-1].tree.append(wire)

    def _open(self, e: Entry, prev: Wire | None) -> _Open:
        """Start on a directory: its node, its parent version, and its entries to come."""
        assert e.st is not None
        self.report.dirs += 1
        node = node_from_stat(e.name, e.st)
        same_ctime = (
            prev is not None and prev.get("type") == DIR and prev.get("ctime") == e.st.st_ctime_ns
        )
        xattrs = prev.get("xattrs", {}) if prev is not None and same_ctime else None
        # an xattr or ACL change moves the ctime: otherwise the stored ones still hold
        node.xattrs = xattrs if isinstance(xattrs, dict) else self._xattrs_path(e.path)
        wire_sub = prev.get("subtree") if prev and prev.get("type") == DIR else None
        prev_sub = wire_sub if isinstance(wire_sub, bytes) else None
        prev_list, prev_children = self._prev_tree(prev_sub)
        outer_dev = self._root_dev
        if e.path in self._named:
            self._root_dev = e.st.st_dev
        entries: Iterator[Entry] = iter(())
        if self.options.one_file_system and e.st.st_dev != self._root_dev:
            pass  # a mount point: kept, but not entered
        else:
            result = self._scan.listing(e.path)
            if isinstance(result, OSError):
                self._error(e.path, result)
            else:
                entries = self._selected(e.path, result)
        if depth(e.path) >= MAX_DEPTH:
            kept = list(entries)
            if kept:
                self._error(e.path, RipcordError(_TOO_DEEP))
            for x in kept:
                self._scan.discard(x.path)  # read ahead, never entered
            entries = iter(())
        items = self._windows(entries, prev_children)
        tree = TreeWriter(self.repo.save_tree, lambda n, err: self._error(e.path, _lost(n, err)))
        return _Open(node, prev_sub, prev_list, outer_dev, items, tree, path=e.path)

    def _close(self, d: _Open) -> Wire:
        """Every entry is in: save the directory's tree, unless it is the parent's."""
        self._root_dev = d.outer_dev
        node = d.node
        if not d.tree.parts and d.tree.wires == d.prev_list and d.prev_list:
            node.subtree = d.prev_sub  # nothing below changed: the same tree blob
        else:
            node.subtree = d.tree.close()
        return node.to_wire()

    def _selected(self, path: bytes, entries: Iterable[Entry]) -> Iterator[Entry]:
        cache_dir = self.options.exclude_caches and is_cache_dir(path)
        for e in entries:
            if e.error is not None and not cache_dir:
                self._error(e.path, e.error)
            elif e.st is not None and self._keep(e, e.st, cache_dir):
                yield e
            elif e.st is not None and stat.S_ISDIR(e.st.st_mode):
                self._scan.discard(e.path)  # read ahead, never entered

    def _keep(self, e: Entry, st: os.stat_result, cache_dir: bool) -> bool:
        if cache_dir:
            return e.name == b"CACHEDIR.TAG"
        # a PATH named on the command line, and the way to it, are kept whatever the patterns
        return not self.excluder.excluded(e.path, stat.S_ISDIR(st.st_mode)) or any(
            n == e.path or n.startswith(e.path + b"/") for n in self._named
        )

    def _windows(self, entries: Iterator[Entry], prev: Entries) -> Iterator[Wire | _Descend]:
        """_children of a directory's entries a window at a time: a big directory's
        entries are stat'ed as they are taken (scan.Names), and only a window of them
        is held, with its small reads and their results."""
        while window := list(islice(entries, WINDOW)):
            yield from self._children(window, prev)

    def _children(self, entries: list[Entry], prev: Entries) -> Iterator[Wire | _Descend]:
        """Each entry's wire node, or for a directory the request to walk it, with
        listings and small reads running ahead."""
        for e in entries:
            assert e.st is not None
            if stat.S_ISDIR(e.st.st_mode):
                self._scan.prefetch(e.path)
        to_read = [
            e for e in entries
            if e.st is not None and stat.S_ISREG(e.st.st_mode) and 0 < e.st.st_size < self.min_size
            and not _unchanged(prev.get(e.name), e.st)
        ]  # fmt: skip
        # small files are read in groups: each hand-off between threads is a GIL round
        # trip, and a group's blobs are looked up in the index with one query
        groups = [to_read[i : i + READ_GROUP] for i in range(0, len(to_read), READ_GROUP)]
        del to_read
        group_of = {e.name: i for i, g in enumerate(groups) for e in g}
        pending: dict[int, Future[list[_Read | OSError]]] = {}
        done: dict[bytes, _Read | OSError] = {}
        submitted = 0
        # each entry (~0.7 KiB with its stat) is let go once its wire node is made, so a
        # directory of a million is not held whole beside the wire nodes of its entries
        todo = deque(entries)
        entries.clear()
        while todo:
            e = todo.popleft()
            while submitted < len(groups) and len(pending) < READ_AHEAD:
                paths = [(g.path, self._notes(prev.get(g.name))) for g in groups[submitted]]
                pending[submitted] = self._read.submit(self._read_group, paths)
                submitted += 1
            i = group_of.get(e.name)
            if i is not None and i in pending:
                results = pending.pop(i).result()
                done.update((g.name, r) for g, r in zip(groups[i], results, strict=True))
                groups[i] = []
                self.repo.prime([b for r in results if isinstance(r, _Read) for b, _ in r.blobs])
            if e.st is not None and stat.S_ISDIR(e.st.st_mode):
                yield _Descend(e, prev.get(e.name))
                continue
            wire = self._entry(e, prev.get(e.name), done.pop(e.name, None))
            if wire is not None:
                yield wire

    # -- files ---------------------------------------------------------------------------

    def _file(self, e: Entry, prev: Wire | None, read: _Read | OSError | None) -> Wire | None:
        st, r = e.st, self.report
        assert st is not None
        self.progress.item(os.fsdecode(e.path))
        if prev is not None and _unchanged(prev, st):
            r.files_unchanged += 1
            r.total_files += 1
            r.total_bytes += st.st_size
            self.progress.advance(st.st_size)
            if (prev.get("atime"), prev.get("dev"), prev.get("nlink")) == (
                st.st_atime_ns, st.st_dev, st.st_nlink,
            ):  # fmt: skip
                return prev
            return {**prev, "atime": st.st_atime_ns, "dev": st.st_dev, "nlink": st.st_nlink}
        try:
            if isinstance(read, OSError):
                raise read
            if read is not None:
                done = read
            elif st.st_size == 0:  # nothing to read: no open, read and fstat each
                done = _Read([], _EMPTY, 0, None, st, False, read_xattrs(e.path))
            else:
                done = self._read_large(e.path, self._notes(prev))
        except OSError as err:
            self._error(e.path, err)
            return None
        for blob_id, data in done.blobs:
            self._add(data, blob_id)
        node = node_from_stat(e.name, done.st)
        node.size, node.content, node.hash = done.size, done.content, done.digest
        node.changed, node.xattrs, node.sig = done.changed, done.xattrs, done.sig
        if done.changed:
            r.changed_while_read.append(os.fsdecode(e.path))
        if prev is None:
            r.files_new += 1
        else:
            r.files_changed += 1
        r.total_files += 1
        r.total_bytes += node.size
        wire = node.to_wire()
        if len(node.content) == 1:
            del wire["content"]  # implied by the hash (docs/FORMAT.md §Trees)
        return wire

    def _notes(self, prev: Wire | None) -> bool:
        """Whether to look for a ransom note in a file: only one new to a source that has
        a parent can be one (the guard looks at the notes among the files it added)."""
        return self._has_parent and (prev is None or prev.get("type") != FILE)

    def _read_group(self, paths: list[tuple[bytes, bool]]) -> list[_Read | OSError]:
        _read_ahead([path for path, _ in paths])
        out: list[_Read | OSError] = []
        for path, notes in paths:
            try:
                out.append(self._read_small(path, notes))
            except OSError as e:
                out.append(e)
        return out

    def _read_small(self, path: bytes, notes: bool) -> _Read:
        """Read a small file whole in a worker; blobs are added later, in order."""
        blobs: list[tuple[bytes, bytes]] = []

        def keep(data: bytes, blob_id: bytes) -> bytes:
            blobs.append((blob_id, data))
            return blob_id

        done = self._read_path(path, keep, blobs.clear, notes)
        done.blobs = blobs
        return done

    def _read_large(self, path: bytes, notes: bool) -> _Read:
        return self._read_path(path, self._add, lambda: None, notes)

    def _read_path(
        self,
        path: bytes,
        put: Callable[[bytes, bytes], bytes],
        reset: Callable[[], None],
        notes: bool,
    ) -> _Read:
        fd = _open_noatime(path)
        try:
            with os.fdopen(fd, "rb", buffering=0, closefd=False) as f:
                for _attempt in range(READ_ATTEMPTS):
                    reset()
                    before = os.fstat(fd)
                    f.seek(0)
                    content, digest, n, sig = self._hash_chunks(f, before.st_size, put, notes)
                    after = os.fstat(fd)
                    if _same_version(before, after) and n == after.st_size:
                        changed = False
                        break
                else:
                    changed = True
                xattrs = read_xattrs(fd)
        finally:
            os.close(fd)
        return _Read(content, digest, n, sig, after, changed, xattrs)

    def _hash_chunks(
        self, f: Any, size_hint: int, put: Callable[[bytes, bytes], bytes], notes: bool
    ) -> tuple[list[bytes], bytes, int, Signal | None]:
        """Chunk ids, whole-file BLAKE3, length and the guard's signal, all taken as the
        chunks pass (ripcord.archive.signals); a one-chunk file is hashed once, and its
        signal taken from the chunk whole. `notes`: look for a ransom note too."""
        content: list[bytes] = []
        whole: Any = None
        sampler: Sampler | None = None
        first = b""
        n = 0
        digest = blake3.blake3(b"").digest()
        for data in self._cut(f, size_hint):
            digest = self._zero_digest if data is self._zero else blake3.blake3(data).digest()
            content.append(put(data, self.repo.id_from_digest(digest)))
            if n == 0:
                first = data
            else:
                if whole is None or sampler is None:
                    whole = blake3.blake3(first)
                    sampler = Sampler(size_hint, notes)
                    sampler.feed(first)
                whole.update(data)
                sampler.feed(data)
            n += len(data)
        if whole is None or sampler is None:
            return content, digest, n, signal_of(first, notes)
        return content, whole.digest(), n, sampler.signal()

    def _cut(self, f: Any, size_hint: int) -> Iterator[bytes]:
        if size_hint < self.min_size:
            data = f.read()  # small: one chunk, unless it grew since the stat
            if len(data) < self.min_size:
                if data:
                    yield data
                return
            yield from (bytes(c.data) for c in self._chunker().cut_buf(data))
            return
        ranges = data_ranges(f.fileno(), size_hint, HOLE_CHUNKS * len(self._zero))
        if ranges is None:  # not sparse (or not much): every byte read and cut
            yield from self._stream(f)
            return
        pos = 0
        for start, end in ranges:  # the holes between as chunks of zeros, never read
            yield from zero_chunks(start - pos, self._zero)
            f.seek(start)
            yield from self._stream(Window(f, end - start))
            pos = end
        yield from zero_chunks(size_hint - pos, self._zero)
        f.seek(size_hint)
        yield from self._stream(f)  # what was added since the stat, as without holes

    def _stream(self, f: Any) -> Iterator[bytes]:
        return (bytes(c.data) for c in self._chunker().cut_stream(f))

    def _chunker(self) -> FastCDC:
        """FastCDC objects are not thread-safe: one per thread."""
        chunker: FastCDC | None = getattr(self._local, "chunker", None)
        if chunker is None:
            c = self.repo.config.chunker
            chunker = FastCDC(
                c.avg_size,
                min_size=c.min_size,
                max_size=c.max_size,
                seed=self.repo.secrets.chunker_seed,
            )
            self._local.chunker = chunker
        return chunker

    def _add(self, data: bytes, blob_id: bytes) -> bytes:
        blob_id, new = self.repo.add_blob(DATA, data, blob_id)
        self.report.bytes_read += len(data)
        if new:
            self.report.data_blobs_added += 1
            self.report.data_added += len(data)
        self.progress.advance(len(data))
        return blob_id

    def _xattrs_path(self, path: bytes) -> dict[bytes, bytes]:
        try:
            return read_xattrs(path)
        except OSError as e:
            self._error(path, e)
            return {}

    def _error(self, path: bytes, e: BaseException) -> None:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        self.report.errors.append((os.fsdecode(path), reason))


def _read_ahead(paths: list[bytes]) -> None:
    """Start the kernel reading a group of small files at once: on a cold cache,
    one deep queue of reads instead of one synchronous read after another."""
    for path in paths:
        try:
            fd = _open_noatime(path)
        except OSError:
            continue  # reported when the file is read
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


def _open_noatime(path: bytes) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags | os.O_NOATIME)
    except PermissionError:
        return os.open(path, flags)  # O_NOATIME needs ownership
