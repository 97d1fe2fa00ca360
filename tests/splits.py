"""Split trees at test scale: parts of a few entries instead of a few thousand, so a
folder of a hundred entries is stored as a real split tree (archive/parts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ripcord.archive import parts
from ripcord.archive.trees import lookup
from ripcord.repository import Repository


def small_parts(monkeypatch: pytest.MonkeyPatch, every: int = 4) -> None:
    """Cut folders after at least `every` entries, about one cut per `every` names after
    that, and never more than 4 × `every` entries in a part."""
    assert every & (every - 1) == 0, "a power of two: the cut is a mask of a hash"
    monkeypatch.setattr(parts, "MIN_PART", every)
    monkeypatch.setattr(parts, "CUT_MASK", every - 1)
    monkeypatch.setattr(parts, "MAX_PART", 4 * every)


def folder_tree(repo: Repository, root: bytes, path: Path) -> bytes:
    """The tree id of the folder at the absolute `path` below the root tree `root`."""
    tree = root
    for name in path.parts[1:]:
        node = lookup(repo, tree, name.encode())
        assert node is not None and node.subtree is not None, f"{name} is not a folder"
        tree = node.subtree
    return tree
