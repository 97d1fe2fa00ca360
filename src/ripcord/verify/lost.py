"""What damage costs in files: the entries below a tree that use a lost blob, and the
tree rebuilt without them (for `repair snapshots --forget-broken`).

Trees are content-addressed and shared between snapshots, so each is looked at
once, bottom up, without recursion (trees can be deep).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ripcord.archive.node import Node, decode_tree, tree_doc
from ripcord.repository import Repository

ReadDoc = Callable[[bytes], Any]  # a tree's document, from wherever it can be read
_Entries = list[tuple[dict[str, Any], Node]]  # (wire node as stored, validated node)


class LostFinder:
    """Paths are relative to the tree they are asked of: `/a/b.txt` for a lost file,
    `/a/` for a folder whose own listing is lost (with everything below it), `/` when
    the tree itself is lost."""

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

    def _collect(self, tree: bytes, entries: _Entries) -> list[bytes]:
        out: list[bytes] = []
        for _, n in entries:
            name = b"/" + n.name
            if n.subtree is not None:
                out.extend(name + p for p in self._sub(n.subtree))
            elif any(c in self.lost for c in n.content):
                out.append(name)
        return out

    def _rebuild(self, tree: bytes, entries: _Entries) -> bytes:
        if not self._paths[tree]:
            return tree
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
        return self.repo.save_tree(tree_doc(wires))

    def _post_order(
        self,
        root: bytes,
        done: dict[bytes, Any],
        descend: Callable[[bytes], bool],
        visit: Callable[[bytes, _Entries], Any],
    ) -> None:
        """visit(tree, entries) for `root` and the subtrees `descend` admits, children
        first, each once (results kept in `done`)."""
        opened: dict[bytes, _Entries] = {}
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
                    for _, n in entries
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

    def _entries(self, tree: bytes) -> _Entries:
        doc = self.read_doc(tree)
        nodes = decode_tree(doc, f"tree {tree.hex()}", self.repo.id_from_digest)
        return list(zip(doc["nodes"], nodes, strict=True))
