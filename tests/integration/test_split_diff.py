"""diff and the change guard on split folders (archive/diff.py): the same changes, in the
same order, as when the folder is one tree; and a part with the same id on both sides
is skipped unread, so one file added to a big folder reads the part around it."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from ripcord.archive import parts
from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.diff import diff_trees
from ripcord.archive.trees import listing
from ripcord.guard.changes import measure
from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import FAST_KDF, PASSWORD
from tests.splits import folder_tree, small_parts

FILES = 400
MIDDLE = FILES // 2


def make_folder(big: Path) -> None:
    (big / f"sub-{MIDDLE:04}" / "deeper").mkdir(parents=True)
    (big / f"sub-{MIDDLE:04}" / "deeper" / "inside.txt").write_text("below a folder\n")
    (big / f"sub-{MIDDLE + 3:04}").mkdir()
    (big / f"sub-{MIDDLE + 3:04}" / "leaves.txt").write_text("goes with its folder\n")
    for i in range(FILES):
        (big / f"file-{i:04}.txt").write_text(f"file {i}\n" * (i % 5))
    (big / f"file-{MIDDLE + 5:04}.swap").write_text("a file that becomes a folder\n")


def change_middle(big: Path) -> None:
    """Every kind of change, all in the middle of the folder: in one or two parts."""
    (big / f"file-{MIDDLE:04}.txt~").write_text("added\n")
    (big / f"file-{MIDDLE + 1:04}.txt").unlink()
    (big / f"file-{MIDDLE + 2:04}.txt").write_text("changed content\n")
    (big / f"file-{MIDDLE + 4:04}.txt").chmod(0o600)
    (big / f"sub-{MIDDLE:04}" / "deeper" / "inside.txt").write_text("changed below\n")
    for p in sorted((big / f"sub-{MIDDLE + 3:04}").iterdir()):
        p.unlink()
    (big / f"sub-{MIDDLE + 3:04}").rmdir()
    swap = big / f"file-{MIDDLE + 5:04}.swap"
    swap.unlink()
    swap.mkdir()
    (swap / "now.txt").write_text("a folder now\n")


def backups(root: Path, src: Path, steps: list[Any]) -> tuple[Repository, list[bytes]]:
    """A fresh repository with one backup of `src` after each step; its root tree ids."""
    repo = Repository.init(LocalStore(root, create=True), PASSWORD.encode(), FAST_KDF)
    for step in steps:
        step()
        Backup(repo, BackupOptions([str(src)])).run()
    snaps = sorted(repo.snapshots(), key=lambda s: s.time)
    return repo, [bytes.fromhex(s.tree) for s in snaps]


def changes(repo: Repository, a: bytes, b: bytes) -> list[tuple[bytes, str, tuple[str, ...]]]:
    """What a diff reports, less the blob ids (each repository has its own key)."""
    return [(c.path, c.kind, c.fields) for c in diff_trees(repo, a, b)]


def test_split_and_whole_folders_diff_and_guard_alike_and_equal_parts_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    big = src / "big"
    big.mkdir(parents=True)
    steps = [lambda: make_folder(big), lambda: change_middle(big)]
    whole, (wa, wb) = backups(tmp_path / "whole", src, [*steps])
    assert parts.MIN_PART > FILES  # the folder is one tree here
    for p in sorted(big.rglob("*"), reverse=True):  # the same source again, from scratch
        p.rmdir() if p.is_dir() else p.unlink()
    small_parts(monkeypatch, every=16)
    split, (sa, sb) = backups(tmp_path / "split", src, [*steps])
    a_parts = listing(split, folder_tree(split, sa, big)).parts
    b_parts = listing(split, folder_tree(split, sb, big)).parts
    shared = {p.id for p in a_parts} & {p.id for p in b_parts}
    assert len(a_parts) >= 8 and len(shared) >= len(a_parts) - 4, "changes in one or two parts"

    read: list[bytes] = []
    real = split.read_blob

    def read_blob(blob_id: bytes) -> bytes:
        read.append(blob_id)
        return real(blob_id)

    monkeypatch.setattr(split, "read_blob", read_blob)
    found = changes(split, sa, sb)
    assert found == changes(whole, wa, wb)
    assert changes(split, sb, sa) == changes(whole, wb, wa)
    assert not shared & set(read), "a part the same on both sides was read"
    kinds = {(os.path.basename(p), k) for p, k, _ in found}
    assert {
        (f"file-{MIDDLE:04}.txt~".encode(), "added"),
        (f"file-{MIDDLE + 1:04}.txt".encode(), "removed"),
        (f"file-{MIDDLE + 2:04}.txt".encode(), "modified"),
        (f"file-{MIDDLE + 4:04}.txt".encode(), "metadata"),
        (b"inside.txt", "modified"),
        (b"leaves.txt", "removed"),
        (f"file-{MIDDLE + 5:04}.swap".encode(), "type"),
        (b"now.txt", "added"),
    } <= kinds
    assert asdict(measure(split, sa, sb)) == asdict(measure(whole, wa, wb))
    assert asdict(measure(split, None, sa)) == asdict(measure(whole, None, wa))
    whole.close()
    split.close()
