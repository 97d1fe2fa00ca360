"""Restore takes a split folder a part at a time (archive/restore.py): a folder of a
million entries holds one part's nodes and blob locations, not the million; and a part
that cannot be read costs its entries, not the rest of the folder. So do walks, find
and a drill's sampling."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import pytest

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.find import Criteria, Finder
from ripcord.archive.node import DIR, Node, Part, split_doc
from ripcord.archive.restore import RestoreOptions, Restorer
from ripcord.archive.trees import listing, load_nodes, part_nodes, walk
from ripcord.errors import EXIT_PARTIAL
from ripcord.repository import Repository, Snapshot
from ripcord.repository import repository as repository_module
from ripcord.storage import LocalStore
from ripcord.verify.sample import candidates
from tests.conftest import FAST_KDF, PASSWORD, Cli
from tests.faults import api_repo, hostile_snapshot, raw_node
from tests.memory import empty_files, traced_peak
from tests.splits import folder_tree, small_parts

ENTRIES = 20_000


def snapshot_folder(repo: Repository, path: Path, snap: Snapshot | None = None) -> bytes:
    """The tree id of the folder at `path` in `snap` (by default the one snapshot)."""
    if snap is None:
        (snap,) = repo.snapshots()
    return folder_tree(repo, bytes.fromhex(snap.tree), path)


def test_a_split_folder_is_restored_walked_searched_and_sampled_a_part_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_parts(monkeypatch, every=256)  # parts of 256..1024 entries: ~40 parts
    # the repository's frame cache is bounded on its own (16 MiB, all of this folder's
    # tree frames at this size): made small so that what is measured is what walks hold
    monkeypatch.setattr(repository_module, "FRAME_CACHE_BYTES", 1 << 20)
    src = empty_files(tmp_path / "src", ENTRIES)
    with Repository.init(
        LocalStore(tmp_path / "repo", create=True), PASSWORD.encode(), FAST_KDF
    ) as repo:
        assert not Backup(repo, BackupOptions([str(src)])).run().errors
        (src / "f0010000a").write_text("one more, in the middle\n")
        assert not Backup(repo, BackupOptions([str(src)])).run().errors
        first, snap = sorted(repo.snapshots(), key=lambda s: s.time)
        tree = snapshot_folder(repo, src, snap)
        assert len(listing(repo, tree).parts) >= 10 and tree != snapshot_folder(repo, src, first)
        whole = traced_peak(lambda: load_nodes(repo, tree))  # every node held at once
        folder = Node(name=b"src", type=DIR, subtree=tree)
        walked = traced_peak(lambda: deque(walk(repo, folder, b"/src"), maxlen=0))
        finder = Finder(repo, Criteria.parse(("f001000*",), None, None))
        searched = traced_peak(lambda: finder.search(snap))
        sampled = traced_peak(lambda: candidates(repo, snap, first, first, seed=1, keep=8))
        target = tmp_path / "back"
        options = RestoreOptions(str(target), verify=True)
        report: list[object] = []
        peak = traced_peak(lambda: report.append(Restorer(repo, snap, options).run()))
    (done,) = report
    assert getattr(done, "files", None) == ENTRIES + 1 and not getattr(done, "errors", True)
    assert len(os.listdir(target / src.relative_to("/"))) == ENTRIES + 1
    # holding every node (what each did before) is ~0.7 KiB an entry; a part is 1/40 of
    # them, but a 1 MiB tree frame read and one cached add a third at this size (and the
    # same few MiB at a million entries)
    for what, bytes_ in (("restore", peak), ("a walk", walked), ("find", searched),
                         ("a drill", sampled)):  # fmt: skip
        assert bytes_ < whole / 2, f"{what} peaked at {bytes_} bytes, every node is {whole}"


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
        tree = snapshot_folder(repo, big)
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
