"""What damage costs in files: the entries below a tree that use a lost blob, and the
tree rebuilt without them (for `repair snapshots --forget-broken`).

Trees are content-addressed and shared between snapshots, so each is looked at
once, bottom up, without recursion (trees can be deep).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ripcord.archive.node import (
    SPLIT_VERSION,
    Node,
    Part,
    decode_tree,
    parts_from_wire,
    split_doc,
    tree_doc,
)
from ripcord.errors import CorruptObject
from ripcord.repository import Repository

ReadDoc = Callable[[bytes], Any]  # a tree's document, from wherever it can be read
_Entries = list[tuple[dict[str, Any], Node]]  # (wire node as stored, validated node)


@dataclass
class _Run:
    """A run of a folder's entries: a whole version-1 tree (`part` None), or one part of
    a split tree, its entries None when the part is lost."""

    part: Part | None
    entries: _Entries | None


_Folder = list[_Run]


class LostFinder:
    """Paths are relative to the tree they are asked of: `/a/b.txt` for a lost file,
    `/a/` for a folder whose own listing is lost (with everything below it), `/` when
    the tree itself is lost, and `/a/f0012 (first of 120 entries in a lost part)` for
    the part of a split folder that is lost (the other names in it are unknown)."""

    def __init__(self, repo: Repository, read_doc: ReadDoc, lost: set[bytes]) -> None:
        self.repo, self.read_doc, self.lost = repo, read_doc, lost
        self._paths: dict[bytes, list[bytes]] = {}
        self._new: dict[bytes, bytes] = {}

    def paths(self, root: bytes) -> list[bytes]:
        if root in self.lost:
            return [b"/"]
        self._post_order(root, self._paths, lambda n: True, self._collect)
        return self._paths[root]

    def rewrite(self, root: bytes) -> bytes:
        """The id of `root` saved again without its lost entries (`root` is not lost)."""
        self.paths(root)
        self._post_order(root, self._new, lambda n: bool(self._paths.get(n)), self._rebuild)
        return self._new[root]

    def _sub(self, sub: bytes) -> list[bytes]:
        return [b"/"] if sub in self.lost else self._paths[sub]

    def _collect(self, tree: bytes, folder: _Folder) -> list[bytes]:
        out: list[bytes] = []
        for run in folder:
            if run.entries is None:
                assert run.part is not None
                what = f" (first of {run.part.count} entries in a lost part)".encode()
                out.append(b"/" + run.part.first + what)
                continue
            for _, n in run.entries:
                name = b"/" + n.name
                if n.subtree is not None:
                    out.extend(name + p for p in self._sub(n.subtree))
                elif any(c in self.lost for c in n.content):
                    out.append(name)
        return out

    def _rebuild(self, tree: bytes, folder: _Folder) -> bytes:
        """The tree saved again without what is lost. Of a split tree, the parts left
        whole keep their ids, a part that lost entries is saved again (first name and
        count as they are now), a lost part is dropped; nothing left: an empty tree."""
        if not self._paths[tree]:
            return tree
        if len(folder) == 1 and folder[0].part is None:
            return self.repo.save_tree(tree_doc(self._kept(folder[0].entries or [])[0]))
        parts: list[Part] = []
        for run in folder:
            if run.entries is None or run.part is None:
                continue
            wires, changed = self._kept(run.entries)
            if not changed:
                parts.append(run.part)
            elif wires:
                part_id = self.repo.save_tree(tree_doc(wires))
                parts.append(Part(wires[0]["name"], len(wires), part_id))
        return self.repo.save_tree(split_doc(parts) if parts else tree_doc([]))

    def _kept(self, entries: _Entries) -> tuple[list[dict[str, Any]], bool]:
        """The wire nodes left of `entries`, subtrees rewritten; and whether any changed."""
        wires = []
        for wire, n in entries:
            if n.subtree is not None:
                if n.subtree in self.lost:
                    continue
                new = self._new.get(n.subtree, n.subtree)
                wire = wire if new == n.subtree else {**wire, "subtree": new}
            elif any(c in self.lost for c in n.content):
                continue
            wires.append(wire)
        changed = len(wires) != len(entries) or any(
            w is not e for w, (e, _) in zip(wires, entries, strict=False)
        )
        return wires, changed

    def _post_order(
        self,
        root: bytes,
        done: dict[bytes, Any],
        descend: Callable[[bytes], bool],
        visit: Callable[[bytes, _Folder], Any],
    ) -> None:
        """visit(tree, entries) for `root` and the subtrees `descend` admits, children
        first, each once (results kept in `done`)."""
        opened: dict[bytes, _Folder] = {}
        stack = [root]
        while stack:
            tree = stack[-1]
            if tree in done or tree in self.lost:
                stack.pop()
                continue
            entries = opened.get(tree)
            if entries is None:
                entries = opened[tree] = self._entries(tree)
                subs = [
                    n.subtree
                    for run in entries
                    for _, n in run.entries or []
                    if n.subtree is not None
                    and n.subtree not in done
                    and n.subtree not in self.lost
                    and descend(n.subtree)
                ]
                if subs:
                    stack.extend(subs)
                    continue
            stack.pop()
            done[tree] = visit(tree, opened.pop(tree))

    def _entries(self, tree: bytes) -> _Folder:
        """A folder's entries as runs: one of a version-1 tree, one per part of a split
        tree (a lost part's entries unknown)."""
        doc = self.read_doc(tree)
        if not (isinstance(doc, dict) and doc.get("v") == SPLIT_VERSION):
            return [_Run(None, self._nodes(tree, doc))]
        try:
            parts = parts_from_wire(doc.get("parts"))
        except ValueError as e:
            raise CorruptObject(f"tree {tree.hex()}: malformed ({e})") from None
        return [
            _Run(p, None if p.id in self.lost else self._nodes(p.id, self.read_doc(p.id)))
            for p in parts
        ]

    def _nodes(self, tree: bytes, doc: Any) -> _Entries:
        nodes = decode_tree(doc, f"tree {tree.hex()}", self.repo.id_from_digest)
        return list(zip(doc["nodes"], nodes, strict=True))
