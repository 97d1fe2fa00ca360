"""ripcord diff: every kind of change between two snapshots, through the CLI, and
proof that subtrees with the same id on both sides are never read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from ripcord.archive.diff import diff_trees
from ripcord.repository import Repository
from tests.conftest import Cli
from tests.faults import api_repo, assert_clean_failure, node_at
from tests.trees import make_files

BEFORE = {
    "keep.txt": "same",
    "edit.txt": "old",
    "mode.txt": "mode",
    "touch.txt": "touch",
    "gone.txt": "gone!",
    "swap": "a file that becomes a dir",
    "folder/a.txt": "a",
    "folder/sub/b.txt": "bb",
    "stable/deep/x.txt": "never changes",
}


def dir_mtimes(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in [root, *root.rglob("*")] if p.is_dir()}


def change_everything(root: Path) -> None:
    """Every kind of change, with directory mtimes put back so only the files differ."""
    mtimes = dir_mtimes(root)
    (root / "edit.txt").write_text("new content")
    (root / "mode.txt").chmod(0o600)
    os.utime(root / "touch.txt", ns=(0, 1_000_000_000))
    (root / "gone.txt").unlink()
    (root / "swap").unlink()
    make_files(root, {"swap/inner.txt": "inside", "new.txt": "brand new"})
    shutil.rmtree(root / "folder")
    for d, ns in mtimes.items():
        if d.exists() and d.stat().st_mtime_ns != ns:  # utime moves ctime: only where needed
            os.utime(d, ns=(ns, ns))


@pytest.fixture
def two(cli: Cli, tmp_path: Path) -> tuple[Path, str, str]:
    """A tree backed up, changed in every way, and backed up again: (root, id A, id B)."""
    root = tmp_path / "root"
    make_files(root, BEFORE)
    for d in dir_mtimes(root):  # relatime moves a new dir's atime on its first listing only:
        os.listdir(d)  # do it now, or backup B would see new atimes in unchanged dirs
    a = cli.ok("backup", str(root), "--json").json["snapshot_id"]
    change_everything(root)
    b = cli.ok("backup", str(root), "--json").json["snapshot_id"]
    return root, a, b


def by_path(doc: Any, root: Path) -> dict[str, tuple[str, list[str]]]:
    prefix = str(root)
    return {c["path"][len(prefix) :]: (c["kind"], c["fields"]) for c in doc["changes"]}


def test_diff_reports_every_kind_of_change(cli: Cli, two: tuple[Path, str, str]) -> None:
    root, a, b = two
    doc = cli.ok("diff", a, b, str(root), "--json").json
    assert (doc["a"], doc["b"]) == (a, b)
    got = by_path(doc, root)
    assert got.pop("/edit.txt")[1][0] == "content"
    assert got == {
        "/mode.txt": ("metadata", ["mode"]),
        "/touch.txt": ("metadata", ["mtime"]),
        "/gone.txt": ("removed", []),
        "/swap": ("type", []),
        "/swap/inner.txt": ("added", []),
        "/new.txt": ("added", []),
        "/folder": ("removed", []),
        "/folder/a.txt": ("removed", []),
        "/folder/sub": ("removed", []),
        "/folder/sub/b.txt": ("removed", []),
    }
    edit = next(c for c in doc["changes"] if c["path"].endswith("/edit.txt"))
    assert (edit["kind"], edit["size_a"], edit["size_b"]) == ("modified", 3, 11)
    added = next(c for c in doc["changes"] if c["path"].endswith("/new.txt"))
    assert (added["size_a"], added["size_b"]) == (None, 9)
    assert doc["summary"] == {
        "added": 2,
        "removed": 5,
        "modified": 1,
        "metadata": 2,
        "type": 1,
        "bytes_added": len("inside") + len("brand new"),
        "bytes_removed": len("gone!") + len("a file that becomes a dir") + len("a") + len("bb"),
    }


def test_diff_human_output(cli: Cli, two: tuple[Path, str, str]) -> None:
    root, a, b = two
    lines = cli.ok("diff", a, b, str(root)).out.splitlines()
    assert f"M {root}/edit.txt (3 -> 11 bytes)" in lines
    assert f"m {root}/mode.txt (mode)" in lines
    assert f"m {root}/touch.txt (mtime)" in lines
    assert f"+ {root}/new.txt (9 bytes)" in lines
    assert f"- {root}/folder" in lines
    assert f"T {root}/swap (file -> dir)" in lines
    assert lines[-1].startswith("2 added, 5 removed, 1 modified, 2 metadata only, 1 type changed")


def test_diff_below_a_path(cli: Cli, two: tuple[Path, str, str]) -> None:
    root, a, b = two
    assert set(by_path(cli.ok("diff", a, b, f"{root}/folder", "--json").json, root)) == {
        "/folder",
        "/folder/a.txt",
        "/folder/sub",
        "/folder/sub/b.txt",
    }
    # only in B: everything below is added
    swapped = cli.ok("diff", a, b, f"{root}/swap/inner.txt", "--json").json
    assert by_path(swapped, root) == {"/swap/inner.txt": ("added", [])}
    assert cli.ok("diff", a, b, f"{root}/stable", "--json").json["changes"] == []


def test_diff_without_path_covers_the_whole_snapshot(cli: Cli, two: tuple[Path, str, str]) -> None:
    root, a, b = two
    whole = by_path(cli.ok("diff", a, b, "--json").json, root)
    assert by_path(cli.ok("diff", a, b, str(root), "--json").json, root).items() <= whole.items()
    assert "/mode.txt" in whole
    assert cli.ok("diff", a, "latest", "--json").json == cli.ok("diff", a, b, "--json").json


def test_diff_of_identical_snapshots_is_empty(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_files(root, BEFORE)
    a = cli.ok("backup", str(root), "--json").json["snapshot_id"]
    b = cli.ok("backup", str(root), "--json").json["snapshot_id"]
    # below the backed-up path: the directories above it (/tmp) are recorded too, and
    # other processes may touch them between the two backups
    for x, y in ((a, b), (b, a), (a, a)):
        doc = cli.ok("diff", x, y, str(root), "--json").json
        assert doc["changes"] == []
        assert set(doc["summary"].values()) == {0}
    assert cli.ok("diff", a, b, str(root)).out.startswith("0 added, 0 removed")


def test_diff_path_in_neither_snapshot_fails_cleanly(cli: Cli, two: tuple[Path, str, str]) -> None:
    root, a, b = two
    r = cli("diff", a, b, f"{root}/no/such")
    assert_clean_failure(r, "in neither snapshot", code=1)
    r = cli("diff", a, b, f"{root}/keep.txt/below", "--json")  # below a file: not there either
    assert_clean_failure(r, "in neither snapshot", code=1)
    assert r.json["exit_code"] == 1
    assert_clean_failure(cli("diff", a, "ffff"), "no snapshot ffff", code=1)


def test_unchanged_subtrees_are_not_read(
    cli: Cli, two: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, a, b = two
    with api_repo(cli) as repo:
        stable = node_at(repo, a, root / "stable").subtree
        assert stable is not None and stable == node_at(repo, b, root / "stable").subtree
        loaded = count_loads(repo, monkeypatch)
        trees = [bytes.fromhex(repo.load_snapshot(s).tree) for s in (a, b)]
        changes = list(diff_trees(repo, trees[0], trees[1]))
        assert changes and not any(b"/stable" in c.path for c in changes)
        assert stable not in loaded
        # a snapshot against itself reads no tree at all
        loaded.clear()
        assert list(diff_trees(repo, trees[1], trees[1])) == []
        assert loaded == []


def count_loads(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record the id of every tree `repo` loads from now on."""
    loaded: list[bytes] = []
    real = repo.load_tree

    def load_tree(tree_id: bytes) -> object:
        loaded.append(tree_id)
        return real(tree_id)

    monkeypatch.setattr(repo, "load_tree", load_tree)
    return loaded
