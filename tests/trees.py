"""Comparing directory trees by content and metadata, for restore tests.

`tree_state` takes a picture of a tree and `tree_diff` / `assert_same`
compare two pictures: the strong form of "what went in came back out" --
type, mode, owner, mtime, symlink target, device number, xattrs (ACLs
included), content, sparseness and which paths share an inode. Files are
read with O_NOATIME (tests run as root), so taking a picture leaves file
atimes alone and an atime test can compare them too.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.conftest import Cli

# ctime is never restorable; atime is only compared when asked (directory atimes
# move whenever something lists them, which backup itself does).
DEFAULT_IGNORE = frozenset({"atime_ns"})


@dataclass(frozen=True)
class Entry:
    """What a restore must reproduce of one file system entry."""

    type: str
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    atime_ns: int
    target: str = ""
    rdev: int = 0
    digest: str = ""
    size: int = 0
    sparse: bool = False
    xattrs: tuple[tuple[str, bytes], ...] = field(default=())


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, read without touching its atime."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOATIME | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def allocated(path: Path) -> int:
    """Bytes the file system really allocated (holes cost nothing)."""
    return os.lstat(path).st_blocks * 512


def xattrs_of(path: Path) -> tuple[tuple[str, bytes], ...]:
    names = sorted(os.listxattr(path, follow_symlinks=False))
    return tuple((n, os.getxattr(path, n, follow_symlinks=False)) for n in names)


def entry_of(path: Path) -> Entry:
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    return Entry(
        type=stat.filemode(st.st_mode)[0],
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        mtime_ns=st.st_mtime_ns,
        atime_ns=st.st_atime_ns,
        target=os.readlink(path) if kind == stat.S_IFLNK else "",
        rdev=st.st_rdev if kind in (stat.S_IFCHR, stat.S_IFBLK) else 0,
        digest=file_digest(path) if kind == stat.S_IFREG else "",
        size=st.st_size if kind == stat.S_IFREG else 0,
        sparse=kind == stat.S_IFREG and st.st_blocks * 512 < st.st_size,
        xattrs=xattrs_of(path),
    )


@dataclass
class TreeState:
    """A picture of a tree: every entry by relative path, and hard-link groups."""

    entries: dict[str, Entry]
    links: set[frozenset[str]]


def tree_state(root: Path) -> TreeState:
    """Picture `root` and everything below it ('.' is the root itself)."""
    entries = {".": entry_of(root)}
    by_inode: dict[int, set[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            entries[rel] = entry_of(p)
            st = os.lstat(p)
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                by_inode.setdefault(st.st_ino, set()).add(rel)
    links = {frozenset(g) for g in by_inode.values() if len(g) > 1}
    return TreeState(entries, links)


def tree_diff(a: TreeState, b: TreeState, ignore: frozenset[str] = DEFAULT_IGNORE) -> list[str]:
    """Human-readable differences between two pictures; empty when they match."""
    out = [f"only in first: {p}" for p in sorted(a.entries.keys() - b.entries.keys())]
    out += [f"only in second: {p}" for p in sorted(b.entries.keys() - a.entries.keys())]
    for p in sorted(a.entries.keys() & b.entries.keys()):
        ea, eb = asdict(a.entries[p]), asdict(b.entries[p])
        for k in ea:
            if k not in ignore and ea[k] != eb[k]:
                out.append(f"{p}: {k} {ea[k]!r} != {eb[k]!r}")
    if "links" not in ignore and a.links != b.links:
        groups = [sorted(map(sorted, t.links)) for t in (a, b)]
        out.append(f"hard links differ: {groups[0]} != {groups[1]}")
    return out


def assert_same(a: TreeState, b: TreeState, ignore: frozenset[str] = DEFAULT_IGNORE) -> None:
    diff = tree_diff(a, b, ignore)
    assert not diff, "trees differ:\n" + "\n".join(diff)


def restored(target: Path, path: Path) -> Path:
    """Where `path` lands when restored under `target` (its absolute path, re-rooted)."""
    return target / path.relative_to("/")


def round_trip(cli: Cli, src: Path, target: Path, *restore_args: str) -> Path:
    """Back `src` up, restore the latest snapshot under `target`; where `src` came back."""
    cli.ok("backup", str(src))
    cli.ok("restore", "latest", "--target", str(target), *restore_args)
    return restored(target, src)


def assert_round_trip(
    cli: Cli, src: Path, target: Path, ignore: frozenset[str] = DEFAULT_IGNORE
) -> Path:
    """Picture `src`, back it up and restore it; the restored tree must match the picture."""
    before = tree_state(src)
    out = round_trip(cli, src, target)
    assert_same(before, tree_state(out), ignore)
    return out


def setfacl(path: Path, spec: str, *flags: str) -> None:
    """Add one ACL entry (`-d` in flags: to the default ACL of a directory)."""
    subprocess.run(["setfacl", *flags, "-m", spec, str(path)], check=True)


def getfacl(path: Path, *flags: str) -> str:
    """getfacl's text for `path`, without the '# file:' header that names the path."""
    done = subprocess.run(
        ["getfacl", "--omit-header", "--numeric", *flags, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def make_files(root: Path, files: dict[str, str]) -> None:
    """Create text files (and their directories) below `root`; a name ending in '/' is a dir."""
    for rel, text in files.items():
        p = root / rel
        if rel.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def listed(cli: Cli, snapshot: str = "latest", path: str = "/") -> set[str]:
    """Every path `ripcord ls SNAPSHOT PATH --json` reports."""
    return {n["path"] for n in cli.ok("ls", snapshot, path, "--json").json["nodes"]}


def below(paths: set[str], root: Path) -> set[str]:
    """The paths inside `root`, relative to it (for short, readable assertions)."""
    prefix = str(root) + "/"
    return {p[len(prefix) :] for p in paths if p.startswith(prefix)}
