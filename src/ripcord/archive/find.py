"""Finding entries by name, path or mtime across many snapshots.

Snapshots of a mostly unchanged tree share most of their subtrees (same blob
id). The matches found below a tree are kept per tree id, relative to that
tree, so a subtree shared by a thousand snapshots is loaded and walked once.
A folder is read as a stream (a split folder a part at a time), so what a search holds
is its matches, not the entries of the folders it is in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from ripcord.archive.node import DIR, Node
from ripcord.archive.trees import MAX_DEPTH, TooDeep, depth, iter_below
from ripcord.errors import UsageError
from ripcord.repository import Repository, Snapshot

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_ns(t: datetime) -> int:
    """Nanoseconds since the epoch, exactly (a float timestamp loses the last digits)."""
    return (t - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True)
class Criteria:
    """What an entry must satisfy: any of the patterns, and the mtime bounds.

    A pattern without '/' is a glob on the entry's name; one with '/' is a glob
    on the entry's full path (a relative one may match at any depth).
    """

    names: tuple[bytes, ...] = ()
    paths: tuple[bytes, ...] = ()
    newer_ns: int | None = None  # mtime at or after
    older_ns: int | None = None  # mtime strictly before

    @classmethod
    def parse(
        cls, patterns: tuple[str, ...], newer: datetime | None, older: datetime | None
    ) -> Criteria:
        names: list[bytes] = []
        paths: list[bytes] = []
        for text in patterns:
            raw = os.fsencode(text)
            stripped = raw.rstrip(b"/")
            if not stripped:
                raise UsageError(f"pattern {text!r} matches nothing: give a name or a path")
            if b"/" not in stripped:
                names.append(stripped)
            else:
                paths.append(stripped if stripped.startswith(b"/") else b"*/" + stripped)
        return cls(
            tuple(names),
            tuple(paths),
            None if newer is None else time_ns(newer),
            None if older is None else time_ns(older),
        )

    def matches(self, path: bytes, node: Node) -> bool:
        if self.newer_ns is not None and node.mtime_ns < self.newer_ns:
            return False
        if self.older_ns is not None and node.mtime_ns >= self.older_ns:
            return False
        return any(fnmatchcase(node.name, p) for p in self.names) or any(
            fnmatchcase(path, p) for p in self.paths
        )


class Finder:
    """Searches snapshots of one repository, remembering matches per tree id."""

    def __init__(self, repo: Repository, criteria: Criteria) -> None:
        self._repo = repo
        self._criteria = criteria
        # Path patterns depend on where a tree sits, so then the key holds the location too.
        self._memo: dict[tuple[bytes, bytes], list[tuple[bytes, Node]]] = {}
        # how deep entries go below each tree walked: one met again deeper down must
        # still be refused past MAX_DEPTH, as restore would refuse it
        self._height: dict[tuple[bytes, bytes], int] = {}

    def search(self, snap: Snapshot) -> list[tuple[bytes, Node]]:
        """(absolute path, node) of every matching entry of `snap`, depth first by name."""
        return [(b"/" + rel, n) for rel, n in self._below(bytes.fromhex(snap.tree), b"")]

    def _key(self, tree_id: bytes, at: bytes) -> tuple[bytes, bytes]:
        return tree_id, at if self._criteria.paths else b""

    def _known(self, tree_id: bytes, at: bytes) -> bool:
        key = self._key(tree_id, at)
        if key not in self._memo:
            return False
        if depth(at) + self._height[key] > MAX_DEPTH:
            raise TooDeep(at)
        return True

    def _below(self, tree_id: bytes, at: bytes) -> list[tuple[bytes, Node]]:
        """Matches inside the tree `tree_id` located at `at`, paths relative to it; a
        folder met is searched when its entry comes, from a stack of the folders open on
        the way down rather than by recursion (trees can be deep)."""
        if not self._known(tree_id, at):
            stack = [_Open(tree_id, at, iter_below(self._repo, tree_id, at))]
            while stack:
                top = stack[-1]
                if top.waiting is not None:  # its matches are known now
                    self._take(top, *top.waiting)
                    top.waiting = None
                for child in top.kids:
                    top.height = max(top.height, 1)
                    path = top.here + b"/" + child.name
                    if self._criteria.matches(path, child):
                        top.found.append((child.name, child))
                    if child.type == DIR and child.subtree is not None:
                        if not self._known(child.subtree, path):
                            top.waiting = child.name, child.subtree
                            stack.append(_Open(child.subtree, path, iter_below(
                                self._repo, child.subtree, path)))  # fmt: skip
                            break
                        self._take(top, child.name, child.subtree)
                else:
                    key = self._key(top.tree, top.here)
                    self._memo[key], self._height[key] = top.found, top.height
                    stack.pop()
        return self._memo[self._key(tree_id, at)]

    def _take(self, top: _Open, name: bytes, subtree: bytes) -> None:
        """The matches below the folder `name` of `top`, searched already, into top's."""
        sub = self._key(subtree, top.here + b"/" + name)
        prefix = name + b"/"
        top.found.extend((prefix + rel, n) for rel, n in self._memo[sub])
        top.height = max(top.height, 1 + self._height[sub])


@dataclass
class _Open:
    """A folder being searched: its entries still to come, its matches so far."""

    tree: bytes
    here: bytes
    kids: Iterator[Node]
    found: list[tuple[bytes, Node]] = field(default_factory=list)
    height: int = 0  # levels of entries below it seen so far
    waiting: tuple[bytes, bytes] | None = None  # (name, tree) of a folder searched first
