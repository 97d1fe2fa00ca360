"""Every version of one path across snapshots, and when it vanished.

Only the trees along the path are read, each distinct tree once: a directory
that did not change between snapshots has the same tree id (ids are content
hashes), so a thousand snapshots of a quiet tree cost a handful of reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ripcord.archive.node import DIR, FILE, SYMLINK, Node
from ripcord.archive.trees import MAX_DEPTH, TooDeep, load_nodes, split_path
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
    """Children of each tree read so far, by tree id."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.children: dict[bytes, dict[bytes, Node]] = {}

    def of(self, tree_id: bytes) -> dict[bytes, Node]:
        kids = self.children.get(tree_id)
        if kids is None:
            kids = self.children[tree_id] = {n.name: n for n in load_nodes(self.repo, tree_id)}
        return kids

    def find(self, root: bytes, parts: list[bytes]) -> Node | None:
        tree: bytes | None = root
        node = None
        for part in parts:
            if tree is None:
                return None
            node = self.of(tree).get(part)
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
                entries = len(trees.of(node.subtree)) if node.type == DIR and node.subtree else None
                seen = Version(node, snap, snap, entries=entries)
                h.events.append(seen)
            last_with = snap
        if any(isinstance(e, Version) for e in h.events):
            out.append(h)
    if not out:
        raise MissingObject(f"{os.fsdecode(b'/' + b'/'.join(parts))} is in no snapshot")
    return out
