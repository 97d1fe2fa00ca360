"""The folders a mount makes around snapshots: snapshots/TIME, ids/ID, hosts/HOST/TIME,
tags/TAG/TIME and `latest` links (the layout of restic's mount), or one snapshot alone."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ripcord.archive.node import DIR, SYMLINK, Node
from ripcord.mount.names import is_component, time_name, to_bytes, unique
from ripcord.repository import Repository, Snapshot

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ID_CHARS = 12  # as restore and diff print them; the whole id where two share a prefix


def _ns(snap: Snapshot) -> int:
    return (snap.time - EPOCH) // timedelta(microseconds=1) * 1000


def _own(node: Node) -> Node:
    """A made-up entry belongs to whoever mounted, readable by all, not writable."""
    node.uid, node.gid = os.getuid(), os.getgid()
    return node


@dataclass
class SnapshotRoot:
    """A snapshot's root folder: its entries come from the snapshot's root tree."""

    snap: Snapshot
    node: Node = field(init=False)

    def __post_init__(self) -> None:
        t = _ns(self.snap)
        self.node = _own(Node(b"", DIR, mode=0o555, nlink=2, subtree=bytes.fromhex(self.snap.tree)))
        self.node.mtime_ns = self.node.atime_ns = self.node.ctime_ns = t


@dataclass
class Folder:
    children: dict[str, Entry]
    mtime_ns: int
    node: Node = field(init=False)

    def __post_init__(self) -> None:
        subfolders = sum(not isinstance(c, Link) for c in self.children.values())
        self.node = _own(Node(b"", DIR, mode=0o555, nlink=2 + subfolders))
        self.node.mtime_ns = self.node.atime_ns = self.node.ctime_ns = self.mtime_ns


@dataclass
class Link:
    target: str
    mtime_ns: int
    node: Node = field(init=False)

    def __post_init__(self) -> None:
        self.node = _own(Node(b"", SYMLINK, mode=0o777, target=to_bytes(self.target)))
        self.node.mtime_ns = self.node.atime_ns = self.node.ctime_ns = self.mtime_ns


Entry = Folder | Link | SnapshotRoot
Keys = Callable[[Snapshot], list[str]]


def by_time(snaps: list[Snapshot]) -> Folder:
    """Snapshots (oldest first) by time, and `latest` naming the newest."""
    names = unique(time_name(s.time) for s in snaps)
    children: dict[str, Entry] = {n: SnapshotRoot(s) for n, s in zip(names, snaps, strict=True)}
    if snaps:
        children["latest"] = Link(names[-1], _ns(snaps[-1]))
    return Folder(children, _ns(snaps[-1]) if snaps else 0)


def by_id(snaps: list[Snapshot]) -> Folder:
    short = [s.id[:ID_CHARS] for s in snaps]
    names = [p if short.count(p) == 1 else s.id for p, s in zip(short, snaps, strict=True)]
    children: dict[str, Entry] = {n: SnapshotRoot(s) for n, s in zip(names, snaps, strict=True)}
    return Folder(children, _ns(snaps[-1]) if snaps else 0)


def grouped(
    snaps: list[Snapshot],
    keys: Callable[[Snapshot], list[str]],
    what: str,
    warn: Callable[[str], None],
) -> Folder:
    """A folder per key (host, tag), each holding its snapshots by time. A key that
    cannot be a folder name (a hostile repository's '../x') is skipped with a warning."""
    groups: dict[str, list[Snapshot]] = defaultdict(list)
    for s in snaps:
        for key in keys(s):
            if is_component(to_bytes(key)):
                groups[key].append(s)
            else:
                warn(f"snapshot {s.id[:ID_CHARS]}: {what} {key!r} is not a folder name; not shown")
    children: dict[str, Entry] = {k: by_time(g) for k, g in sorted(groups.items())}
    return Folder(children, _ns(snaps[-1]) if snaps else 0)


def everything(snaps: list[Snapshot], warn: Callable[[str], None]) -> Folder:
    """The root of a mount of every snapshot (oldest first)."""
    times = by_time(snaps)
    children: dict[str, Entry] = {
        "snapshots": times,
        "ids": by_id(snaps),
        "hosts": grouped(snaps, lambda s: [s.host], "host", warn),
        "tags": grouped(snaps, lambda s: sorted(set(s.tags)), "tag", warn),
    }
    latest = times.children.get("latest")
    if isinstance(latest, Link):
        children["latest"] = Link("snapshots/" + latest.target, latest.mtime_ns)
    return Folder(children, times.mtime_ns)


def reread(repo: Repository, warn: Callable[[str], None]) -> Folder:
    """The root of every snapshot as the repository holds them now (a mount reads it
    again now and then, so backups made meanwhile appear)."""
    repo.sync_index()  # the new snapshots' trees are in index files new too
    return everything(repo.snapshots(), warn)
