"""The file system a mount serves: mfusepy calls these methods with paths.

Nothing here imports mfusepy (run.py does), so the file system can be driven
directly in tests, and errors are plain OSErrors with an errno, which mfusepy
hands to the kernel. mfusepy runs it single-threaded (run.py says why).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar

from ripcord.archive.node import BLOCK, CHAR, DIR, FIFO, FILE, SOCKET, SYMLINK, Node
from ripcord.errors import RipcordError
from ripcord.mount.content import BlobSource, Chunks, Layout, layout
from ripcord.mount.names import to_bytes, to_str
from ripcord.mount.trees import Trees, TreeSource, Warn
from ripcord.mount.view import Entry, Folder, Link

P = ParamSpec("P")
R = TypeVar("R")

_KIND = {
    FILE: stat.S_IFREG,
    DIR: stat.S_IFDIR,
    SYMLINK: stat.S_IFLNK,
    FIFO: stat.S_IFIFO,
    CHAR: stat.S_IFCHR,
    BLOCK: stat.S_IFBLK,
    SOCKET: stat.S_IFSOCK,
}
RELOAD_SECONDS = 30.0  # how old the list of snapshots may get before it is read again
MAX_WARNINGS = 1000  # distinct warnings remembered, so a retried failure is told once


class Repo(TreeSource, BlobSource, Protocol):
    """What a mount needs of a repository."""


@dataclass(frozen=True)
class Found:
    node: Node
    base: bytes  # mount path of the snapshot root it is in (b"" outside snapshots)
    folder: Folder | None = None  # a folder the mount made, not a snapshot's


def _fails_cleanly(method: Callable[P, R]) -> Callable[P, R]:
    """A repository error becomes EIO, after a warning naming it (never a traceback)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except RipcordError as e:
            fs = args[0]
            assert isinstance(fs, SnapshotFs)
            raise fs.failed(str(args[1]), e) from None

    return wrapper


def _missing(path: str) -> OSError:
    return OSError(errno.ENOENT, "no such entry", path)


