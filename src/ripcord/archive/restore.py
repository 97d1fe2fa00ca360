"""Trees -> files: bring back a snapshot, or parts of it, under a target.

Everything is created relative to directory file descriptors opened with
O_NOFOLLOW, and every name was validated when its tree was decoded, so no
repository content can make restore write outside the target or through a
symlink, whatever it claims.

The walk runs on one thread: it creates directories and links and hands each
file to a pool of writers, which create it, read frames (each loaded once even
when several writers want it) and write in parallel; so an interrupt of the
walk leaves no empty file behind, and a writer that fails removes its file.
A hard link waits for its file. A directory's metadata is set once everything
inside it is done. A folder split in parts is taken a part at a time, so a folder of a
million entries holds one part's nodes and blob locations, not the million.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import stat
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ripcord.archive.excludes import Excluder
from ripcord.archive.holes import file_digest
from ripcord.archive.meta import write_xattrs
from ripcord.archive.node import BLOCK, CHAR, DIR, FIFO, FILE, SYMLINK, Node, Part
from ripcord.archive.progress import NullProgress, Progress
from ripcord.archive.trees import along, iter_nodes, listing_below, part_nodes, split_path
from ripcord.errors import CorruptObject, MissingObject, RipcordError, UnsafePath
from ripcord.repository import Repository, Snapshot
from ripcord.repository.index import Location

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
WRITERS = min(4, os.cpu_count() or 2)  # more contend for the GIL with the walk
IN_FLIGHT = 32  # files being written at once (each holds an open descriptor)
BATCH_BELOW = 64 << 10  # files smaller than this go to writers in batches
BATCH = 64  # files in one batch
PENDING_DIRS = 256  # directories kept open awaiting their files before a drain
KEPT_JOBS = 4096  # writer jobs listed before the finished ones are let go


_FileJob = tuple[int, bytes, Node, list[Location]]  # dir fd, path, node, blob locations


@dataclass
class _Frame:
    """A directory being restored: open, with its entries handed out one by one, a
    part at a time when its tree is split."""

    dir_fd: int  # of its parent
    path: bytes
    node: Node
    created: bool  # by this restore: removed again if nothing goes into it
    fd: int = -1
    children: list[Node] = field(default_factory=list)  # of the part being handed out
    locs: dict[bytes, Location] = field(default_factory=dict)  # of those children's blobs
    next: int = 0  # the next child to restore
    tree: bytes = b""  # its tree's id
    parts: list[Part] = field(default_factory=list)  # of a split tree
    part: int = 0  # the next part to read
    wrote: bool = False


class TargetFull(RipcordError):
    """the restore target ran out of space"""


@dataclass
class RestoreOptions:
    target: str
    paths: list[str] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    verify: bool = False


@dataclass
class RestoreReport:
    files: int = 0
    dirs: int = 0
    links: int = 0
    others: int = 0
    bytes_written: int = 0
    verified: int = 0
    verify_failed: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def incomplete(self) -> bool:
        return bool(self.errors or self.verify_failed)


class Restorer:
    def __init__(
        self,
        repo: Repository,
        snapshot: Snapshot,
        options: RestoreOptions,
        progress: Progress | None = None,
    ) -> None:
        self.repo, self.snapshot, self.options = repo, snapshot, options
        self.progress = progress or NullProgress()
        self.report = RestoreReport()
        self.excluder = Excluder(options.excludes)
        self.includer = Excluder(options.includes) if options.includes else None
        self.can_chown = os.geteuid() == 0
        self._links: dict[tuple[int, int], bytes] = {}  # (dev, inode) -> path below target
        # blobs read once and found all zeros: written as holes again without a read (a
        # sparse disk image is thousands of the same one; an id names one content)
        self._zeros: set[bytes] = set()
        self._pool = _started_pool(WRITERS, "ripcord-write")
        self._slots = threading.Semaphore(IN_FLIGHT)
        self._lock = threading.Lock()
        self._jobs: list[Future[bool]] = []
        self._filling: dict[tuple[int, int], Future[bool]] = {}  # hard-linked files being written
        self._fatal: BaseException | None = None
        self._stop = threading.Event()  # set on failure: writers abandon their files
        self._open_dirs: list[tuple[int, Node]] = []  # post-order: children before parents
        self._held: list[int] = []  # directory descriptors to close after a failure
        self._locs: dict[bytes, Location] = {}  # blobs of the directory being walked
        self._batch: list[_FileJob] = []  # small files not yet handed to a writer
        self._above: dict[bytes, Node] = {}  # folders above the PATHS: dated at the end

    def run(self) -> RestoreReport:
        root = bytes.fromhex(self.snapshot.tree)
        try:
            os.makedirs(self.options.target, exist_ok=True)
            target_fd = os.open(self.options.target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise RipcordError(f"cannot restore into {self.options.target}: {e.strerror}") from None
        self.target_fd = target_fd
        _more_descriptors()
        self.progress.start(None)
        try:
            if not self.options.paths:
                self._restore_root(target_fd, root)
            for path in self.options.paths:
                self._restore_path(target_fd, root, path)
            self._drain()
            self._date_above(target_fd)
        finally:
            self._abandon()
            os.close(target_fd)
            self.progress.finish()
        return self.report

    def _drain(self) -> None:
        """Wait for every file being written, then date the directories that held them."""
        self._submit_batch()
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.result()
        if self._fatal is not None:
            raise self._fatal
        dirs, self._open_dirs = self._open_dirs, []
        try:
            for i, (fd, node) in enumerate(dirs):
                self._apply_meta(fd, node)
                os.close(fd)
                dirs[i] = (-1, node)
        finally:
            for fd, _ in dirs:
                if fd >= 0:
                    os.close(fd)

    def _abandon(self) -> None:
        """After a failure, writers drop their files (never left torn); close everything."""
        self._stop.set()
        self._pool.shutdown(wait=True)
        for fd in self._held + [fd for fd, _ in self._open_dirs]:
            os.close(fd)
        self._open_dirs, self._held = [], []

    def _restore_path(self, target_fd: int, root: bytes, path: str) -> None:
        """Restore one path, creating (and dating) the directories above it."""
        parts = split_path(path)
        if not parts:
            self._restore_root(target_fd, root)
            return
        nodes = along(self.repo, root, path)  # one walk down, not one per folder above
        leaf = nodes[-1]
        fds, above = [target_fd], b""
        try:
            for part in parts[:-1]:
                above += b"/" + part
                try:
                    fds.append(self._open_dir(fds[-1], part, created_mode=0o700))
                except OSError as e:  # nothing can go below it: the whole path fails
                    if e.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise TargetFull(f"target disk full creating {os.fsdecode(above)}") from e
                    raise RipcordError(f"cannot create {os.fsdecode(above)}: {e.strerror}") from e
            self._restore(fds[-1], above + b"/" + parts[-1], leaf)
            self._drain()
            for i in range(1, len(parts)):
                self._above.setdefault(b"/".join(parts[:i]), nodes[i])
        except BaseException:
            self._held += fds[1:]  # writers may still use them: closed once they stop
            raise
        for fd in fds[1:]:
            os.close(fd)

    def _restore_root(self, target_fd: int, root: bytes) -> None:
        for child in iter_nodes(self.repo, root):
            self._restore(target_fd, b"/" + child.name, child)

    def _date_above(self, target_fd: int) -> None:
        """Mode, owner and times of the folders above the PATHS restored, each after
        every folder below it and only once every path is in: a folder the snapshot has
        read-only must not stop the next path from being created inside it.

        In reverse order of their components a folder comes after all below it, and
        the next one shares most of the way down: the folders open on the way are kept
        and reused, so a PATH 1000 folders deep opens each once, not 1000 times."""
        way: list[tuple[bytes, int]] = []  # (name, fd) from the target down
        try:
            for parts in sorted((k.split(b"/") for k in self._above), reverse=True):
                shared = 0
                while shared < min(len(way), len(parts)) and way[shared][0] == parts[shared]:
                    shared += 1
                while len(way) > shared:
                    os.close(way.pop()[1])
                for part in parts[shared:]:
                    fd = self._open_dir(way[-1][1] if way else target_fd, part, 0o700)
                    way.append((part, fd))
                self._apply_meta(way[-1][1], self._above[b"/".join(parts)])
        finally:
            for _, fd in way:
                os.close(fd)
        self._above = {}

    def _selected(self, path: bytes, node: Node) -> bool:
        if self.excluder.excluded(path, node.type == DIR):
            return False
        return self.includer is None or node.type == DIR or self.includer.excluded(path, False)

    def _restore(self, dir_fd: int, path: bytes, node: Node) -> bool:
        """Restore `node` as `path`; True if anything was written."""
        if not self._selected(path, node):
            return False
        if node.type == DIR:
            return self._tree(dir_fd, path, node)
        return self._guarded(path, self._leaf, dir_fd, path, node)

    def _leaf(self, dir_fd: int, path: bytes, node: Node) -> bool:
        if node.type == FILE:
            self._file(dir_fd, path, node)
        else:
            self._special(dir_fd, node)
        self.progress.item(os.fsdecode(path))
        return True

    def _guarded(self, path: bytes, step: Callable[..., bool], *args: object) -> bool:
        """`step(*args)`, one step of restoring `path`; a failure that costs only the
        entries it holds is reported, and the step counts as having written nothing."""
        try:
            return step(*args)
        except TargetFull:
            raise
        except (CorruptObject, MissingObject) as e:  # costs the entries it holds, not the rest
            self.report.errors.append((os.fsdecode(path), str(e)))
            return False
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise TargetFull(f"target disk full while restoring {os.fsdecode(path)}") from e
            self.report.errors.append((os.fsdecode(path), e.strerror or str(e)))
            return False

    def _tree(self, dir_fd: int, path: bytes, node: Node) -> bool:
        """Restore the directory `node` and everything below it, from a stack of the
        directories open on the way down rather than by recursion (trees can be deep)."""
        frames: list[_Frame] = []
        outer = self._locs
        wrote = False
        try:
            self._guarded(path, self._enter, frames, dir_fd, path, node)
            while frames:
                top = frames[-1]
                if top.next < len(top.children):
                    child = top.children[top.next]
                    top.next += 1
                    at = top.path + b"/" + child.name
                    if child.type != DIR:
                        self._locs = top.locs
                        top.wrote = self._restore(top.fd, at, child) or top.wrote
                    elif self._selected(at, child):
                        self._guarded(at, self._enter, frames, top.fd, at, child)
                    continue
                if top.part < len(top.parts):
                    self._guarded(top.path, self._next_part, top)
                    continue
                frames.pop()
                done = self._guarded(top.path, self._leave, top)
                if frames:
                    frames[-1].wrote = done or frames[-1].wrote
                else:
                    wrote = done
        except BaseException:
            self._held += [f.fd for f in frames]  # writers may still use them
            raise
        finally:
            self._locs = outer
        return wrote

    def _enter(self, frames: list[_Frame], dir_fd: int, path: bytes, node: Node) -> bool:
        """Create and open a directory and read its entries; push it on `frames`."""
        frame = _Frame(dir_fd, path, node, not _exists(dir_fd, node.name))
        frame.fd = self._open_dir(dir_fd, node.name, created_mode=0o700)
        try:
            if node.subtree:
                found = listing_below(self.repo, node.subtree, path)
                frame.tree, frame.children, frame.parts = node.subtree, found.nodes, found.parts
            frame.locs = self.repo.locate_many([b for c in frame.children for b in c.content])
        except BaseException:
            self._held.append(frame.fd)  # writers may still use it: closed once they stop
            raise
        frames.append(frame)
        return True

    def _next_part(self, frame: _Frame) -> bool:
        """Read a split folder's next part in place of the one handed out; a part that
        cannot be read costs its entries (reported), not the rest of the folder."""
        i, frame.part = frame.part, frame.part + 1
        frame.children, frame.locs, frame.next = [], {}, 0
        children = part_nodes(self.repo, frame.tree, frame.parts, i)
        frame.locs = self.repo.locate_many([b for c in children for b in c.content])
        frame.children = children
        return True

    def _leave(self, frame: _Frame) -> bool:
        """A directory's entries are all handed out: keep it (dated once its files are
        written) if anything went into it, else remove it if this restore made it."""
        path = frame.path
        keep = frame.wrote or self.includer is None or self.includer.excluded(path, True)
        if not keep:
            os.close(frame.fd)  # nothing was written inside: no writer holds it
            if frame.created:
                os.rmdir(frame.node.name, dir_fd=frame.dir_fd)
            return False
        self.report.dirs += 1
        self._open_dirs.append((frame.fd, frame.node))  # dated once its files are written
        if len(self._open_dirs) >= PENDING_DIRS:
            self._drain()
        return True

    def _open_dir(self, dir_fd: int, name: bytes, created_mode: int) -> int:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, created_mode, dir_fd=dir_fd)
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePath(
                    f"refusing to restore into {os.fsdecode(name)}: it exists and is not a"
                    " directory (a symlink is never followed)"
                ) from None
            raise

    def _create(self, dir_fd: int, name: bytes) -> int:
        """A fresh file; an existing file or symlink of that name is replaced, never followed."""
        try:
            return os.open(name, _NEW_FILE, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            _remove_entry(dir_fd, name)
            return os.open(name, _NEW_FILE, 0o600, dir_fd=dir_fd)

    def _file(self, dir_fd: int, path: bytes, node: Node) -> None:
        if node.nlink > 1 and self._hardlink(dir_fd, path, node):
            return
        if self._fatal is not None:
            raise self._fatal
        # located here: the index belongs to this thread; a blob not in the
        # directory's batch (a path restored on its own) is looked up alone
        locs = [self._locs.get(b) or self.repo.locate(b) for b in node.content]
        if node.size < BATCH_BELOW and node.nlink <= 1:
            # small files go to a writer in batches: every hand-off between threads
            # is a GIL round trip, which costs more than writing a small file
            self._batch.append((dir_fd, path, node, locs))
            if len(self._batch) >= BATCH:
                self._submit_batch()
            return
        job = self._submit([(dir_fd, path, node, locs)])
        if node.nlink > 1:
            self._filling[(node.dev, node.inode)] = job

    def _submit_batch(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self._submit(batch)

    def _submit(self, files: list[_FileJob]) -> Future[bool]:
        self._slots.acquire()
        try:  # the writer creates the files: an interrupt here can leave no empty one behind
            job = self._pool.submit(self._fill_all, files)
        except BaseException:
            self._slots.release()
            raise
        self._jobs.append(job)
        if len(self._jobs) >= KEPT_JOBS:  # a folder of a million files drains only at its end
            self._jobs = [j for j in self._jobs if not j.done()]
        return job

    def _fill_all(self, files: list[_FileJob]) -> bool:
        """Write files in a writer thread; True if every one came out whole."""
        try:
            return all([self._fill(*f) for f in files])
        finally:
            self._slots.release()

    def _fill(self, dir_fd: int, path: bytes, node: Node, locs: list[Location]) -> bool:
        """Create and write one file, content and metadata; True if whole."""
        try:
            if self._stop.is_set():
                return False
            fd = self._create(dir_fd, node.name)
            try:
                offset = 0
                for blob_id, loc in zip(node.content, locs, strict=True):
                    if self._stop.is_set():
                        raise InterruptedError("restore stopped")
                    if blob_id in self._zeros:
                        offset += loc.length
                        self.progress.advance(loc.length)
                        continue
                    data = self.repo.read_at(blob_id, loc)
                    if data.count(0) == len(data):  # all-zero blobs become holes
                        self._zeros.add(blob_id)
                    else:
                        view = memoryview(data)
                        pos = offset
                        while view:
                            n = os.pwrite(fd, view, pos)
                            view, pos = view[n:], pos + n
                    offset += len(data)
                    self.progress.advance(len(data))
                os.ftruncate(fd, offset)
                self._apply_meta(fd, node)
            except BaseException:
                os.close(fd)
                os.unlink(node.name, dir_fd=dir_fd)  # never leave a torn file behind
                raise
            os.close(fd)
            with self._lock:
                self.report.bytes_written += offset
                self.report.files += 1
            if self.options.verify:
                self._verify(dir_fd, path, node)
            return True
        except (CorruptObject, MissingObject) as e:  # costs this file, not the rest
            with self._lock:
                self.report.errors.append((os.fsdecode(path), str(e)))
        except OSError as e:
            with self._lock:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    where = os.fsdecode(path)
                    self._fatal = self._fatal or TargetFull(
                        f"target disk full while restoring {where}"
                    )
                else:
                    self.report.errors.append((os.fsdecode(path), e.strerror or str(e)))
        except BaseException as e:
            with self._lock:
                self._fatal = self._fatal or e
        return False

    def _hardlink(self, dir_fd: int, path: bytes, node: Node) -> bool:
        key = (node.dev, node.inode)
        first = self._links.get(key)
        if first is None:
            self._links[key] = path.lstrip(b"/")
            return False
        if first == path.lstrip(b"/"):
            return True  # restored already in this run (overlapping PATHS): keep its links
        filling = self._filling.get(key)
        if filling is not None and not filling.result():  # never link to a half-written file
            with self._lock:
                why = f"a hard link to /{os.fsdecode(first)}, which could not be restored"
                self.report.errors.append((os.fsdecode(path), why))
            return True
        if _exists(dir_fd, node.name):
            _remove_entry(dir_fd, node.name)
        os.link(
            first, node.name, src_dir_fd=self.target_fd, dst_dir_fd=dir_fd, follow_symlinks=False
        )
        self.report.links += 1
        return True

    def _verify(self, dir_fd: int, path: bytes, node: Node) -> None:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:  # reading must not move the atime just restored
            fd = os.open(node.name, flags | os.O_NOATIME, dir_fd=dir_fd)
        except PermissionError:
            fd = os.open(node.name, flags, dir_fd=dir_fd)
        try:
            digest = file_digest(fd)
        finally:
            os.close(fd)
        with self._lock:
            if digest == node.hash:
                self.report.verified += 1
            else:
                self.report.verify_failed.append(os.fsdecode(path))

    def _special(self, dir_fd: int, node: Node) -> None:
        if _exists(dir_fd, node.name):
            _remove_entry(dir_fd, node.name)
        if node.type == SYMLINK:
            os.symlink(node.target, node.name, dir_fd=dir_fd)
            self.report.others += 1
            if self.can_chown:
                os.chown(node.name, node.uid, node.gid, dir_fd=dir_fd, follow_symlinks=False)
            os.utime(
                node.name, ns=(node.atime_ns, node.mtime_ns), dir_fd=dir_fd, follow_symlinks=False
            )
            return
        kind = {FIFO: stat.S_IFIFO, CHAR: stat.S_IFCHR, BLOCK: stat.S_IFBLK}.get(node.type)
        if kind is None:
            return
        if kind == stat.S_IFIFO:
            os.mkfifo(node.name, 0o600, dir_fd=dir_fd)
        else:
            os.mknod(node.name, 0o600 | kind, node.rdev, dir_fd=dir_fd)
        self.report.others += 1
        fd = os.open(node.name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            # fchmod/fchown do not take O_PATH descriptors; go through /proc to the same inode
            proc = f"/proc/self/fd/{fd}"
            if self.can_chown:
                os.chown(proc, node.uid, node.gid)
            self._write_xattrs(proc, node)  # ACLs on FIFOs and devices
            os.chmod(proc, node.mode)
            os.utime(proc, ns=(node.atime_ns, node.mtime_ns))
        finally:
            os.close(fd)

    def _apply_meta(self, fd: int, node: Node) -> None:
        """Owner, xattrs (ACLs included), mode and times on an open file or directory."""
        if self.can_chown:
            os.fchown(fd, node.uid, node.gid)
        self._write_xattrs(fd, node)
        os.fchmod(fd, node.mode)
        os.utime(fd, ns=(node.atime_ns, node.mtime_ns))

    def _write_xattrs(self, target: int | str, node: Node) -> None:
        for name in write_xattrs(target, node.xattrs):
            with self._lock:
                self.report.errors.append(
                    (os.fsdecode(node.name), f"extended attribute {name} not restored")
                )


def _more_descriptors() -> None:
    """Raise the soft limit on open files to the hard one, as Go programs (restic) do at
    start: each folder on the way down stays open until its entries are in, so a tree
    1000 deep needs more than the usual soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if 0 <= soft < hard:  # RLIM_INFINITY reads as -1
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _started_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A pool with every thread already running, so that submit() never starts one: a
    thread started inside submit() when Ctrl-C lands there is never joined by shutdown(),
    and would go on writing after the restore closed the directories it writes in."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    everyone = threading.Barrier(workers + 1)
    try:
        for _ in range(workers):
            pool.submit(everyone.wait)
        everyone.wait()
    except BaseException:
        everyone.abort()
        pool.shutdown(wait=False)
        raise
    return pool


def _exists(dir_fd: int, name: bytes) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _remove_entry(dir_fd: int, name: bytes) -> None:
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"refusing to replace directory {os.fsdecode(name)} with a file")
    os.unlink(name, dir_fd=dir_fd)
