"""Folders of a snapshot, decoded when first browsed and kept in a bounded cache.

A split folder (a version-2 tree, docs/FORMAT.md §Split trees) is cached part by part:
a lookup decodes only the part that can hold the name, a listing walks the parts one
at a time, and no cached item is bigger than a part (at most MAX_PART entries, well
under the budget), so one folder of millions never pins the cache to itself.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ripcord.archive.node import (
    SPLIT_VERSION,
    Node,
    Part,
    check_name,
    check_part,
    decode_tree,
    part_what,
    parts_from_wire,
)
from ripcord.errors import CorruptObject, UnsafePath
from ripcord.mount.lru import LRU

Warn = Callable[[str], None]
TREE_BUDGET = 200_000  # nodes kept decoded (~100 MB at most): far more than one part
WHOLE = -1  # cache key of a tree itself, beside (tree, i) for its part i


class TreeSource(Protocol):
    def load_tree(self, tree_id: bytes) -> object: ...
    def id_from_digest(self, digest: bytes) -> bytes: ...


@dataclass(frozen=True)
class Split:
    """A split tree's parts, and their first names to bisect a lookup on."""

    parts: list[Part]
    firsts: list[bytes] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "firsts", [p.first for p in self.parts])


Folder = dict[bytes, Node]  # a tree's (or a part's) entries by name, in name order


class Trees:
    """Folder contents by tree id, in name order, and single entries by name."""

    def __init__(self, repo: TreeSource, warn: Warn, budget: int = TREE_BUDGET) -> None:
        self.repo, self.warn = repo, warn
        self._cache: LRU[tuple[bytes, int], Folder | Split] = LRU(budget)

    @property
    def held(self) -> int:
        """Entries (and parts listed) kept decoded now."""
        return self._cache.cost

    def entries(self, tree_id: bytes) -> Iterator[Node]:
        """Every entry of the folder; a split one read part after part, so the caller
        holds one part at a time, not the folder."""
        top = self._top(tree_id)
        if isinstance(top, dict):
            yield from top.values()
            return
        for i in range(len(top.parts)):
            yield from self._part(tree_id, top, i).values()

    def lookup(self, tree_id: bytes, name: bytes) -> Node | None:
        """The entry `name`; of a split folder only the part that can hold it is read."""
        top = self._top(tree_id)
        if isinstance(top, dict):
            return top.get(name)
        i = bisect_right(top.firsts, name) - 1
        return None if i < 0 else self._part(tree_id, top, i).get(name)

    def _top(self, tree_id: bytes) -> Folder | Split:
        found = self._cache.get((tree_id, WHOLE))
        if found is None:
            what = f"tree {tree_id.hex()}"
            found = shown_listing(self.repo.load_tree(tree_id), what, self.repo, self.warn)
            cost = len(found.parts) if isinstance(found, Split) else len(found)
            self._cache.put((tree_id, WHOLE), found, cost + 1)
        return found

    def _part(self, tree_id: bytes, split: Split, i: int) -> Folder:
        found = self._cache.get((tree_id, i))
        if found is None:
            what = part_what(tree_id, split.parts, i)
            doc = self.repo.load_tree(split.parts[i].id)
            found = shown_part(doc, what, split.parts, i, self.repo, self.warn)
            self._cache.put((tree_id, i), found, len(found) + 1)
        assert isinstance(found, dict)
        return found


def shown_listing(doc: Any, what: str, repo: TreeSource, warn: Warn) -> Folder | Split:
    """A tree document: a version-1 tree's entries (hostile names skipped), or a split
    tree's parts, checked as node.decode_listing checks them, not yet read."""
    if isinstance(doc, dict) and doc.get("v") == SPLIT_VERSION:
        try:
            if set(doc) != {"v", "parts"}:
                raise ValueError("a split tree needs only parts")
            return Split(parts_from_wire(doc["parts"]))
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptObject(f"{what}: malformed ({e})") from None
    return {n.name: n for n in decode_shown(doc, what, repo, warn)}


def shown_part(
    doc: Any, what: str, parts: list[Part], i: int, repo: TreeSource, warn: Warn
) -> Folder:
    """Part `i`'s entries, hostile names skipped, refused (CorruptObject) when the part
    is not what its tree lists (node.check_part; the skipped count as listed)."""
    nodes = decode_shown(doc, what, repo, warn)  # a version-1 tree, or refused
    check_part(nodes, parts, i, what, listed=len(doc["nodes"]))
    return {n.name: n for n in nodes}


def decode_shown(doc: Any, what: str, repo: TreeSource, warn: Warn) -> list[Node]:
    """A version-1 tree's nodes, but those whose name is not one safe path component:
    each is skipped with a warning, so one hostile name does not hide a whole folder."""
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
