"""Reading trees back: nodes of a directory, and walking a snapshot by path."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ripcord.archive.node import DIR, Node, decode_tree, tree_refs
from ripcord.errors import CorruptObject, RipcordError
from ripcord.repository import Repository


def load_nodes(repo: Repository, tree_id: bytes) -> list[Node]:
    return decode_tree(repo.load_tree(tree_id), f"tree {tree_id.hex()}", repo.id_from_digest)


MAX_DEPTH = 256  # folders within folders: readers recurse, and a backup never goes deeper


def below(repo: Repository, tree_id: bytes, path: bytes) -> list[Node]:
    """The nodes of the folder at `path`, refused past MAX_DEPTH: a crafted snapshot
    nested thousands deep must be an error, not a RecursionError."""
    if path.count(b"/") > MAX_DEPTH:
        raise CorruptObject(f"{os.fsdecode(path)}: folders nested deeper than {MAX_DEPTH} levels")
    return load_nodes(repo, tree_id)


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
    for part in split_path(path):
        if node.type != DIR or node.subtree is None:
            raise RipcordError(f"{os.fsdecode(walked) or '/'} is not a directory in the snapshot")
        walked += b"/" + part
        match = [n for n in load_nodes(repo, node.subtree) if n.name == part]
        if not match:
            raise RipcordError(f"{os.fsdecode(walked)} is not in the snapshot")
        node = match[0]
        out.append(node)
    return out


def walk(repo: Repository, node: Node, path: bytes) -> Iterator[tuple[bytes, Node]]:
    """(path, node) for `node` and everything below it, depth first, by name."""
    yield path, node
    if node.type == DIR and node.subtree is not None:
        for child in below(repo, node.subtree, path):
            yield from walk(repo, child, path.rstrip(b"/") + b"/" + child.name)
