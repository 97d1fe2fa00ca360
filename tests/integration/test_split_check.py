"""check, repair and cat on a folder split into parts (docs/FORMAT.md §Split trees).

Parts are made small (tests/splits.py), and every blob is stored in a pack of its own,
so that deleting one pack loses exactly one part of the folder (or one file), as a damaged
repository would. A part is a tree blob like any other: check counts it as used and
locates it, reads it (and finds its lies), repair reads it and heals it from a replica,
and `repair snapshots --forget-broken` saves the folder again without it, keeping every
other part as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ripcord.archive.node import Part, split_doc
from ripcord.archive.trees import MAX_DEPTH, listing
from ripcord.errors import EXIT_DAMAGED
from ripcord.repository import packer
from ripcord.repository.index import Location
from ripcord.retention.prune import referenced
from tests.conftest import PASSWORD, Cli
from tests.faults import (
    Damage,
    api_repo,
    assert_clean_failure,
    damage,
    files_under,
    frame_middle,
    hostile_snapshot,
    node_at,
    pack_path,
    raw_dir,
    raw_file,
    raw_node,
    raw_tree,
)
from tests.splits import small_parts

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
FILES = 100


@dataclass
class Split:
    """A snapshot of `src`, whose folder `big` is a split tree of `parts`."""

    cli: Cli
    src: Path
    big: Path
    snap: str
    folder: bytes  # the tree id of `big`
    parts: list[Part]
    packs: dict[bytes, Location]  # where each part is stored (a pack of its own)
    names: dict[bytes, list[str]]  # the entries of each part


@pytest.fixture
def split(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Split:
    small_parts(monkeypatch)
    for bundle in ("TREE_BUNDLE_TARGET", "BUNDLE_TARGET"):  # a frame for each blob,
        monkeypatch.setattr(packer, bundle, 1)
    monkeypatch.setattr(packer, "PACK_TARGET", 1)  # and a pack for each frame
    src = tmp_path / "src"
    big = src / "big"
    (big / "f050-sub").mkdir(parents=True)
    (big / "f050-sub" / "inside.txt").write_text("below a folder in a part\n")
    for i in range(FILES):
        (big / f"f{i:03}").write_text(f"file {i}\n")
    (src / "small.txt").write_text("beside the split folder\n")
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        folder = node_at(repo, snap, big).subtree
        assert folder is not None
        parts = listing(repo, folder).parts
        packs = {p.id: repo.locate(p.id) for p in parts}
        names = {p.id: [n.name.decode() for n in listing(repo, p.id).nodes] for p in parts}
    assert len(parts) >= 3, "not a split folder"
    assert len({loc.pack for loc in packs.values()}) == len(parts), "parts share a pack"
    return Split(cli, src, big, snap, folder, parts, packs, names)


def check(cli: Cli, *args: str) -> tuple[int, Any]:
    r = cli("check", "--json", *args)
    assert "Traceback" not in r.err and "unexpected error" not in r.err, r.err
    return r.code, r.json


def lose(s: Split, part: Part) -> None:
    damage(pack_path(s.cli, s.packs[part.id]), "missing")


def test_check_reads_a_split_folder_and_counts_its_parts_as_used(split: Split) -> None:
    with api_repo(split.cli) as repo:
        used, _ = referenced(repo, repo.snapshots())
    for args in ((), ("--read-data",)):
        code, doc = check(split.cli, *args)
        assert code == 0 and doc["errors"] == [], doc["errors"]
        assert doc["notes"] == []  # a part left out of what is used would be "unused data"
        assert doc["blobs"] == len(used)
    assert doc["packs_read"] == doc["packs"]


@pytest.mark.parametrize(
    ("how", "args", "kind"),
    [
        ("missing", (), "missing-pack"),
        ("bitflip", (), "damaged-tree"),  # the walk reads the part: it fails authentication
        ("bitflip", ("--read-data",), "damaged-data"),  # found reading the pack back first
    ],
)
def test_a_lost_part_is_damage_named_at_its_folder(
    split: Split, how: Damage, args: tuple[str, ...], kind: str
) -> None:
    part = split.parts[1]
    loc = split.packs[part.id]
    damage(pack_path(split.cli, loc), how, None if how == "missing" else frame_middle(loc))
    code, doc = check(split.cli, *args)
    assert code == EXIT_DAMAGED and not doc["ok"]
    (error,) = doc["errors"]
    assert error["kind"] == kind and loc.pack in error["message"] + part.id.hex()
    assert error["paths"] == [f"{split.snap[:12]}:{split.big}"]
    assert doc["notes"] == []  # what the lost part used is unknown: no "unused data" guess
    shown = split.cli("check")
    assert shown.code == EXIT_DAMAGED and f"{split.snap[:12]}:{split.big}\n" in shown.out


def test_a_part_that_lies_is_damage_without_a_traceback(split: Split) -> None:
    """A part listed with one entry more than it holds, in a snapshot a writer holding
    the key crafted; and a split tree listed as a part of another."""
    first, *rest = split.parts
    liar = Part(first.first, first.count + 1, first.id)
    with api_repo(split.cli) as repo:
        lying = repo.save_tree(split_doc([liar, *rest]))
        nested = repo.save_tree(split_doc([Part(b"a", 3, split.folder)]))
        snaps = [
            hostile_snapshot(repo, [raw_node(b"big", "dir", mode=0o755, subtree=t)])
            for t in (lying, nested)
        ]
    code, doc = check(split.cli)
    assert code == EXIT_DAMAGED
    trees = [e for e in doc["errors"] if e["kind"] == "damaged-tree"]
    assert len(trees) == 2, doc["errors"]
    assert any(f"where the tree lists {first.count + 1}" in e["message"] for e in trees)
    assert any("a split tree where one part was expected" in e["message"] for e in trees)
    assert {p for e in trees for p in e["paths"]} == {f"{s[:12]}:/big" for s in snaps}
    assert split.snap[:12] not in str(doc["errors"])  # the honest snapshot is intact


def test_repair_drops_a_split_tree_that_lies_about_a_part_it_shares(
    split: Split, tmp_path: Path
) -> None:
    """A crafted snapshot lists a real part (one the honest snapshot uses too) with one
    entry more than it holds. Its folder is lost, as restore would refuse it; the honest
    snapshot, walked first and using the same part, is whole."""
    first, *rest = split.parts
    with api_repo(split.cli) as repo:
        lying = repo.save_tree(split_doc([Part(first.first, first.count + 1, first.id), *rest]))
        keep = raw_file(repo, b"kept", b"beside the lying folder\n")
        hostile = hostile_snapshot(repo, [raw_node(b"big", "dir", mode=0o755, subtree=lying), keep])
    r = split.cli("repair", "snapshots", "--json")
    assert_clean_failure(r, f"{hostile[:12]}:/big/", code=EXIT_DAMAGED)
    assert [(b["snapshot"], b["paths"]) for b in r.json["broken"]] == [(hostile, ["/big/"])]
    r = split.cli("repair", "snapshots", "--forget-broken", "--json")
    assert r.code == 0, r.err
    (done,) = r.json["broken"]
    out = tmp_path / "out"
    split.cli.ok("restore", done["new_snapshot"], "--target", str(out), "--verify")
    assert sorted(p.name for p in out.iterdir()) == ["kept"]
    split.cli.ok("check")


def test_parts_are_not_a_folder_level_for_the_depth_limit(cli: Cli) -> None:
    """Files split across parts at the deepest level allowed: check finds nothing too
    deep (were parts counted as folders, the snapshot would be one level over)."""
    with api_repo(cli) as repo:
        parts = [Part(n, 1, raw_tree(repo, [raw_file(repo, n, n)])) for n in (b"a", b"b")]
        node = raw_node(b"d", "dir", mode=0o755, subtree=repo.save_tree(split_doc(parts)))
        for _ in range(MAX_DEPTH - 2):
            node = raw_dir(repo, b"d", [node])
        hostile_snapshot(repo, [node])  # files MAX_DEPTH components deep: allowed
        deeper = hostile_snapshot(repo, [raw_dir(repo, b"d", [node])])  # one more: not
    code, doc = check(cli)
    assert code == EXIT_DAMAGED
    assert [(e["kind"], e["snapshots"]) for e in doc["errors"]] == [("too-deep", [deeper])]


def test_cat_shows_a_split_tree_as_its_parts_and_a_part_as_its_nodes(split: Split) -> None:
    shown = split.cli.ok("cat", "tree", split.folder.hex()).json
    assert shown == {
        "parts": [
            {"first": p.first.decode(), "count": p.count, "id": p.id.hex()} for p in split.parts
        ]
    }
    part = split.cli.ok("cat", "tree", split.parts[0].id.hex()).json
    assert [n["name"] for n in part["nodes"]] == split.names[split.parts[0].id]


def test_repair_names_a_lost_part_and_a_replica_heals_it(split: Split, tmp_path: Path) -> None:
    c = split.cli
    replica = Cli(tmp_path / "replica", c.env)
    replica.ok(
        "init", *FAST, "--copy-params-from", str(c.repo), env={"RIPCORD_FROM_PASSWORD": PASSWORD}
    )
    c.ok("copy", "--to", str(replica.repo), env={"RIPCORD_TO_PASSWORD": PASSWORD})
    part = split.parts[1]
    lose(split, part)
    r = c("repair", "index", "--json")
    assert_clean_failure(r, code=EXIT_DAMAGED)
    (broken,) = r.json["broken"]
    lost = f"{split.big}/{part.first.decode()} (first of {part.count} entries in a lost part)"
    assert broken["snapshot"] == split.snap and broken["paths"] == [lost]
    assert f"{split.snap[:12]}:{lost}" in r.err
    r = c("repair", "--from", str(replica.repo), "--json", env={"RIPCORD_FROM_PASSWORD": PASSWORD})
    assert r.code == 0, r.err
    assert r.json["whole"] and r.json["blobs_healed"] == 1
    c.ok("restore", split.snap, "--target", str(tmp_path / "out"), "--verify")
    assert files_under(tmp_path / "out" / split.src.relative_to("/")) == files_under(split.src)
    c.ok("check", "--read-data")


@pytest.mark.parametrize("lost", ["one part", "every part"])
def test_forget_broken_keeps_the_parts_left_and_what_they_hold(
    split: Split, tmp_path: Path, lost: str
) -> None:
    c = split.cli
    gone = split.parts[1:2] if lost == "one part" else split.parts
    for part in gone:
        lose(split, part)
    r = c("repair", "snapshots", "--forget-broken", "--json")
    assert r.code == 0 and r.json["whole"], r.err
    (done,) = r.json["broken"]
    assert done["action"] == "repaired" and done["lost"] == len(gone)
    out = tmp_path / "out"
    c.ok("restore", done["new_snapshot"], "--target", str(out), "--verify")
    missing = {name for part in gone for name in _relative(split, part)}
    kept = {p: d for p, d in files_under(split.src).items() if p not in missing}
    assert files_under(out / split.src.relative_to("/")) == kept
    with api_repo(c) as repo:
        folder = node_at(repo, done["new_snapshot"], split.big).subtree
        assert folder is not None
        left = listing(repo, folder)
    if lost == "one part":  # the intact parts as they were: the same ids
        assert left.parts == [p for p in split.parts if p not in gone]
    else:  # nothing left: an empty folder, a version-1 tree
        assert left.parts == [] and left.nodes == []
    c.ok("check")


def test_forget_broken_saves_again_a_part_that_lost_a_file(split: Split, tmp_path: Path) -> None:
    """The first file of a part is lost: that part is saved again, its first name and
    count as they are now; every other part keeps its id."""
    c = split.cli
    i = next(i for i, p in enumerate(split.parts) if i and (split.big / p.first.decode()).is_file())
    part = split.parts[i]
    victim = split.big / part.first.decode()
    with api_repo(c) as repo:
        (blob,) = node_at(repo, split.snap, victim).content
        loc = repo.locate(blob)
    damage(pack_path(c, loc), "missing")
    r = c("repair", "snapshots", "--forget-broken", "--json")
    assert r.code == 0, r.err
    (done,) = r.json["broken"]
    assert done["paths"] == [str(victim)] and done["action"] == "repaired"
    with api_repo(c) as repo:
        folder = node_at(repo, done["new_snapshot"], split.big).subtree
        assert folder is not None
        left = listing(repo, folder).parts
        rewritten = left[i]
        names = [n.name for n in listing(repo, rewritten.id).nodes]
    assert left[:i] + left[i + 1 :] == split.parts[:i] + split.parts[i + 1 :]
    assert rewritten.id != part.id and rewritten.count == part.count - 1
    assert rewritten.first == names[0] and part.first not in names
    c.ok("restore", done["new_snapshot"], "--target", str(tmp_path / "out"), "--verify")


def _relative(s: Split, part: Part) -> set[Path]:
    """The files of `part` (and below its folders), relative to the source."""
    rel = s.big.relative_to(s.src)
    out = set()
    for name in s.names[part.id]:
        below = s.big / name
        if below.is_dir():
            out |= {rel / name / p for p in files_under(below)}
        else:
            out.add(rel / name)
    return out
