"""Backup and restore through the CLI: what goes in comes back out."""

from __future__ import annotations

import filecmp
from pathlib import Path

from tests.conftest import Cli


def same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(a / d, b / d) for d in cmp.common_dirs)


def test_backup_then_restore_gives_back_every_file(cli: Cli, src: Path, tmp_path: Path) -> None:
    backup = cli.ok("backup", str(src), "--json").json
    assert backup["files_new"] == 4
    assert len(backup["snapshot_id"]) == 64
    cli.ok("restore", "latest", "--target", str(tmp_path / "out"), "--verify")
    assert same_tree(src, tmp_path / "out" / src.relative_to("/"))


def test_second_backup_reads_nothing_unchanged(cli: Cli, src: Path) -> None:
    first = cli.ok("backup", str(src), "--json").json
    second = cli.ok("backup", str(src), "--json").json
    assert second["parent"] == first["snapshot_id"]
    assert second["files_unchanged"] == 4
    assert second["bytes_read"] == 0
    assert second["data_added"] == 0


def test_changed_file_is_read_again_and_restorable_at_both_versions(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    first = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    (src / "a.txt").write_text("changed\n")
    second = cli.ok("backup", str(src), "--json").json
    assert second["files_changed"] == 1
    cli.ok("restore", first[:8], str(src / "a.txt"), "--target", str(tmp_path / "old"))
    cli.ok("restore", "latest", str(src / "a.txt"), "--target", str(tmp_path / "new"))
    rel = (src / "a.txt").relative_to("/")
    assert (tmp_path / "old" / rel).read_text() == "hello world\n"
    assert (tmp_path / "new" / rel).read_text() == "changed\n"


def test_restore_of_one_folder_restores_only_it(cli: Cli, src: Path, tmp_path: Path) -> None:
    cli.ok("backup", str(src))
    cli.ok("restore", "latest", str(src / "docs"), "--target", str(tmp_path / "out"))
    out = tmp_path / "out" / src.relative_to("/")
    assert (out / "docs" / "report.txt").exists()
    assert not (out / "a.txt").exists()


def test_snapshots_ls_and_stats_report_json(cli: Cli, src: Path) -> None:
    snap = cli.ok("backup", str(src), "--tag", "nightly", "--json").json["snapshot_id"]
    snaps = cli.ok("snapshots", "--json").json
    assert [s["id"] for s in snaps] == [snap]
    assert snaps[0]["tags"] == ["nightly"]
    listing = cli.ok("ls", "latest", str(src / "docs"), "--json").json
    paths = {n["path"] for n in listing["nodes"]}
    assert str(src / "docs" / "report.txt") in paths
    assert str(src / "a.txt") not in paths
    stats = cli.ok("stats", "--json").json
    assert stats["snapshots"] == 1
    assert stats["compression_ratio"] > 1  # the repeated text compresses
