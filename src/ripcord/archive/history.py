"""Every version of one path across snapshots, and when it vanished.

Only the trees along the path are read, each distinct tree once: a directory
that did not change between snapshots has the same tree id (ids are content
hashes), so a thousand snapshots of a quiet tree cost a handful of reads. Of a folder
split in parts, only the part that holds the path's next name is read, and a folder's
entries are counted from its parts' listing, unread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ripcord.archive.node import DIR, FILE, SYMLINK, Node
from ripcord.archive.trees import MAX_DEPTH, TooDeep, listing, lookup, split_path
from ripcord.errors import MissingObject
from ripcord.repository import Repository, Snapshot


@dataclass
class Version:
    """One distinct version of the path, seen in a run of consecutive snapshots."""

    node: Node
    first: Snapshot
    last: Snapshot
    snapshots: int = 1
    entries: int | None = None  # for a folder: how many entries it holds


@dataclass
class Gone:
    """The path was in `after` and no longer in `before`, the next snapshot."""

    after: Snapshot
    before: Snapshot


@dataclass
class History:
    path: str
    host: str
    events: list[Version | Gone] = field(default_factory=list)


def covers(snap: Snapshot, parts: list[bytes]) -> bool:
    """Whether the snapshot backed up this path (or something below or above it)."""
    for source in snap.paths:
        src = split_path(source)
        n = min(len(src), len(parts))
        if src[:n] == parts[:n]:
            return True
    return False


class _Trees:
    """The entries looked up so far, by tree id and name, and folders' entry counts: the
    path is one, so each tree is asked for one name, and read once."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.found: dict[tuple[bytes, bytes], Node | None] = {}
        self.counts: dict[bytes, int] = {}

    def entries(self, tree_id: bytes) -> int:
        if tree_id not in self.counts:
            found = listing(self.repo, tree_id)
            self.counts[tree_id] = len(found.nodes) + sum(p.count for p in found.parts)
        return self.counts[tree_id]

    def find(self, root: bytes, parts: list[bytes]) -> Node | None:
        tree: bytes | None = root
        node = None
        for part in parts:
            if tree is None:
                return None
            if (tree, part) not in self.found:
                self.found[tree, part] = lookup(self.repo, tree, part)
            node = self.found[tree, part]
            if node is None:
                return None
            tree = node.subtree if node.type == DIR else None
        return node


def _version_key(node: Node) -> tuple[object, ...]:
    """What makes two sightings the same version: the content, not the metadata."""
    if node.type == FILE:
        return (FILE, node.hash)
    if node.type == DIR:
        return (DIR, node.subtree)
    if node.type == SYMLINK:
        return (SYMLINK, node.target)
    return (node.type, node.rdev)


def history(repo: Repository, snapshots: list[Snapshot], path: str) -> list[History]:
    """The versions of `path` per host, oldest first; MissingObject if never backed up."""
    parts = split_path(path)
    if not parts:
        raise MissingObject("history needs a path below /")
    if len(parts) > MAX_DEPTH:  # no snapshot backup writes holds it; a crafted one is refused
        raise TooDeep(b"/" + b"/".join(parts))
    trees = _Trees(repo)
    out: list[History] = []
    for host in sorted({s.host for s in snapshots}):
        h = History(os.fsdecode(b"/" + b"/".join(parts)), host)
        seen: Version | None = None  # the version in the previous covering snapshot
        last_with: Snapshot | None = None
        for snap in (s for s in snapshots if s.host == host and covers(s, parts)):
            node = trees.find(bytes.fromhex(snap.tree), parts)
            if node is None:
                if seen is not None and last_with is not None:
                    h.events.append(Gone(last_with, snap))
                seen = None
                continue
            if seen is not None and _version_key(seen.node) == _version_key(node):
                seen.last, seen.snapshots = snap, seen.snapshots + 1
            else:
                entries = trees.entries(node.subtree) if node.type == DIR and node.subtree else None
                seen = Version(node, snap, snap, entries=entries)
                h.events.append(seen)
            last_with = snap
        if any(isinstance(e, Version) for e in h.events):
            out.append(h)
    if not out:
        raise MissingObject(f"{os.fsdecode(b'/' + b'/'.join(parts))} is in no snapshot")
    return out
