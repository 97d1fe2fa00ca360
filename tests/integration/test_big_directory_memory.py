"""One directory of many entries: backup lets each scanned entry go once its wire node is
made, so the listing is not held whole beside the wire nodes (bench/RESULTS.md §Memory
per entry of one big directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ripcord.archive.backup import Backup, BackupOptions, BackupReport
from ripcord.errors import EXIT_PARTIAL
from ripcord.guard.changes import ChangeStats, all_files, measure
from ripcord.repository import Repository
from ripcord.repository import repository as repository_module
from ripcord.storage import LocalStore
from tests.conftest import FAST_KDF, PASSWORD, Cli
from tests.memory import empty_files, traced_peak
from tests.splits import small_parts

ENTRIES = 20_000
# traced peak of the whole backup, per entry: 1642 bytes with every entry (its name,
# path and os.stat_result) held to the end of the directory, 1247 without, 1023 with a
# big directory's entries stat'ed a window at a time (what is left is mostly the part
# of the tree being filled: ~8,000 wire nodes)
LIMIT = 1150


def test_a_big_directory_is_backed_up_without_holding_its_listing_to_the_end(
    tmp_path: Path,
) -> None:
    src = empty_files(tmp_path / "src", ENTRIES)
    with Repository.init(
        LocalStore(tmp_path / "repo", create=True), PASSWORD.encode(), FAST_KDF
    ) as repo:
        reports: list[BackupReport] = []
        peak = traced_peak(lambda: reports.append(Backup(repo, BackupOptions([str(src)])).run()))
    assert reports[0].files_new == ENTRIES and not reports[0].errors
    assert peak / ENTRIES < LIMIT


def test_a_folder_too_big_for_one_tree_is_named_and_every_snapshot_still_restores(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tree that would be over the frame bound is left out (its entries, not the
    snapshot) and named as an error, exit 3; before, the snapshot was saved and could
    not be restored. Big folders are split into parts long before that (FORMAT.md §Split
    trees), so in practice only a part of one huge entry could be; made 4 KiB here."""
    src = tmp_path / "src"
    (src / "huge").mkdir(parents=True)
    for i in range(200):
        (src / "huge" / f"message-{i:05}.eml").write_text("x")
    (src / "small.txt").write_text("kept\n")
    monkeypatch.setattr(repository_module, "MAX_FRAME", 4096)
    r = cli("backup", str(src), "--json")
    assert r.code == EXIT_PARTIAL, r.err
    (error,) = r.json["error_list"]
    assert error["path"] == str(src / "huge") and "200 entries" in error["error"]
    assert "over the 4096" in error["error"]
    monkeypatch.undo()
    cli.ok("restore", "latest", "--target", str(tmp_path / "back"), "--verify")
    back = tmp_path / "back" / src.relative_to("/")
    assert (back / "small.txt").read_text() == "kept\n"
    assert (back / "huge").is_dir() and list((back / "huge").iterdir()) == []
    cli.ok("check", "--read-data")


def test_the_guard_measures_a_first_backup_without_holding_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a parent nothing was deleted, so the added files need not be kept to be
    matched with deleted ones: the guard's walk holds a part, not the folder."""
    small_parts(monkeypatch, every=512)
    src = empty_files(tmp_path / "src", ENTRIES)
    with Repository.init(
        LocalStore(tmp_path / "repo", create=True), PASSWORD.encode(), FAST_KDF
    ) as repo:
        Backup(repo, BackupOptions([str(src)])).run()
        tree = bytes.fromhex(repo.snapshots()[0].tree)
        held = traced_peak(lambda: list(all_files(repo, tree)))  # every file held
        stats: list[ChangeStats] = []
        guard = traced_peak(lambda: stats.append(measure(repo, None, tree)))
    assert stats[0].added == ENTRIES
    assert guard < held / 2
