"""Reading trees back: nodes of a directory, and walking a snapshot by path."""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Iterator

from ripcord.archive.node import (
    DIR,
    Listing,
    Node,
    Part,
    check_part,
    decode_listing,
    decode_tree_data,
    part_what,
    tree_refs,
)
from ripcord.errors import CorruptObject, RipcordError
from ripcord.repository import Repository


def listing(repo: Repository, tree_id: bytes) -> Listing:
    """A tree blob decoded: nodes, or a split tree's parts (not yet read)."""
    return decode_listing(repo.read_blob(tree_id), f"tree {tree_id.hex()}", repo.id_from_digest)


def load_nodes(repo: Repository, tree_id: bytes) -> list[Node]:
    """A folder's nodes in name order, whether its tree is one blob or split in parts."""
    return list(iter_nodes(repo, tree_id))


def iter_nodes(repo: Repository, tree_id: bytes) -> Iterator[Node]:
    """A folder's nodes in name order; a split tree's parts are read one at a time, so
    a walk over a folder of millions holds one part's nodes, not the folder's."""
    found = listing(repo, tree_id)
    yield from found.nodes
    for i in range(len(found.parts)):
        yield from part_nodes(repo, tree_id, found.parts, i)


def part_nodes(repo: Repository, tree_id: bytes, parts: list[Part], i: int) -> list[Node]:
    """The nodes of a split tree's part `i`, checked to be what the tree lists
    (node.check_part)."""
    what = part_what(tree_id, parts, i)
    nodes = decode_tree_data(repo.read_blob(parts[i].id), what, repo.id_from_digest)
    return check_part(nodes, parts, i, what)


def lookup(repo: Repository, tree_id: bytes, name: bytes) -> Node | None:
    """The entry `name` of a folder; of a split tree only the part that can hold it is read."""
    found = listing(repo, tree_id)
    if found.parts:
        i = bisect_right([p.first for p in found.parts], name) - 1
        if i < 0:
            return None
        found.nodes = part_nodes(repo, tree_id, found.parts, i)
    return next((n for n in found.nodes if n.name == name), None)


MAX_DEPTH = 1024
"""Path components an entry may lie below the snapshot root. Backup stores nothing
deeper and every reader refuses to go deeper, so whatever backup wrote restores; the
walks are iterative, so this is not Python's recursion limit. A path of 1024 one-letter
components is half of Linux's PATH_MAX."""


def depth(path: bytes) -> int:
    """Components of a path in a snapshot: 0 for '/' (or ''), 2 for '/a/b'."""
    return sum(1 for c in path.split(b"/") if c)


class TooDeep(CorruptObject):
    """folders nested deeper than MAX_DEPTH: a crafted snapshot, never one backup wrote"""

    def __init__(self, path: bytes) -> None:
        super().__init__(f"{os.fsdecode(path)}: folders nested deeper than {MAX_DEPTH} levels")


def below(repo: Repository, tree_id: bytes, path: bytes) -> list[Node]:
    """The nodes of the folder at `path`, refused when they would lie deeper than
    MAX_DEPTH (an empty folder at the limit is fine). Every walk that follows paths
    down a snapshot reads folders through this one gate (or `listing_below`)."""
    return list(iter_below(repo, tree_id, path))


def listing_below(repo: Repository, tree_id: bytes, path: bytes) -> Listing:
    """The listing of the folder at `path`, its parts not yet read, refused past
    MAX_DEPTH as `below` refuses: for walks that take a split folder a part at a time."""
    found = listing(repo, tree_id)
    if (found.nodes or found.parts) and depth(path) >= MAX_DEPTH:
        raise TooDeep(path)
    return found


def iter_below(repo: Repository, tree_id: bytes, path: bytes) -> Iterator[Node]:
    """`below` as a stream: a split folder holds one part in memory, not all of it."""
    found = listing_below(repo, tree_id, path)
    yield from found.nodes
    for i in range(len(found.parts)):
        yield from part_nodes(repo, tree_id, found.parts, i)


def load_refs(repo: Repository, tree_id: bytes) -> tuple[list[bytes], list[bytes]]:
    """(content blob ids, subtree ids) of one tree: what walks over everything need."""
    return tree_refs(repo.load_tree(tree_id), f"tree {tree_id.hex()}", repo.id_from_digest)


def split_path(path: str | bytes) -> list[bytes]:
    """Components of an absolute path in a snapshot ('/a/b' -> [b'a', b'b'])."""
    raw = os.fsencode(path)
    return [c for c in os.path.normpath(raw).split(b"/") if c and c != b"."]


def find(repo: Repository, root: bytes, path: str | bytes) -> Node:
    """The node at `path` in the tree rooted at `root`; the root itself for '/'."""
    return along(repo, root, path)[-1]


def along(repo: Repository, root: bytes, path: str | bytes) -> list[Node]:
    """The root's node and the node of every component of `path`, in one walk down."""
    node = Node(name=b"/", type=DIR, subtree=root, mode=0o755)
    out = [node]
    walked = b""
    parts = split_path(path)
    if len(parts) > MAX_DEPTH:
        raise TooDeep(b"/" + b"/".join(parts))
    for part in parts:
        if node.type != DIR or node.subtree is None:
            raise RipcordError(f"{os.fsdecode(walked) or '/'} is not a directory in the snapshot")
        walked += b"/" + part
        match = lookup(repo, node.subtree, part)
        if match is None:
            raise RipcordError(f"{os.fsdecode(walked)} is not in the snapshot")
        node = match
        out.append(node)
    return out


def walk(repo: Repository, node: Node, path: bytes) -> Iterator[tuple[bytes, Node]]:
    """(path, node) for `node` and everything below it, depth first, by name; a loop,
    not recursion, so depth costs memory for the folders open on the way down, not
    stack, and each of those holds one part of its entries, not all of them."""
    yield path, node
    stack = [_children(repo, path, node)]
    while stack:
        found = next(stack[-1], None)
        if found is None:
            stack.pop()
            continue
        yield found
        stack.append(_children(repo, *found))


def _children(repo: Repository, path: bytes, node: Node) -> Iterator[tuple[bytes, Node]]:
    if node.type == DIR and node.subtree is not None:
        base = path.rstrip(b"/") + b"/"
        yield from ((base + c.name, c) for c in iter_below(repo, node.subtree, path))
