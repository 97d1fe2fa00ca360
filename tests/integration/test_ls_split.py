"""ripcord ls of a split folder (docs/FORMAT.md §Split trees): the same rows as the
folder stored whole, written as the parts are read; a part that lies is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ripcord.archive.trees import find, listing
from tests.conftest import Cli
from tests.faults import api_repo, assert_clean_failure, hostile_snapshot
from tests.integration.test_mount_split import NAMES, lying_split
from tests.splits import small_parts


def parts_of(cli: Cli, snap_id: str, path: Path) -> int:
    with api_repo(cli) as repo:
        tree = find(repo, bytes.fromhex(repo.load_snapshot(snap_id).tree), str(path)).subtree
        assert tree is not None
        return len(listing(repo, tree).parts)


def test_ls_of_a_split_folder_is_ls_of_it_whole(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "src" / "big"
    (big / "sub-040").mkdir(parents=True)
    (big / "sub-040" / "inside.txt").write_text("in a folder in a part\n")
    for i in range(80):
        (big / f"f-{i:03}").write_text("x" * i)
    (big / "link").symlink_to("f-001")
    with monkeypatch.context() as m:
        small_parts(m, every=4)
        split = cli.ok("backup", str(big), "--json").json["snapshot_id"]
    whole = cli.ok("backup", str(big), "--json").json["snapshot_id"]
    assert parts_of(cli, split, big) >= 5 and parts_of(cli, whole, big) == 0

    for args in ([], ["-l"], ["--json"]):
        a, b = cli.ok("ls", *args, split, str(big)).out, cli.ok("ls", *args, whole, str(big)).out
        assert a.replace(split, whole) == b
    shown = cli.ok("ls", split, str(big)).out.splitlines()
    assert len(shown) == 84 and shown[0] == str(big)
    assert shown[-1] == str(big / "sub-040" / "inside.txt")
    # the document streamed is the one json.dumps writes whole
    out = cli.ok("ls", "--json", split, str(big)).out
    doc = json.loads(out)
    assert out == json.dumps(doc, indent=2) + "\n" and len(doc["nodes"]) == 84


def test_ls_json_of_an_empty_folder_is_one_document(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cli.ok("backup", str(tmp_path / "empty"))
    out = cli.ok("ls", "--json", "latest", str(tmp_path / "empty")).out
    assert out == json.dumps(json.loads(out), indent=2) + "\n"
    assert [n["path"] for n in json.loads(out)["nodes"]] == [str(tmp_path / "empty")]


def test_ls_through_a_part_that_lies_fails_cleanly(cli: Cli) -> None:
    with api_repo(cli) as repo:
        snap = hostile_snapshot(repo, [lying_split(repo, NAMES, lie=2)])
        repo.flush()
    r = cli("ls", snap[:12], "/big")
    assert_clean_failure(r)
    assert "part 2" in r.err and "4 entries where the tree lists 5" in r.err
    assert r.out.splitlines()[:3] == ["/big", "/big/n00", "/big/n01"]  # streamed until then
