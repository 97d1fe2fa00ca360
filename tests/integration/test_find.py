"""ripcord find: names and paths across snapshots, time filters, snapshot selection,
and the per-tree memo that keeps many snapshots of one tree cheap."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ripcord.archive.find import Criteria, Finder
from ripcord.repository import Repository
from tests.conftest import Cli
from tests.faults import api_repo, hostile_snapshot, node_at, raw_dir, raw_file
from tests.trees import make_files

FILES = {
    "notes.txt": "n",
    "docs/report.txt": "r",
    "docs/data.csv": "c",
    "logs/app.log": "l",
}


def found(cli: Cli, *args: str) -> dict[str, set[str]]:
    """Snapshot id -> matched paths, from `find --json`."""
    doc = cli.ok("find", *args, "--json").json
    return {s["id"]: {m["path"] for m in s["matches"]} for s in doc["snapshots"]}


def backup(cli: Cli, src: Path) -> str:
    snap_id: str = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    return snap_id


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "t"
    make_files(root, FILES)
    return root


def test_name_pattern_finds_files_and_folders(cli: Cli, tree: Path) -> None:
    snap = backup(cli, tree)
    assert found(cli, "*.txt") == {snap: {f"{tree}/notes.txt", f"{tree}/docs/report.txt"}}
    assert found(cli, "docs", "*.log") == {snap: {f"{tree}/docs", f"{tree}/logs/app.log"}}
    doc = cli.ok("find", "app.log", "--json").json
    (match,) = doc["snapshots"][0]["matches"]
    assert (match["type"], match["size"]) == ("file", 1)
    assert doc["searched"] == 1


def test_path_pattern_matches_the_full_path(cli: Cli, tree: Path) -> None:
    snap = backup(cli, tree)
    docs = {f"{tree}/docs/report.txt", f"{tree}/docs/data.csv"}
    assert found(cli, "docs/*") == {snap: docs}
    assert found(cli, f"{tree}/docs/*.csv") == {snap: {f"{tree}/docs/data.csv"}}
    assert found(cli, "/docs/*") == {}  # absolute: must match from the root


def test_a_deleted_file_is_still_found_in_older_snapshots(cli: Cli, tree: Path) -> None:
    first = backup(cli, tree)
    (tree / "logs" / "app.log").unlink()
    second = backup(cli, tree)
    assert found(cli, "app.log") == {first: {f"{tree}/logs/app.log"}}
    assert found(cli, "report.txt") == {
        first: {f"{tree}/docs/report.txt"},
        second: {f"{tree}/docs/report.txt"},
    }
    human = cli.ok("find", "app.log").out
    assert first[:12] in human and second[:12] not in human
    assert "1 matches in 1 of 2 snapshots" in human


def test_snapshot_host_and_path_limit_the_search(cli: Cli, tree: Path, tmp_path: Path) -> None:
    first = backup(cli, tree)
    second = backup(cli, tree)
    other = tmp_path / "other"
    make_files(other, {"notes.txt": "o"})
    third = backup(cli, other)
    assert set(found(cli, "notes.txt")) == {first, second, third}
    assert set(found(cli, "notes.txt", "--snapshot", first[:8])) == {first}
    both = found(cli, "notes.txt", "--snapshot", first, "--snapshot", "latest")
    assert set(both) == {first, third}
    assert set(found(cli, "notes.txt", "--path", str(other))) == {third}
    assert found(cli, "notes.txt", "--host", "no-such-host") == {}
    assert cli("find", "x", "--snapshot", "ffffffff").code == 1


def test_newer_and_older_filter_on_mtime(cli: Cli, tree: Path) -> None:
    def set_mtime(rel: str, when: datetime) -> None:
        os.utime(tree / rel, (when.timestamp(), when.timestamp()))

    set_mtime("notes.txt", datetime(2020, 1, 1, tzinfo=UTC))
    set_mtime("docs/report.txt", datetime(2024, 6, 1, tzinfo=UTC))
    backup(cli, tree)
    ((_, newer),) = found(cli, "*.txt", "--newer", "2024-01-01T00:00+00:00").items()
    assert newer == {f"{tree}/docs/report.txt"}
    ((_, older),) = found(cli, "*.txt", "--older", "2024-01-01T00:00+00:00").items()
    assert older == {f"{tree}/notes.txt"}
    window = ("--newer", "2019-01-01T00:00+00:00", "--older", "2024-06-01T00:00+00:00")
    ((_, inside),) = found(cli, "*.txt", *window).items()
    assert inside == {f"{tree}/notes.txt"}  # --older is strict: report.txt is at the bound


def test_no_match_is_an_empty_result_and_success(cli: Cli, tree: Path) -> None:
    backup(cli, tree)
    r = cli.ok("find", "nothing-like-this")
    assert "no matches in 1 snapshots" in r.out
    assert cli.ok("find", "nothing-like-this", "--json").json == {"searched": 1, "snapshots": []}


@pytest.mark.parametrize("flag", ["--newer", "--older"])
def test_an_invalid_time_is_a_usage_error(cli: Cli, tree: Path, flag: str) -> None:
    backup(cli, tree)
    r = cli("find", "*.txt", flag, "last tuesday")
    assert r.code == 2
    assert "not an ISO 8601 time" in r.err


def test_a_pattern_of_only_slashes_is_a_usage_error(cli: Cli) -> None:
    r = cli("find", "/")
    assert r.code == 2
    assert "matches nothing" in r.err


def test_a_tree_shared_by_snapshots_is_loaded_once(
    cli: Cli, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snaps = []
    for i in range(4):  # each backup changes logs/, so the root trees differ; docs/ does not
        (tree / "logs" / f"run{i}.log").write_text(str(i))
        snaps.append(backup(cli, tree))
    with api_repo(cli) as repo:
        shared = {node_at(repo, s, tree / "docs").subtree for s in snaps}
        assert len(shared) == 1
        loads: Counter[bytes] = Counter()
        real = repo.read_blob  # trees are read as blobs and decoded node by node

        def counting(tree_id: bytes) -> Any:
            loads[tree_id] += 1
            return real(tree_id)

        monkeypatch.setattr(repo, "read_blob", counting)
        finder = Finder(repo, Criteria.parse(("*.txt", "docs/*.csv"), None, None))
        results = [finder.search(repo.load_snapshot(s)) for s in snaps]
    assert loads[shared.pop() or b""] == 1
    assert set(loads.values()) == {1}  # every tree, shared or not, was read once
    for r in results:  # ... and the shared subtree's matches are in every snapshot
        assert {os.fsdecode(p) for p, _ in r} == {
            f"{tree}/notes.txt",
            f"{tree}/docs/report.txt",
            f"{tree}/docs/data.csv",
        }


def test_a_shared_tree_at_two_locations_matches_path_patterns_by_location(
    mem_repo: Repository,
) -> None:
    docs = [raw_file(mem_repo, b"x.txt", b"x")]
    nodes = [raw_dir(mem_repo, b"a", docs), raw_dir(mem_repo, b"b", docs)]
    assert nodes[0]["subtree"] == nodes[1]["subtree"]
    snap = mem_repo.load_snapshot(hostile_snapshot(mem_repo, nodes))

    def search(*patterns: str) -> set[bytes]:
        return {p for p, _ in Finder(mem_repo, Criteria.parse(patterns, None, None)).search(snap)}

    assert search("x.txt") == {b"/a/x.txt", b"/b/x.txt"}
    assert search("b/*.txt") == {b"/b/x.txt"}
    assert search("/a/x.txt", "b/*.txt") == {b"/a/x.txt", b"/b/x.txt"}
