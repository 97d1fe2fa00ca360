"""check: every kind of damage found, and the files it touches named."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest

from ripcord.errors import EXIT_DAMAGED
from ripcord.repository import TREE
from tests.conftest import Cli
from tests.faults import (
    Damage,
    api_repo,
    damage,
    frame_middle,
    pack_path,
    reached_by,
)


@pytest.fixture
def built(cli: Cli, tmp_path: Path) -> tuple[Path, list[str]]:
    """A source of folders, small and large files, backed up twice with changes between."""
    src = tmp_path / "src"
    rng = random.Random(7)
    for d in range(4):
        folder = src / f"dir{d}" / "sub"
        folder.mkdir(parents=True)
        for f in range(6):
            size = rng.choice([100, 3000, 60_000, 700_000])
            (folder / f"f{f}.bin").write_bytes(rng.randbytes(size))
    first = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    (src / "dir0" / "sub" / "f0.bin").write_bytes(rng.randbytes(5000))
    (src / "dir3" / "new.txt").write_text("new\n")
    second = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    return src, [first, second]


def check(cli: Cli, *args: str) -> tuple[int, Any]:
    r = cli("check", "--json", *args)
    assert "Traceback" not in r.err
    return r.code, r.json


def named(doc: Any) -> set[str]:
    return {p for e in doc["errors"] for p in e["paths"]}


def test_a_healthy_repository_is_clean_even_read_back(
    cli: Cli, built: tuple[Path, list[str]]
) -> None:
    for args in ((), ("--read-data",)):
        code, doc = check(cli, *args)
        assert code == 0 and doc["ok"] and doc["errors"] == []
    assert doc["packs_read"] == doc["packs"] > 0 and doc["snapshots"] == 2
    assert "no errors found" in cli.ok("check").out


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("how", ["missing", "truncated", "bitflip"])
def test_damage_to_a_data_pack_is_found_and_the_files_named(
    cli: Cli, built: tuple[Path, list[str]], how: Damage, seed: int
) -> None:
    src, snaps = built
    with api_repo(cli) as repo:
        files = sorted(p for p in src.rglob("*.bin"))
        node_blobs = [(f, b) for f in files for b in _content(repo, snaps[-1], f)]
        target, blob = random.Random(seed).choice(node_blobs)
        loc = repo.locate(blob)
        at = frame_middle(loc) if how != "missing" else None
        expected = reached_by(repo, snaps[-1], src, how, loc, at or 0)
    damage(pack_path(cli, loc), how, at)
    code, doc = check(cli, "--read-data")
    assert code == EXIT_DAMAGED and not doc["ok"]
    paths = named(doc)
    assert expected and target.relative_to(src) in expected
    for rel in expected:
        assert f"{snaps[-1][:12]}:{src / rel}" in paths, f"{rel} not named"
    if how == "bitflip":  # the trailer is intact: only reading the data finds it
        assert check(cli)[0] == 0
    else:
        assert check(cli)[0] == EXIT_DAMAGED


def _content(repo: Any, snap: str, path: Path) -> list[bytes]:
    from tests.faults import node_at

    return list(node_at(repo, snap, path).content)


@pytest.mark.parametrize("how", ["missing", "bitflip"])
def test_damaged_or_missing_index_files_leave_blobs_unindexed(
    cli: Cli, built: tuple[Path, list[str]], how: Damage
) -> None:
    for index in (cli.repo / "index").iterdir():
        damage(index, how)
    code, doc = check(cli)
    assert code == EXIT_DAMAGED
    kinds = {e["kind"] for e in doc["errors"]}
    assert "unindexed-blob" in kinds or "damaged-tree" in kinds
    if how == "bitflip":
        assert "damaged-index" in kinds
    assert any(n["kind"] == "unindexed-pack" for n in doc["notes"])  # repair can adopt them
    lost = [e for e in doc["errors"] if e["kind"] in ("unindexed-blob", "damaged-tree")]
    assert all(e["snapshots"] and e["paths"] for e in lost)


def test_damaged_trees_name_the_folders_below_which_nothing_can_be_read(
    cli: Cli, built: tuple[Path, list[str]]
) -> None:
    _, snaps = built
    with api_repo(cli) as repo:
        root = repo.locate(bytes.fromhex(repo.load_snapshot(snaps[-1]).tree))
    assert root.type == TREE
    damage(pack_path(cli, root), "bitflip", frame_middle(root))
    code, doc = check(cli)
    assert code == EXIT_DAMAGED
    tree_errors = [e for e in doc["errors"] if e["kind"] == "damaged-tree"]
    assert tree_errors and snaps[-1] in {s for e in tree_errors for s in e["snapshots"]}
    assert f"{snaps[-1][:12]}:/" in {p for e in tree_errors for p in e["paths"]}
    assert doc["notes"] == []  # with trees unread, "unused data" would be a guess


def test_a_deleted_or_altered_snapshot_is_found(cli: Cli, built: tuple[Path, list[str]]) -> None:
    _, (first, second) = built
    damage(cli.repo / "snapshots" / second, "bitflip")
    code, doc = check(cli)
    assert code == EXIT_DAMAGED
    assert [e["snapshots"] for e in doc["errors"] if e["kind"] == "damaged-snapshot"] == [[second]]
    (cli.repo / "snapshots" / second).unlink()
    third = cli.ok("backup", str(built[0]), "--json").json["snapshot_id"]
    os.chmod(cli.repo / "snapshots" / first, 0o644)
    (cli.repo / "snapshots" / first).unlink()  # deleted behind ripcord's back
    code, doc = check(cli)
    gaps = [e for e in doc["errors"] if e["kind"] == "chain-gap"]
    assert code == EXIT_DAMAGED
    assert [(g["message"][9:21], g["snapshots"]) for g in gaps] == [(first[:12], [third])]


def test_forget_and_prune_leave_check_clean(cli: Cli, built: tuple[Path, list[str]]) -> None:
    _, (first, _) = built
    cli.ok("forget", first)
    code, doc = check(cli)
    assert code == 0 and any(n["kind"] == "unused-data" for n in doc["notes"])
    cli.ok("prune", "--max-unused", "0")
    code, doc = check(cli, "--read-data")
    assert code == 0 and doc["notes"] == []  # the gap is explained, nothing unused


def test_read_data_subsets_rotate_through_every_pack(
    cli: Cli, built: tuple[Path, list[str]]
) -> None:
    total = check(cli)[1]["packs"]
    read: list[str] = []
    for _ in range(4):
        code, doc = check(cli, "--read-data-subset", "25%")
        assert code == 0
        read += doc["read_packs"]
    assert len(read) == len(set(read)) == total  # each pack once in four runs of 25%
    groups = [set(check(cli, "--read-data-subset", f"{n}/3")[1]["read_packs"]) for n in (1, 2, 3)]
    assert set().union(*groups) == set(read) and sum(map(len, groups)) == total
    for bad in ("0/3", "4/3", "0%", "101%", "half"):
        assert cli("check", "--read-data-subset", bad).code == 2


def test_a_damaged_record_is_an_error(cli: Cli, built: tuple[Path, list[str]]) -> None:
    cli.ok("drill", "--sample", "2")
    (record,) = (cli.repo / "drills").iterdir()
    damage(record, "bitflip")
    code, doc = check(cli)
    assert code == EXIT_DAMAGED
    assert [e["kind"] for e in doc["errors"]] == ["damaged-record"]
    assert record.name in doc["errors"][0]["message"]
