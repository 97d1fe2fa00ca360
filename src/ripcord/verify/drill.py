"""Restore drills: restore a sample of files into a scratch directory and prove them.

A backup that cannot be restored is no backup. A drill samples files from one
or more snapshots (verify/sample.py), restores each through the same Restorer
as `ripcord restore`, and proves it: every byte against the whole-file BLAKE3
recorded at backup, its size and metadata against the snapshot, and, where the
live source file is unchanged since the snapshot, against the source as well.
What it found is kept in the repository as a write-once record (drills/), pass
or fail, so the proof stays with the copy it is about.

Each file is restored alone, into a target of its own, so that nothing one
restore leaves (a directory's restored mode, a hard link) bears on another.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import blake3

from ripcord.archive.node import FILE, SYMLINK, Node
from ripcord.archive.progress import NullProgress, Progress
from ripcord.archive.restore import RestoreOptions, Restorer, TargetFull
from ripcord.errors import RipcordError
from ripcord.repository import Repository, Snapshot, resolve
from ripcord.repository.drills import DrillRecord, Failure
from ripcord.verify.sample import Pick, candidates, choose, choose_older, neighbours

DEFAULT_SAMPLE = 20
DEFAULT_MAX_BYTES = 1 << 30  # a default drill must not fill a small /tmp with disk images
SEED_BITS = 32  # of a seed drawn at random: short enough to type again


@dataclass
class DrillOptions:
    sample: int = DEFAULT_SAMPLE
    max_bytes: int | None = DEFAULT_MAX_BYTES
    snapshots: list[str] = field(default_factory=list)  # specs; none: latest and one older
    seed: int | None = None  # None: a random one, recorded
    scratch: str | None = None  # where the scratch directory goes; None: $TMPDIR
    keep_scratch: bool = False


@dataclass
class Proof:
    """One sampled file and what became of it."""

    pick: Pick
    source: bool = False  # also compared with its live source, unchanged since the snapshot
    failure: str | None = None


@dataclass
class DrillReport:
    record: DrillRecord
    proofs: list[Proof]
    scratch: str | None = None  # the scratch directory, if still there (kept, or stuck)


def drill(
    repo: Repository,
    options: DrillOptions,
    progress: Callable[[], Progress] = NullProgress,
) -> DrillReport:
    """Run one drill under a shared lock and write its record, pass or fail.

    `progress` makes a fresh Progress for each phase: the walk that samples, then
    the restore. Raises RipcordError, writing no record, when there is nothing to
    drill or the scratch directory cannot hold the sample.
    """
    started, clock = repo.clock(), time.monotonic()
    seed = secrets.randbits(SEED_BITS) if options.seed is None else options.seed
    with repo.lock():
        everything = repo.snapshots()
        snaps = _snapshots(everything, options.snapshots, seed)
        picks, failures = _sample(repo, everything, snaps, seed, options, progress())
        if not picks and not failures:
            raise RipcordError(_nothing(options))
        proofs, kept = _restore_and_prove(repo, picks, options, progress())
        failures += [
            Failure(p.pick.snapshot.id, _path(p.pick), p.failure) for p in proofs if p.failure
        ]
        record = DrillRecord(
            time=started,
            host=socket.gethostname(),
            user=getpass.getuser(),
            repository=repo.config.id,
            snapshots=tuple(s.id for s in snaps),
            seed=seed,
            sample=options.sample,
            max_bytes=options.max_bytes,
            files=len(picks),
            bytes=sum(p.node.size for p in picks),
            source_compared=sum(p.source for p in proofs),
            duration=round(time.monotonic() - clock, 3),
            failures=tuple(failures),
        )
        record = repo.add_drill(record)
    return DrillReport(record, proofs, kept)


def _snapshots(snaps: list[Snapshot], specs: list[str], seed: int) -> list[Snapshot]:
    if not snaps:
        raise RipcordError("the repository has no snapshots: nothing to drill")
    if specs:
        chosen = [resolve(snaps, s) for s in specs]
        return list({s.id: s for s in chosen}.values())
    older = choose_older(snaps, seed)
    return [snaps[-1]] + ([older] if older else [])


def _sample(
    repo: Repository,
    everything: list[Snapshot],
    snaps: list[Snapshot],
    seed: int,
    options: DrillOptions,
    bar: Progress,
) -> tuple[list[Pick], list[Failure]]:
    """The picks, and the directories of the drilled snapshots that could not be read."""
    bar.start(None)
    try:
        pools = []
        for s in snaps:
            prev, oldest = neighbours(everything, s)
            pools.append(
                candidates(repo, s, prev, oldest, seed, options.sample, options.max_bytes, bar)
            )
    finally:
        bar.finish()
    failures = [f for p in pools for f in p.failures]
    return choose(pools, options.sample, options.max_bytes), failures


def _restore_and_prove(
    repo: Repository, picks: list[Pick], options: DrillOptions, bar: Progress
) -> tuple[list[Proof], str | None]:
    """Restore each pick into its own target in a fresh scratch directory and prove it;
    the scratch directory is removed afterwards unless kept (then returned)."""
    try:
        scratch = tempfile.mkdtemp(prefix="ripcord-drill-", dir=options.scratch)
    except OSError as e:
        where = options.scratch or tempfile.gettempdir()
        raise RipcordError(f"cannot make a scratch directory in {where}: {e.strerror}") from None
    proofs = []
    bar.start(sum(p.node.size for p in picks))
    phase = _Phase(bar)
    try:
        for i, pick in enumerate(picks):
            target = os.path.join(scratch, str(i))
            error = _restore(repo, pick, target, phase)
            proofs.append(_prove(pick, os.fsencode(target), error))
    finally:
        bar.finish()
        if not options.keep_scratch:
            _remove(scratch)
    return proofs, scratch if os.path.exists(scratch) else None


def _restore(repo: Repository, pick: Pick, target: str, bar: Progress) -> str | None:
    """Restore one pick exactly as `ripcord restore SNAPSHOT PATH` would; the error, if any."""
    path = _path(pick)
    try:
        report = Restorer(repo, pick.snapshot, RestoreOptions(target, paths=[path]), bar).run()
    except TargetFull as e:
        raise RipcordError(f"the scratch directory is full: {e}") from None
    except RipcordError as e:
        return str(e)
    return next((why for p, why in report.errors if p == path), None)


def _prove(pick: Pick, target: bytes, error: str | None) -> Proof:
    proof = Proof(pick)
    node = pick.node
    restored = target + pick.path
    try:
        _reach(target, pick.path)
        st = os.lstat(restored)
    except FileNotFoundError:
        proof.failure = f"not restored: {error}" if error else "not restored"
        return proof
    problems = [f"restore said: {error}"] if error else []
    problems += metadata_problems(st, node)
    if node.type == FILE and stat.S_ISREG(st.st_mode):
        if not st.st_mode & stat.S_IRUSR:  # a mode of 0o000 as the owner, not root
            os.chmod(restored, stat.S_IMODE(st.st_mode) | stat.S_IRUSR)
        problems += _xattrs(node, restored)
        digest, size, _ = _digest(restored)
        if size != node.size:
            problems.append(f"restored {size} bytes, the snapshot says {node.size}")
        if digest != node.hash:
            problems.append("content does not match the BLAKE3 recorded at backup")
        elif not node.changed:
            proof.source, differs = _against_source(pick.path, node)
            if differs:
                problems.append(
                    "differs from the live source, which is unchanged since the snapshot"
                    " (size, mtime, ctime, inode): the backup or the source is damaged"
                )
    elif node.type == SYMLINK and stat.S_ISLNK(st.st_mode):
        target = os.readlink(restored)
        if target != node.target:
            problems.append(f"link target {target!r}, the snapshot says {node.target!r}")
    proof.failure = "; ".join(problems) or None
    return proof


def _reach(target: bytes, path: bytes) -> None:
    """Let this user into the restored directories above `path` (restored with the
    snapshot's modes, 0o500 or 0o000 perhaps), going down from the target."""
    here = target
    for part in path.strip(b"/").split(b"/")[:-1]:
        here += b"/" + part
        mode = stat.S_IMODE(os.lstat(here).st_mode)
        if mode & 0o700 != 0o700:
            os.chmod(here, mode | 0o700)


def metadata_problems(st: os.stat_result, node: Node) -> list[str]:
    """What of the snapshot's metadata did not come back that could, as this user."""
    kind = stat.S_ISREG if node.type == FILE else stat.S_ISLNK
    if not kind(st.st_mode):
        return [f"restored as something other than a {node.type}"]
    out = []
    root = os.geteuid() == 0
    if node.type == FILE:
        # chmod by a non-root owner drops set-group-id for a group they are not in
        lost = 0 if root or node.gid in {os.getegid(), *os.getgroups()} else stat.S_ISGID
        if stat.S_IMODE(st.st_mode) != node.mode & ~lost:
            out.append(f"mode {stat.S_IMODE(st.st_mode):04o}, the snapshot says {node.mode:04o}")
    if st.st_mtime_ns != node.mtime_ns:
        out.append(f"mtime {st.st_mtime_ns} ns, the snapshot says {node.mtime_ns} ns")
    if root and (st.st_uid, st.st_gid) != (node.uid, node.gid):
        out.append(f"owner {st.st_uid}:{st.st_gid}, the snapshot says {node.uid}:{node.gid}")
    return out


def _xattrs(node: Node, restored: bytes) -> list[str]:
    """Extended attributes that came back with another value (one the scratch file
    system or this user cannot hold is not the repository's fault, and not checked)."""
    out = []
    for name, value in node.xattrs.items():
        try:
            got = os.getxattr(restored, name, follow_symlinks=False)
        except OSError:
            continue
        if got != value:
            out.append(f"extended attribute {os.fsdecode(name)} differs")
    return out


def _against_source(path: bytes, node: Node) -> tuple[bool, bool]:
    """(compared, differs) against the live source file, compared only while it is the
    version backed up: same size, mtime, ctime and inode (the test backup uses to skip
    unchanged files), before and after reading it."""
    try:
        if not _unchanged(os.lstat(path), node):
            return False, False
        digest, _, after = _digest(path)
    except OSError:
        return False, False
    if not _unchanged(after, node):
        return False, False
    return True, digest != node.hash


def _unchanged(st: os.stat_result, node: Node) -> bool:
    return stat.S_ISREG(st.st_mode) and (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) == (
        node.size,
        node.mtime_ns,
        node.ctime_ns,
        node.inode,
    )


def _digest(path: bytes) -> tuple[bytes, int, os.stat_result]:
    """BLAKE3 and length of a file, and its stat once read; its atime is left alone
    where we may (a moved atime would make the next backup store a new tree)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_NOATIME)
    except PermissionError:
        fd = os.open(path, flags)
    h, n = blake3.blake3(), 0
    with os.fdopen(fd, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            n += len(block)
        return h.digest(), n, os.fstat(f.fileno())


def _remove(scratch: str) -> None:
    """Remove the scratch directory (proving let this user into every directory in it);
    what cannot be removed is reported as left behind. Not shutil.rmtree, which
    recurses once per level (Python 3.11) where a drilled file may lie a thousand
    folders deep: a loop, each folder opened relative to the one above it."""
    try:
        top = os.open(scratch, _DIR_FLAGS)
    except OSError:
        return
    way = [(b"", top, _entries(top))]  # (name, fd, entries left) from the scratch down
    while way:
        _, fd, left = way[-1]
        if left:
            e = left.pop()
            if not e.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(e.name, dir_fd=fd)
                continue
            with contextlib.suppress(OSError):
                sub = os.open(e.name, _DIR_FLAGS, dir_fd=fd)
                way.append((os.fsencode(e.name), sub, _entries(sub)))
            continue
        name, fd, _ = way.pop()
        os.close(fd)
        if way:
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=way[-1][1])
    with contextlib.suppress(OSError):
        os.rmdir(scratch)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _entries(fd: int) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(fd) as it:
            return list(it)
    except OSError:
        return []


def _path(pick: Pick) -> str:
    return os.fsdecode(pick.path)


def _nothing(options: DrillOptions) -> str:
    if options.max_bytes is not None:
        return (
            "nothing to drill: the snapshots hold no file or symlink that fits in"
            f" --bytes {options.max_bytes}"
        )
    return "nothing to drill: the snapshots hold no file or symlink"


class _Phase:
    """The restore phase's bar, shared by one Restorer per file: theirs start and
    finish once per file, the bar once per drill."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar

    def start(self, total_bytes: int | None) -> None:
        pass

    def item(self, path: str) -> None:
        self.bar.item(path)

    def advance(self, nbytes: int) -> None:
        self.bar.advance(nbytes)

    def finish(self) -> None:
        pass
