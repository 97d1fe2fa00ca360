"""What changed between two snapshots, as a stream of change records.

Tree ids are content hashes, so a directory whose subtree id is the same on
both sides is identical all the way down and is skipped without being read:
diffing two snapshots of a large, mostly unchanged tree reads only the trees
on the paths to what changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ripcord.archive.node import DIR, FILE, Node
from ripcord.archive.trees import below, split_path
from ripcord.errors import MissingObject
from ripcord.repository import Repository

ADDED, REMOVED, MODIFIED, METADATA, TYPE = "added", "removed", "modified", "metadata", "type"
KINDS = (ADDED, REMOVED, MODIFIED, METADATA, TYPE)

# Metadata compared, by the name reported; atime, ctime, inode, dev and nlink
# change without anyone touching the file, so they are not differences.
_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mode", ("mode",)),
    ("owner", ("uid", "gid", "user", "group")),
    ("mtime", ("mtime_ns",)),
    ("xattrs", ("xattrs",)),
    ("target", ("target",)),
    ("rdev", ("rdev",)),
)


@dataclass(frozen=True)
class Change:
    """One path that differs; `a`/`b` are its node in each snapshot (None if absent)."""

    path: bytes
    kind: str
    a: Node | None
    b: Node | None
    fields: tuple[str, ...] = ()

    @property
    def size_a(self) -> int | None:
        return None if self.a is None else self.a.size

    @property
    def size_b(self) -> int | None:
        return None if self.b is None else self.b.size


@dataclass
class Summary:
    """Counts per kind; bytes of files present only in B (added) or only in A (removed)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    bytes_added: int = 0
    bytes_removed: int = 0

    def add(self, c: Change) -> None:
        self.counts[c.kind] += 1
        if c.kind in (ADDED, TYPE) and c.b is not None and c.b.type == FILE:
            self.bytes_added += c.b.size
        if c.kind in (REMOVED, TYPE) and c.a is not None and c.a.type == FILE:
            self.bytes_removed += c.a.size


def metadata_fields(a: Node, b: Node) -> tuple[str, ...]:
    """Names of the metadata fields that differ between two nodes of the same type."""
    return tuple(
        name for name, attrs in _FIELDS if any(getattr(a, x) != getattr(b, x) for x in attrs)
    )


def diff_trees(repo: Repository, tree_a: bytes, tree_b: bytes, path: str = "/") -> Iterator[Change]:
    """Changes from the tree rooted at `tree_a` to the one at `tree_b`, at and below `path`.

    Raises MissingObject if `path` is in neither tree.
    """
    parts = split_path(path)
    a, b = _lookup(repo, tree_a, parts), _lookup(repo, tree_b, parts)
    if a is None and b is None:
        raise MissingObject(f"{path} is in neither snapshot")
    yield from diff_nodes(repo, a, b, b"/" + b"/".join(parts))


def diff_nodes(repo: Repository, a: Node | None, b: Node | None, path: bytes) -> Iterator[Change]:
    """Changes from node `a` to node `b` (either may be absent) and below, depth first by
    name; a loop over the pairs still to compare, so any depth costs no stack."""
    stack: list[tuple[Node | None, Node | None, bytes]] = [(a, b, path)]
    while stack:
        a, b, path = stack.pop()
        if a is None or b is None:  # only on one side: it and all below it went or came
            kind = REMOVED if b is None else ADDED
            yield Change(path, kind, a, b)
            stack.extend(_pairs(repo, a, b, path))
            continue
        if a.type != b.type:
            yield Change(path, TYPE, a, b)
            stack.extend(_pairs(repo, None, b, path))  # popped after the removed ones
            stack.extend(_pairs(repo, a, None, path))
            continue
        fields = metadata_fields(a, b)
        if a.type == FILE and (a.hash, a.content) != (b.hash, b.content):
            yield Change(path, MODIFIED, a, b, ("content", *fields))
        elif fields:
            yield Change(path, METADATA, a, b, fields)
        if a.type == DIR and a.subtree != b.subtree:
            stack.extend(_pairs(repo, a, b, path))


def _pairs(
    repo: Repository, a: Node | None, b: Node | None, path: bytes
) -> list[tuple[Node | None, Node | None, bytes]]:
    """The entries of two directories paired by name (a side that is None or not a dir
    has none), last name first: pushed on a stack, they pop in name order."""
    left, right = _entries(repo, a, path), _entries(repo, b, path)
    base = path.rstrip(b"/") + b"/"
    names = sorted(left.keys() | right.keys(), reverse=True)
    return [(left.get(n), right.get(n), base + n) for n in names]


def _entries(repo: Repository, n: Node | None, path: bytes) -> dict[bytes, Node]:
    if n is None or n.type != DIR or n.subtree is None:
        return {}
    return {c.name: c for c in below(repo, n.subtree, path)}


def _lookup(repo: Repository, root: bytes, parts: list[bytes]) -> Node | None:
    """The node at `parts` below `root`, or None if the path is not in that tree."""
    node: Node | None = Node(name=b"/", type=DIR, subtree=root)
    for part in parts:
        node = _entries(repo, node, b"").get(part)
        if node is None:
            return None
    return node
