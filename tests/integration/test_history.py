"""history: every version of a path, and when it vanished."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ripcord.archive.history import history
from ripcord.archive.trees import load_nodes
from tests.conftest import Cli
from tests.faults import api_repo, assert_clean_failure

DAY = "2026-11-{:02d}T12:00:00+00:00"


def backup_on(cli: Cli, day: int, *paths: Path) -> str:
    r = cli.ok("backup", *map(str, paths), "--time", DAY.format(day), "--json")
    return str(r.json["snapshot_id"])


def events(cli: Cli, path: Path) -> list[dict[str, Any]]:
    (h,) = cli.ok("history", str(path), "--json").json
    assert h["path"] == str(path)
    return list(h["events"])


def test_file_versions_and_its_deletion(cli: Cli, tmp_path: Path) -> None:
    office = tmp_path / "office"
    office.mkdir()
    report = office / "report.txt"
    report.write_text("v1")
    s1 = backup_on(cli, 1, office)
    s2 = backup_on(cli, 2, office)
    report.write_text("v2, longer")
    s3 = backup_on(cli, 3, office)
    report.unlink()
    s4 = backup_on(cli, 4, office)
    backup_on(cli, 5, office)
    report.write_text("v1")  # back, with the first content
    s6 = backup_on(cli, 6, office)
    got = events(cli, report)
    assert [e["kind"] for e in got] == ["version", "version", "deleted", "version"]
    assert (got[0]["first"]["id"], got[0]["last"]["id"], got[0]["snapshots"]) == (s1, s2, 2)
    assert (got[1]["first"]["id"], got[1]["size"]) == (s3, len("v2, longer"))
    assert (got[2]["after"]["id"], got[2]["before"]["id"]) == (s3, s4)
    assert got[3]["first"]["id"] == s6 and got[3]["blake3"] == got[0]["blake3"]
    human = cli.ok("history", str(report)).out
    assert "deleted between" in human and s3[:12] in human and s4[:12] in human


def test_deleted_folder_is_found_with_its_last_contents(cli: Cli, tmp_path: Path) -> None:
    office = tmp_path / "office"
    alpha = office / "projects" / "alpha"
    alpha.mkdir(parents=True)
    for name in ("a.txt", "b.txt", "c.txt"):
        (alpha / name).write_text(name)
    s1 = backup_on(cli, 1, office)
    for child in alpha.iterdir():
        child.unlink()
    alpha.rmdir()
    s2 = backup_on(cli, 2, office)
    got = events(cli, alpha)
    assert got[0]["type"] == "dir" and got[0]["entries"] == 3
    assert got[1] == {
        "kind": "deleted",
        "after": {"id": s1, "time": DAY.format(1)},
        "before": {"id": s2, "time": DAY.format(2)},
    }
    out = tmp_path / "back"
    cli.ok("restore", "@2026-11-01", str(alpha), "--target", str(out))
    assert (out / alpha.relative_to("/") / "b.txt").read_text() == "b.txt"


def test_snapshots_of_other_paths_do_not_count_as_deletions(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f").write_text("x")
    backup_on(cli, 1, tmp_path / "a")
    backup_on(cli, 2, tmp_path / "b")  # does not cover a/f
    backup_on(cli, 3, tmp_path / "a")
    got = events(cli, tmp_path / "a" / "f")
    assert [e["kind"] for e in got] == ["version"]
    assert got[0]["snapshots"] == 2


def test_a_path_in_no_snapshot_is_a_clear_error(cli: Cli, src: Path) -> None:
    backup_on(cli, 1, src)
    r = cli("history", str(src / "never-there"))
    assert_clean_failure(r, "never-there", "no snapshot", code=1)


def test_unchanged_trees_are_read_once(cli: Cli, src: Path) -> None:
    for day in range(1, 11):
        backup_on(cli, day, src)
    with api_repo(cli) as repo:
        reads: list[bytes] = []
        real = repo.read_blob  # every tree is read through it (trees.listing)

        def counting(blob_id: bytes) -> bytes:
            reads.append(blob_id)
            return real(blob_id)

        repo.read_blob = counting  # type: ignore[method-assign]
        (h,) = history(repo, repo.snapshots(), str(src / "docs" / "report.txt"))
        assert len(h.events) == 1 and h.events[0].snapshots == 10  # type: ignore[union-attr]
        assert reads and len(reads) == len(set(reads))  # no tree read twice
        distinct_roots = {s.tree for s in repo.snapshots()}
        assert len(reads) <= len(distinct_roots) + 2 * len(src.parts) + 4
        assert load_nodes(repo, bytes.fromhex(repo.snapshots()[0].tree))  # sanity: still readable


def test_listing_a_folder_does_not_make_a_new_version(cli: Cli, src: Path) -> None:
    """Backup lists folders, which moves their atime (relatime): trees must not
    record it, or every backup would store every tree again."""
    docs = src / "docs"
    st = os.stat(docs)
    os.utime(docs, ns=(st.st_mtime_ns - 10**12, st.st_mtime_ns))  # atime before mtime
    backup_on(cli, 1, src)
    os.listdir(docs)
    backup_on(cli, 2, src)
    got = events(cli, docs)
    assert [e["kind"] for e in got] == ["version"]
    assert got[0]["snapshots"] == 2
