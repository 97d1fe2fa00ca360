"""Cutting a folder's tree into parts as its entries come (docs/FORMAT.md §Split trees).

A folder of a million entries would be one tree blob of ~200 MB: over the bound any
reader accepts, and held whole in memory by whoever writes or reads it. Its entries
are cut instead into runs of a few thousand, each saved as a version-1 tree the moment
it fills, and the folder's tree lists them. Cuts fall after names whose hash says so
(content-defined, as chunks are cut), so a file added or removed rewrites the part
around it, and every other part keeps its id. A folder of fewer than MIN_PART entries
is never cut: its tree is the version-1 tree it always was.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Any

import blake3

from ripcord.archive.node import Part, split_doc, tree_doc
from ripcord.repository.repository import TreeTooLarge

Wire = dict[str, Any]

MIN_PART = 4096  # entries before a content-defined cut may fall
CUT_MASK = 4095  # a cut follows a name whose hash has these bits clear: 1 in 4096
MAX_PART = 65536  # entries in a part, cut or not (a crafted run of names never cuts)
PART_BYTES = 8 << 20  # a part's estimated encoding: cut at this whatever the count
NODE_BYTES = 160  # a node's encoding less its name, content, target and xattrs


class TreeWriter:
    """A folder's entries in, its tree id out. `save` stores one tree document and
    returns its id (Repository.save_tree). A part it refuses as too large (a node of
    ~50 MB: a file of ~1.5 M chunks) is left out and handed to `lost` with its count,
    so that the tree saved still restores."""

    def __init__(
        self, save: Callable[[object], bytes], lost: Callable[[int, TreeTooLarge], None]
    ) -> None:
        self.save, self.lost = save, lost
        self.wires: list[Wire] = []  # the part being filled: the whole folder until a cut
        self.parts: list[Part] = []
        self._bytes = 0

    def append(self, wire: Wire) -> None:
        self.wires.append(wire)
        self._bytes += weight(wire)
        n = len(self.wires)
        if self._bytes >= PART_BYTES or (
            n >= MIN_PART and (n >= MAX_PART or cuts_after(wire["name"]))
        ):
            self._flush()

    @property
    def count(self) -> int:
        return sum(p.count for p in self.parts) + len(self.wires)

    def close(self) -> bytes:
        """Save what is left; the tree's id (a version-1 tree when it was never cut)."""
        if not self.parts:  # never cut: one version-1 tree, as every folder once was
            tree = self._save(self.wires)
            return tree if tree is not None else self.save(tree_doc([]))
        if self.wires:
            self._flush()
        return self.save(split_doc(self.parts))

    def _flush(self) -> None:
        wires, self.wires, self._bytes = self.wires, [], 0
        part_id = self._save(wires)
        if part_id is not None:
            self.parts.append(Part(wires[0]["name"], len(wires), part_id))

    def _save(self, wires: list[Wire]) -> bytes | None:
        try:
            return self.save(tree_doc(wires))
        except TreeTooLarge as e:
            self.lost(len(wires), e)
            return None


def cuts_after(name: bytes) -> bool:
    """Whether a part may end after the entry `name`: a property of the name alone, so
    the same names cut the same way in every backup."""
    return int.from_bytes(blake3.blake3(name).digest(4), "little") & CUT_MASK == 0


def weight(wire: Wire) -> int:
    """About how many bytes a wire node encodes to, without encoding it (a folder that
    never reaches a cut is never encoded twice)."""
    n = NODE_BYTES + len(wire["name"]) + 34 * len(wire.get("content", ()))
    n += len(wire.get("target", b""))
    xattrs = wire.get("xattrs")
    if xattrs:
        n += sum(len(k) + len(v) + 6 for k, v in xattrs.items())
    return n


class PartedEntries:
    """A parent snapshot's split folder looked up by name, two parts held at a time.
    Backup asks in name order, once to pick the small files to read ahead and then as
    the walk reaches each entry, with the read-ahead a few hundred names in front: two
    parts held, each is read about once per pass. `load` gives a part's wire nodes ([]
    when it cannot be read: its files are read again, nothing worse)."""

    HELD = 2

    def __init__(self, parts: list[Part], load: Callable[[bytes], list[Wire]]) -> None:
        self.parts, self.load = parts, load
        self._firsts = [p.first for p in parts]
        self._held: dict[int, dict[bytes, Wire]] = {}  # by part index, oldest first

    def get(self, name: bytes) -> Wire | None:
        i = bisect_right(self._firsts, name) - 1
        if i < 0:
            return None
        held = self._held.get(i)
        if held is None:
            if len(self._held) >= self.HELD:
                del self._held[next(iter(self._held))]
            held = self._held[i] = {w["name"]: w for w in self.load(self.parts[i].id)}
        return held.get(name)
