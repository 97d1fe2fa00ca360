"""A folder split into parts (docs/FORMAT.md §Split trees), through every command.

Parts are made small (tests/splits.py) so that a folder of a few hundred entries is a
real split tree: it backs up, backs up again reusing what did not change (one part
rewritten for one file added), lists, searches, diffs, restores byte for byte with its
hard links, checks, drills, copies, passes the guard, and survives forget and prune
with every part of every kept snapshot in place.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ripcord.archive.trees import listing
from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import PASSWORD, Cli
from tests.splits import folder_tree, small_parts
from tests.trees import assert_same, restored, tree_state

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
FILES = 300


def big_folder(root: Path) -> Path:
    big = root / "big"
    (big / "sub-0150").mkdir(parents=True)
    (big / "sub-0150" / "inside.txt").write_text("below a folder in a part\n")
    for i in range(FILES):
        (big / f"file-{i:04}.txt").write_text(f"file {i}\n" * (i % 7))
    os.link(big / "file-0002.txt", big / "file-0290.link")  # a hard link across parts
    (big / "link-0100").symlink_to("file-0100.txt")
    (root / "small.txt").write_text("a folder never cut\n")
    return big


def parts_of(cli: Cli, snapshot: str, path: Path) -> list[bytes]:
    """The part ids of the folder at `path` in a snapshot ([] when it is not split)."""
    with Repository.open(LocalStore(cli.repo), PASSWORD.encode()) as repo:
        snap = next(s for s in repo.snapshots() if s.id.startswith(snapshot))
        tree = folder_tree(repo, bytes.fromhex(snap.tree), path)
        return [p.id for p in listing(repo, tree).parts]


def test_a_split_folder_goes_through_every_command(
    cli: Cli, tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    small_parts(monkeypatch, every=16)
    src = tmp_path / "src"
    big = big_folder(src)
    first = cli.ok("backup", str(src), "--json").json
    a = first["snapshot_id"]
    state_a = tree_state(src)
    before = parts_of(cli, a, big)
    assert len(before) >= 5 and parts_of(cli, a, src) == []

    (big / "file-0200.txt~").write_text("added between two others\n")
    second = cli.ok("backup", str(src), "--json").json
    b = second["snapshot_id"]
    assert second["files_unchanged"] == first["files_new"] and second["files_new"] == 1
    after = parts_of(cli, b, big)
    assert len(set(after) - set(before)) <= 2  # the part around the new file, no more
    assert second["guard"]["verdict"] == "ok"

    listed = {n["path"] for n in cli.ok("ls", b, str(big), "--json").json["nodes"]}
    assert str(big / "file-0200.txt~") in listed and str(big / "sub-0150/inside.txt") in listed
    assert len([p for p in listed if p.startswith(str(big) + "/file-")]) == FILES + 2  # + link
    found = cli.ok("find", "inside.txt", "--json").json
    assert {m["path"] for s in found["snapshots"] for m in s["matches"]} == {
        str(big / "sub-0150" / "inside.txt")
    }
    changes = {(c["path"], c["kind"]) for c in cli.ok("diff", a, b, "--json").json["changes"]}
    assert changes == {(str(big / "file-0200.txt~"), "added"), (str(big), "metadata")}
    history = cli.ok("history", str(big / "file-0299.txt"), "--json").json
    assert len(history[0]["events"]) == 1

    cli.ok("restore", b, "--target", str(tmp_path / "out"), "--verify")
    assert_same(tree_state(restored(tmp_path / "out", src)), tree_state(src))
    one = tmp_path / "one"
    cli.ok("restore", b, str(big / "file-0250.txt"), "--target", str(one))  # one lookup
    assert (restored(one, big) / "file-0250.txt").read_text() == "file 250\n" * 5

    cli.ok("check", "--read-data")
    drilled = cli.ok("drill", "--sample", "20", "--snapshot", b, "--scratch", str(tmp_path),
                     "--json").json  # fmt: skip
    assert drilled["result"] == "pass"
    replica = Cli(tmp_path / "replica", cli_env)
    replica.ok("init", "--copy-params-from", str(cli.repo), *FAST,
               env={"RIPCORD_FROM_PASSWORD": PASSWORD})  # fmt: skip
    cli.ok("copy", "--to", str(replica.repo), env={"RIPCORD_TO_PASSWORD": PASSWORD})
    replica.ok("check", "--read-data")
    replica.ok("restore", "latest", "--target", str(tmp_path / "from-replica"))
    assert_same(tree_state(restored(tmp_path / "from-replica", src)), tree_state(src))

    cli.ok("forget", b)  # the newer one goes: the parts only it used go with it
    cli.ok("prune")
    cli.ok("check", "--read-data")
    cli.ok("restore", a, "--target", str(tmp_path / "older"), "--verify")
    assert_same(tree_state(restored(tmp_path / "older", src)), state_a)
