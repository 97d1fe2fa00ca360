"""Files -> trees: walk the sources, chunk what changed, save a snapshot.

Files unchanged since the parent snapshot (same size, mtime, ctime, inode)
are not read again: their content list is reused, so a no-change backup
reads metadata only. Errors on single files are collected, not fatal: the
snapshot is saved and the caller exits 3 (docs/CLI.md).
"""

from __future__ import annotations

import getpass
import os
import socket
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

import blake3
from pyfastcdc import FastCDC

from ripcord.archive.excludes import Excluder, is_cache_dir
from ripcord.archive.meta import node_from_stat, read_xattrs
from ripcord.archive.node import DIR, FILE, SOCKET, SYMLINK, Node, encode_tree
from ripcord.archive.progress import NullProgress, Progress
from ripcord.archive.trees import load_nodes
from ripcord.errors import RipcordError
from ripcord.repository import DATA, Repository, Snapshot, chain_heads

READ_ATTEMPTS = 2  # a file that changes while read is read once more


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


def _same_file(a: Node, b: Node) -> bool:
    return (a.size, a.mtime_ns, a.ctime_ns, a.inode) == (b.size, b.mtime_ns, b.ctime_ns, b.inode)


def _same_version(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (b.st_size, b.st_mtime_ns, b.st_ctime_ns)


class Backup:
    def __init__(
        self, repo: Repository, options: BackupOptions, progress: Progress | None = None
    ) -> None:
        self.repo, self.options = repo, options
        self.progress = progress or NullProgress()
        self.report = BackupReport()
        self.excluder = Excluder(options.excludes)
        c = repo.config.chunker
        self.chunker = FastCDC(
            c.avg_size, min_size=c.min_size, max_size=c.max_size, seed=repo.secrets.chunker_seed
        )
        self.min_size = c.min_size
        self._root_dev = 0

    def run(self) -> BackupReport:
        sources = normalize_sources(self.options.paths)
        if not sources:
            raise RipcordError("nothing to back up: no paths given")
        with self.repo.lock():
            existing = self.repo.snapshots()
            parent = self._find_parent(existing, sources)
            parent_root = parent.tree if parent else None
            self.report.parent = parent.id if parent else None
            stored_before = self.repo.stored_bytes
            self.progress.start(None)
            layout = self._layout(sources)
            root_children = self._intermediate(
                b"", layout, bytes.fromhex(parent_root) if parent_root else None
            )
            if not root_children:
                raise RipcordError(
                    "nothing was backed up: no source path could be read ("
                    + "; ".join(f"{p}: {e}" for p, e in self.report.errors)
                    + ")"
                )
            root = self.repo.save_tree(encode_tree(root_children))
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
            self.report.snapshot_id = self.repo.save_snapshot(snap)
            self.progress.finish()
        return self.report

    def _find_parent(self, existing: list[Snapshot], sources: list[bytes]) -> Snapshot | None:
        paths = sorted(os.fsdecode(s) for s in sources)
        same = [s for s in existing if s.host == self.options.host and sorted(s.paths) == paths]
        return same[-1] if same else None

    # -- the tree above the sources ------------------------------------------------------

    @staticmethod
    def _layout(sources: list[bytes]) -> dict[bytes, object]:
        """Nested dict of path components; None marks a source to back up whole."""
        layout: dict[bytes, object] = {}
        for s in sources:
            parts = [c for c in s.split(b"/") if c]
            d = layout
            for part in parts[:-1]:
                d = d.setdefault(part, {})  # type: ignore[assignment]
            if parts:
                d[parts[-1]] = None
        return layout

    def _parent_children(self, tree_id: bytes | None) -> dict[bytes, Node]:
        if tree_id is None:
            return {}
        try:
            return {n.name: n for n in load_nodes(self.repo, tree_id)}
        except RipcordError:
            return {}  # a damaged parent only costs re-reading

    def _intermediate(
        self, path: bytes, layout: dict[bytes, object], parent_tree: bytes | None
    ) -> list[Node]:
        prev = self._parent_children(parent_tree)
        nodes = []
        for name, sub in sorted(layout.items()):
            child_path = path + b"/" + name
            try:
                st = os.lstat(child_path)
                if sub is not None and stat.S_ISLNK(st.st_mode):
                    st = os.stat(child_path)  # a symlinked dir on the way to a source
            except OSError as e:
                self._error(child_path, e)
                continue
            if sub is None:
                self._root_dev = st.st_dev
                node = self._entry(child_path, name, st, prev.get(name))
            else:
                node = node_from_stat(name, st)
                if node.type != DIR:
                    self._error(child_path, NotADirectoryError("not a directory"))
                    continue
                node.xattrs = self._xattrs_path(child_path)
                p = prev.get(name)
                children = self._intermediate(child_path, sub, p.subtree if p else None)  # type: ignore[arg-type]
                if not children:
                    continue  # no source below it could be read
                node.subtree = self.repo.save_tree(encode_tree(children))
            if node is not None:
                nodes.append(node)
        return nodes

    # -- walking a source ----------------------------------------------------------------

    def _entry(
        self, path: bytes, name: bytes, st: os.stat_result, prev: Node | None
    ) -> Node | None:
        node = node_from_stat(name, st)
        if node.type == FILE:
            return self._file(path, node, prev)
        if node.type == DIR:
            return self._dir(path, node, prev)
        if node.type == SOCKET:
            return None  # sockets cannot be restored meaningfully
        self.report.others += 1
        if node.type == SYMLINK:
            try:
                node.target = os.readlink(path)
            except OSError as e:
                self._error(path, e)
                return None
        node.xattrs = self._xattrs_path(path) if node.type != SYMLINK else {}
        return node

    def _dir(self, path: bytes, node: Node, prev: Node | None) -> Node:
        self.report.dirs += 1
        node.xattrs = self._xattrs_path(path)
        prev_children = self._parent_children(prev.subtree if prev and prev.type == DIR else None)
        children: list[Node] = []
        crosses = self.options.one_file_system and node.dev != self._root_dev
        try:
            entries = [] if crosses else sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as e:
            self._error(path, e)
            entries = []
        cache_dir = self.options.exclude_caches and is_cache_dir(path)
        for entry in entries:
            if cache_dir and entry.name != b"CACHEDIR.TAG":
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as err:
                self._error(entry.path, err)
                continue
            if self.excluder.excluded(entry.path, stat.S_ISDIR(st.st_mode)):
                continue
            child = self._entry(entry.path, entry.name, st, prev_children.get(entry.name))
            if child is not None:
                children.append(child)
        node.subtree = self.repo.save_tree(encode_tree(children))
        return node

    def _file(self, path: bytes, node: Node, prev: Node | None) -> Node | None:
        r = self.report
        self.progress.item(os.fsdecode(path))
        if prev is not None and prev.type == FILE and _same_file(node, prev) and not prev.changed:
            node.content, node.hash, node.xattrs = prev.content, prev.hash, prev.xattrs
            r.files_unchanged += 1
            self.progress.advance(node.size)
        else:
            try:
                with os.fdopen(_open_noatime(path), "rb", buffering=0) as f:
                    self._read_file(f, path, node)
                    node.xattrs = read_xattrs(f.fileno())
            except OSError as e:
                self._error(path, e)
                return None
            if prev is None:
                r.files_new += 1
            else:
                r.files_changed += 1
        r.total_files += 1
        r.total_bytes += node.size
        return node

    def _read_file(self, f: BinaryIO, path: bytes, node: Node) -> None:
        for _attempt in range(READ_ATTEMPTS):
            before = os.fstat(f.fileno())
            f.seek(0)
            content, digest, nread = self._chunk(f, before.st_size)
            after = os.fstat(f.fileno())
            if _same_version(before, after) and nread == after.st_size:
                break
        else:
            node.changed = True
            self.report.changed_while_read.append(os.fsdecode(path))
        node.size, node.mtime_ns, node.ctime_ns = nread, after.st_mtime_ns, after.st_ctime_ns
        node.content, node.hash = content, digest

    def _chunk(self, f: BinaryIO, size_hint: int) -> tuple[list[bytes], bytes, int]:
        whole = blake3.blake3()
        content: list[bytes] = []
        nread = 0
        if size_hint < self.min_size:
            data = f.read()  # small: one chunk, unless it grew since the stat
            if len(data) < self.min_size:
                chunks: list[bytes] = [data] if data else []
            else:
                chunks = [bytes(c.data) for c in self.chunker.cut_buf(data)]
        else:
            chunks = (bytes(c.data) for c in self.chunker.cut_stream(f))  # type: ignore[assignment]
        for data in chunks:
            whole.update(data)
            blob_id, new = self.repo.add_blob(DATA, data)
            content.append(blob_id)
            nread += len(data)
            self.report.bytes_read += len(data)
            if new:
                self.report.data_blobs_added += 1
                self.report.data_added += len(data)
            self.progress.advance(len(data))
        return content, whole.digest(), nread

    def _xattrs_path(self, path: bytes) -> dict[bytes, bytes]:
        try:
            return read_xattrs(path)
        except OSError as e:
            self._error(path, e)
            return {}

    def _error(self, path: bytes, e: BaseException) -> None:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        self.report.errors.append((os.fsdecode(path), reason))


def _open_noatime(path: bytes) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags | os.O_NOATIME)
    except PermissionError:
        return os.open(path, flags)  # O_NOATIME needs ownership
