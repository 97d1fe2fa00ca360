"""A folder shown a page at a time: a folder of a million entries is not a page of a
million rows. Pages run by name (the entries after one name, or before one), so a
split folder (docs/FORMAT.md §Split trees) reads only the parts a page spans."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from ripcord.archive.node import Node
from ripcord.archive.trees import listing_below, part_nodes
from ripcord.repository import Repository

PAGE = 1000  # entries a page shows


@dataclass(frozen=True)
class Page:
    """Entries of a folder in name order, and whether any lie before or after them."""

    nodes: list[Node]
    more_before: bool
    more_after: bool


@dataclass(frozen=True)
class _Runs:
    """A folder as runs of entries in name order: a split tree's parts, or one run."""

    firsts: list[bytes]  # the least name each run may hold
    read: Callable[[int], list[Node]]


def _runs(repo: Repository, tree_id: bytes, path: bytes) -> _Runs:
    found = listing_below(repo, tree_id, path)  # refused past MAX_DEPTH, as below() is
    if not found.parts:
        return _Runs([b""], lambda _: found.nodes)
    parts = found.parts
    return _Runs([p.first for p in parts], lambda i: part_nodes(repo, tree_id, parts, i))


def page_after(
    repo: Repository, tree_id: bytes, path: bytes, after: bytes | None, size: int = PAGE
) -> Page:
    """Up to `size` entries named after `after` (from the first without it)."""
    runs = _runs(repo, tree_id, path)
    i = 0 if after is None else max(bisect_right(runs.firsts, after) - 1, 0)
    more_before = i > 0
    out: list[Node] = []
    while i < len(runs.firsts) and len(out) <= size:
        for n in runs.read(i):
            if after is None or n.name > after:
                out.append(n)
            else:
                more_before = True
        i += 1
    return Page(out[:size], more_before, len(out) > size)


def page_before(
    repo: Repository, tree_id: bytes, path: bytes, before: bytes, size: int = PAGE
) -> Page:
    """Up to `size` entries named before `before`, the last of them just before it; the
    first page when fewer are there (a page going back is as full as one going on)."""
    runs = _runs(repo, tree_id, path)
    i = bisect_left(runs.firsts, before) - 1
    more_after = i + 1 < len(runs.firsts)
    out: list[Node] = []
    while i >= 0 and len(out) <= size:
        run = runs.read(i)
        kept = [n for n in run if n.name < before]
        more_after = more_after or len(kept) < len(run)
        out = kept + out
        i -= 1
    if len(out) <= size:
        return page_after(repo, tree_id, path, None, size)
    return Page(out[-size:], True, more_after)
