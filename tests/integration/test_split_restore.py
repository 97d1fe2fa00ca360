"""Restore takes a split folder a part at a time (archive/restore.py): a folder of a
million entries holds one part's nodes and blob locations, not the million; and a part
that cannot be read costs its entries, not the rest of the folder."""

from __future__ import annotations

import os
import tracemalloc
from collections import deque
from pathlib import Path

import pytest

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.node import DIR, Node, Part, split_doc
from ripcord.archive.restore import RestoreOptions, Restorer
from ripcord.archive.trees import listing, load_nodes, lookup, part_nodes, walk
from ripcord.errors import EXIT_PARTIAL
from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import FAST_KDF, PASSWORD, Cli
from tests.faults import api_repo, hostile_snapshot, raw_node
from tests.splits import small_parts

ENTRIES = 20_000


def empty_files(root: Path, count: int) -> Path:
    root.mkdir(parents=True)
    for i in range(count):
        os.close(os.open(root / f"f{i:07}", os.O_CREAT | os.O_WRONLY, 0o644))
    return root


def folder_tree(repo: Repository, path: Path) -> bytes:
    """The tree id of the folder at `path` in the repository's one snapshot."""
    (snap,) = repo.snapshots()
    tree = bytes.fromhex(snap.tree)
    for name in path.parts[1:]:
        node = lookup(repo, tree, name.encode())
        assert node is not None and node.subtree is not None
        tree = node.subtree
    return tree


def traced_peak(run: object) -> int:
    """The traced peak, in bytes, of calling `run`."""
    assert callable(run)
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_split_folder_restores_and_walks_holding_one_part_not_every_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_parts(monkeypatch, every=256)  # parts of 256..1024 entries: ~40 parts
    src = empty_files(tmp_path / "src", ENTRIES)
    with Repository.init(
        LocalStore(tmp_path / "repo", create=True), PASSWORD.encode(), FAST_KDF
    ) as repo:
        assert not Backup(repo, BackupOptions([str(src)])).run().errors
        tree = folder_tree(repo, src)
        assert len(listing(repo, tree).parts) >= 10
        whole = traced_peak(lambda: load_nodes(repo, tree))  # every node held at once
        folder = Node(name=b"src", type=DIR, subtree=tree)
        walked = traced_peak(lambda: deque(walk(repo, folder, b"/src"), maxlen=0))
        (snap,) = repo.snapshots()
        target = tmp_path / "back"
        options = RestoreOptions(str(target), verify=True)
        report: list[object] = []
        peak = traced_peak(lambda: report.append(Restorer(repo, snap, options).run()))
    (done,) = report
    assert getattr(done, "files", None) == ENTRIES and not getattr(done, "errors", True)
    assert len(os.listdir(target / src.relative_to("/"))) == ENTRIES
    # holding every node (what restore did before) is ~0.5 KiB an entry; a part is 1/40
    assert peak < whole / 3, f"restore peaked at {peak} bytes, every node is {whole}"
    assert walked < whole / 3, f"a walk peaked at {walked} bytes, every node is {whole}"


def test_an_unreadable_part_costs_its_entries_and_the_other_parts_restore(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_parts(monkeypatch, every=16)
    big = tmp_path / "src" / "big"
    big.mkdir(parents=True)
    for i in range(300):
        (big / f"file-{i:04}").write_text(f"file {i}\n")
    cli.ok("backup", str(big))
    with api_repo(cli) as repo:
        tree = folder_tree(repo, big)
        parts = listing(repo, tree).parts
        at = len(parts) // 2
        gone = {n.name.decode() for n in part_nodes(repo, tree, parts, at)}
        missing = bytes(32)  # in no pack
        parts[at] = Part(parts[at].first, parts[at].count, missing)
        holed = repo.save_tree(split_doc(parts))
        snap = hostile_snapshot(repo, [raw_node(b"big", "dir", mode=0o755, subtree=holed)])
    r = cli("restore", snap, "--target", str(tmp_path / "back"), "--json")
    assert r.code == EXIT_PARTIAL, r.err
    (error,) = r.json["errors"]
    assert error["path"] == "/big" and missing.hex() in error["error"], error
    restored = set(os.listdir(tmp_path / "back" / "big"))
    assert restored == {p.name for p in big.iterdir()} - gone and len(gone) >= 16