class SnapshotFs:
    """A read-only view of snapshots; `root` is the mount's top folder or one snapshot."""

    use_ns = True  # times in nanoseconds (mfusepy's float seconds lose precision)

    def __init__(
        self,
        repo: Repo,
        root: Entry,
        warn: Warn,
        on_ready: Callable[[], None] = lambda: None,
        reload: Callable[[], Entry] | None = None,
        every: float = RELOAD_SECONDS,
    ) -> None:
        self.root, self._warn, self.on_ready = root, warn, on_ready
        self._reload, self._every = reload, every
        self._loaded = time.monotonic()
        self.trees = Trees(repo, self.warn_once)
        self.chunks = Chunks(repo)
        self.repo = repo
        self._open: dict[int, Layout] = {}
        self._next_fh = 1
        self._warned: set[str] = set()
        self.mounted = False  # the kernel has sent INIT: the mount is in place

    def warn_once(self, message: str) -> None:
        if message not in self._warned and len(self._warned) < MAX_WARNINGS:
            self._warned.add(message)
            self._warn(message)

    def failed(self, path: str, e: RipcordError) -> OSError:
        """A repository error as the kernel gets it (EIO), after a warning naming it."""
        self.warn_once(f"{path}: {e}")
        return OSError(errno.EIO, str(e))

    # -- finding a path ----------------------------------------------------------------

    def _fresh_root(self) -> Entry:
        """The top folders, listed again when older than `every` seconds: a backup made
        while mounted shows up (snapshots themselves never change, only their list)."""
        if self._reload is not None and time.monotonic() - self._loaded >= self._every:
            self.root, self._loaded = self._reload(), time.monotonic()
        return self.root

    def find(self, path: str) -> Found:
        parts = [p for p in path.split("/") if p]
        entry: Entry = self._fresh_root() if len(parts) <= 2 else self.root
        i = 0
        while isinstance(entry, Folder) and i < len(parts):
            child = entry.children.get(parts[i])
            if child is None:
                raise _missing(path)
            entry, i = child, i + 1
        if isinstance(entry, Folder):
            return Found(entry.node, b"", entry)
        if isinstance(entry, Link):
            if i < len(parts):
                raise OSError(errno.ENOTDIR, "not a directory", path)
            return Found(entry.node, b"")
        node = entry.node
        for part in parts[i:]:
            if node.type != DIR or node.subtree is None:
                raise OSError(errno.ENOTDIR, "not a directory", path)
            child_node = self.trees.lookup(node.subtree, to_bytes(part))
            if child_node is None:
                raise _missing(path)
            node = child_node
        return Found(node, to_bytes("/".join(parts[:i])))

    @staticmethod
    def inode(path: str, found: Found) -> int:
        """A stable inode number: one per path, but one per stored (dev, inode) for hard
        links within a snapshot, so that tools see them as hard links."""
        n = found.node
        if n.type == FILE and n.nlink > 1:
            key = b"%s\0%d:%d" % (found.base, n.dev, n.inode)
        else:
            key = to_bytes(path)
        return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1 | 2

    # -- metadata ----------------------------------------------------------------------

    @_fails_cleanly
    def getattr(self, path: str, fh: int | None = None) -> dict[str, int]:
        found = self.find(path)
        n = found.node
        size = n.size if n.type == FILE else len(n.target) if n.type == SYMLINK else 0
        return {
            "st_mode": _KIND[n.type] | n.mode,
            "st_ino": self.inode(path, found),
            "st_nlink": max(n.nlink, 1),
            "st_uid": n.uid,
            "st_gid": n.gid,
            "st_size": size,
            "st_blocks": (size + 511) // 512,
            "st_rdev": n.rdev,
            "st_atime": n.atime_ns,
            "st_mtime": n.mtime_ns,
            "st_ctime": n.ctime_ns,
        }

    @_fails_cleanly
    def readdir(self, path: str, fh: int) -> Iterator[str | tuple[str, dict[str, int], int]]:
        found = self.find(path)
        if found.node.type != DIR:
            raise OSError(errno.ENOTDIR, "not a directory", path)
        prefix = path.rstrip("/") + "/"
        if found.folder is not None:
            out: list[str | tuple[str, dict[str, int], int]] = [".", ".."]
            for name, entry in found.folder.children.items():
                mode = _KIND[entry.node.type]
                out.append((name, {"st_mode": mode, "st_ino": self._ino(prefix + name)}, 0))
            return iter(out)
        assert found.node.subtree is not None
        return self._listed(path, prefix, found.base, found.node.subtree)

    def _listed(
        self, path: str, prefix: str, base: bytes, tree_id: bytes
    ) -> Iterator[str | tuple[str, dict[str, int], int]]:
        """A snapshot folder's entries as they are read: a split folder of millions is
        never held whole. A part found damaged midway ends the listing with EIO, told
        once, like any other repository error."""
        yield "."
        yield ".."
        try:
            for node in self.trees.entries(tree_id):
                name = to_str(node.name)
                ino = self.inode(prefix + name, Found(node, base))
                yield name, {"st_mode": _KIND[node.type], "st_ino": ino}, 0
        except RipcordError as e:
            raise self.failed(path, e) from None

    def _ino(self, path: str) -> int:
        return self.inode(path, Found(Node(b"", DIR), b""))

    @_fails_cleanly
    def readlink(self, path: str) -> str:
        node = self.find(path).node
        if node.type != SYMLINK:
            raise OSError(errno.EINVAL, "not a symbolic link", path)
        return to_str(node.target)

    @_fails_cleanly
    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        value = self.find(path).node.xattrs.get(to_bytes(name))
        if value is None:
            raise OSError(errno.ENODATA, "no such attribute", path)
        return value

    @_fails_cleanly
    def listxattr(self, path: str) -> list[str]:
        return [to_str(k) for k in self.find(path).node.xattrs]

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": 4096, "f_frsize": 4096, "f_namemax": 255}

    # -- content -----------------------------------------------------------------------

    @_fails_cleanly
    def open(self, path: str, flags: int) -> int:
        if flags & os.O_ACCMODE != os.O_RDONLY:
            raise OSError(errno.EROFS, "read-only file system", path)
        node = self.find(path).node
        if node.type != FILE:
            raise OSError(errno.EINVAL, "not a regular file", path)
        fh, self._next_fh = self._next_fh, self._next_fh + 1
        self._open[fh] = layout(self.repo, node)
        return fh

    @_fails_cleanly
    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        file = self._open.get(fh)
        if file is None:
            raise OSError(errno.EBADF, "not open", path)
        return self.chunks.read(file, offset, size)

    def release(self, path: str | None, fh: int) -> int:
        self._open.pop(fh, None)
        return 0

    def init(self, path: str) -> None:
        """Called once the kernel has the mount: now it can be used."""
        self.mounted = True
        self.on_ready()
