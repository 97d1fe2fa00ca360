"""Folders of a snapshot, decoded when first browsed and kept in a bounded cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ripcord.archive.node import Node, check_name, decode_tree
from ripcord.errors import UnsafePath
from ripcord.mount.lru import LRU

Warn = Callable[[str], None]
TREE_BUDGET = 200_000  # nodes kept decoded (~100 MB at most): far more than one folder


class TreeSource(Protocol):
    def load_tree(self, tree_id: bytes) -> object: ...
    def id_from_digest(self, digest: bytes) -> bytes: ...


class Trees:
    """Folder contents by tree id: {name: node}, in name order."""

    def __init__(self, repo: TreeSource, warn: Warn, budget: int = TREE_BUDGET) -> None:
        self.repo, self.warn = repo, warn
        self._cache: LRU[bytes, dict[bytes, Node]] = LRU(budget)

    def entries(self, tree_id: bytes) -> dict[bytes, Node]:
        found = self._cache.get(tree_id)
        if found is None:
            nodes = decode_shown(self.repo.load_tree(tree_id), tree_id, self.repo, self.warn)
            found = {n.name: n for n in nodes}
            self._cache.put(tree_id, found, len(found) + 1)
        return found


def decode_shown(doc: Any, tree_id: bytes, repo: TreeSource, warn: Warn) -> list[Node]:
    """A tree's nodes, but those whose name is not one safe path component: each is
    skipped with a warning, so one hostile name does not hide a whole folder."""
    what = f"tree {tree_id.hex()}"
    if isinstance(doc, dict) and isinstance(doc.get("nodes"), list):
        kept = []
        for wire in doc["nodes"]:
            try:
                if isinstance(wire, dict) and "name" in wire:
                    check_name(wire["name"])
            except UnsafePath as e:
                warn(f"{what}: {e}; not shown")
                continue
            kept.append(wire)
        doc = {**doc, "nodes": kept}
    return decode_tree(doc, what, repo.id_from_digest)
