"""What changed between two snapshots, as a stream of change records.

Tree ids are content hashes, so a directory whose subtree id is the same on
both sides is identical all the way down and is skipped without being read:
diffing two snapshots of a large, mostly unchanged tree reads only the trees
on the paths to what changed. So with a folder split in parts: a part with the same
id on both sides holds the same entries and is skipped unread, so a file added to a
folder of a million entries costs the one part around it, and a folder pair is walked
holding a part of each side at a time, never the whole folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain

from ripcord.archive.node import DIR, FILE, Node, Part
from ripcord.archive.trees import listing_below, lookup, part_nodes, split_path
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
    name; a loop over the folder pairs open on the way down, so any depth costs no stack."""
    stack: list[Iterator[_Pair]] = [iter([(a, b, path)])]
    while stack:
        pair = next(stack[-1], None)
        if pair is None:
            stack.pop()
            continue
        a, b, path = pair
        if a is None or b is None:  # only on one side: it and all below it went or came
            yield Change(path, REMOVED if b is None else ADDED, a, b)
            stack.append(_pairs(repo, a, b, path))
            continue
        if a.type != b.type:
            yield Change(path, TYPE, a, b)  # what went, then what came
            stack.append(chain(_pairs(repo, a, None, path), _pairs(repo, None, b, path)))
            continue
        fields = metadata_fields(a, b)
        if a.type == FILE and (a.hash, a.content) != (b.hash, b.content):
            yield Change(path, MODIFIED, a, b, ("content", *fields))
        elif fields:
            yield Change(path, METADATA, a, b, fields)
        if a.type == DIR and a.subtree != b.subtree:
            stack.append(_pairs(repo, a, b, path))


_Pair = tuple[Node | None, Node | None, bytes]


def _pairs(repo: Repository, a: Node | None, b: Node | None, path: bytes) -> Iterator[_Pair]:
    """The entries of two folders paired by name, in name order (a side that is None or
    not a folder has none). Where both sides are about to start a part of the same id,
    that part is skipped: the same entries on both sides, so nothing in it differs."""
    left, right = _Entries(repo, a, path), _Entries(repo, b, path)
    base = path.rstrip(b"/") + b"/"
    while True:
        if left.same_part_next(right):
            left.skip_part()
            right.skip_part()
            continue
        x, y = left.head(), right.head()
        if x is None and y is None:
            return
        if y is None or (x is not None and x < y):
            yield left.take(), None, base + left.taken
        elif x is None or y < x:
            yield None, right.take(), base + right.taken
        else:
            yield left.take(), right.take(), base + left.taken


class _Entries:
    """A folder's entries in name order, read a part at a time: the next name is known
    from a part's listing before the part is read, so a part can be passed over unread."""

    def __init__(self, repo: Repository, n: Node | None, path: bytes) -> None:
        self.repo = repo
        self.tree = n.subtree if n is not None and n.type == DIR else None
        self.nodes: list[Node] = []
        self.parts: list[Part] = []
        if self.tree is not None:
            found = listing_below(repo, self.tree, path)
            self.nodes, self.parts = found.nodes, found.parts
        self.at = 0  # the next of `nodes`
        self.part = 0  # the next of `parts`, once `nodes` is handed out
        self.taken = b""  # the name of the entry last taken

    def head(self) -> bytes | None:
        """The next entry's name, None at the end."""
        if self.at < len(self.nodes):
            return self.nodes[self.at].name
        return self.parts[self.part].first if self.part < len(self.parts) else None

    def take(self) -> Node:
        if self.at == len(self.nodes):
            assert self.tree is not None  # only a folder with parts left has a head here
            self.nodes, self.at = part_nodes(self.repo, self.tree, self.parts, self.part), 0
            self.part += 1
        node = self.nodes[self.at]
        self.at += 1
        self.taken = node.name
        return node

    def same_part_next(self, other: _Entries) -> bool:
        """Whether both sides are between parts and their next parts have the same id."""
        return (
            self.at == len(self.nodes)
            and other.at == len(other.nodes)
            and self.part < len(self.parts)
            and other.part < len(other.parts)
            and self.parts[self.part].id == other.parts[other.part].id
        )

    def skip_part(self) -> None:
        self.part += 1


def _lookup(repo: Repository, root: bytes, parts: list[bytes]) -> Node | None:
    """The node at `parts` below `root`, or None if the path is not in that tree."""
    node: Node | None = Node(name=b"/", type=DIR, subtree=root)
    for part in parts:
        if node is None or node.type != DIR or node.subtree is None:
            return None
        node = lookup(repo, node.subtree, part)
    return node
