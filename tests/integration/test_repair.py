"""repair: the index rebuilt from the packs, damage healed from a replica, and what
cannot be healed dropped only when asked, naming every file lost.

Each test damages a real repository on disk, runs the real CLI, then proves the
result the only way that counts: every listed snapshot restores byte for byte,
and `check --read-data` is clean once prune has deleted what repair condemned.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ripcord.errors import EXIT_DAMAGED, EXIT_USAGE, EXIT_WRONG_PASSWORD
from ripcord.repository import DATA, TREE
from ripcord.repository.index import Location
from ripcord.repository.pending import Plan
from ripcord.retention.prune import referenced
from tests.conftest import PASSWORD, Cli, Result
from tests.faults import (
    DAMAGES,
    Damage,
    api_repo,
    assert_clean_failure,
    damage,
    files_under,
    frame_middle,
    node_at,
    pack_path,
    reached_by,
)

CHEAP = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
SIZES = (100, 3000, 60_000, 700_000)  # bundled small files, and large ones in frames of their own


@dataclass
class Pair:
    """A repository, a replica made with --copy-params-from, and what each snapshot saved."""

    cli: Cli
    replica: Cli
    sources: dict[str, Path]  # snapshot id -> the folder it saved


def tree_of_files(root: Path, seed: int) -> Path:
    rng = random.Random(seed)
    for d in range(3):
        folder = root / f"dir{d}" / "sub"
        folder.mkdir(parents=True)
        for f in range(4):
            (folder / f"f{f}.bin").write_bytes(rng.randbytes(rng.choice(SIZES)))
    return root


def replicate(source: Cli, target: Cli) -> set[int]:
    """Copy into `target` every blob `source`'s snapshots use that it lacks (what
    `ripcord replicate` will do); returns the types of the blobs copied."""
    copied = set()
    with api_repo(source) as src, api_repo(target) as dst:
        used, trees = referenced(src, src.snapshots())
        for blob in sorted(used):
            if not dst.has_blob(blob):
                kind = TREE if blob in trees else DATA
                dst.add_blob(kind, src.read_blob(blob), blob)
                copied.add(kind)
        dst.flush()
    return copied


@pytest.fixture
def pair(cli: Cli, tmp_path: Path) -> Pair:
    cli.env["RIPCORD_FROM_PASSWORD"] = PASSWORD  # for init --copy-params-from and repair
    replica = Cli(tmp_path / "replica", cli.env)
    replica.ok("init", *CHEAP, "--copy-params-from", str(cli.repo))
    sources = {}
    for i in range(2):
        src = tree_of_files(tmp_path / f"src{i}", seed=i)
        snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
        replica.ok("backup", str(src))
        sources[snap] = src
    # the same files gave the same data blobs; only the trees of the folders above the
    # sources may differ (their times moved between the two backups)
    assert DATA not in replicate(cli, replica)
    return Pair(cli, replica, sources)


def repair(c: Cli, *args: str) -> tuple[Result, Any]:
    r = c("repair", *args, "--json")
    assert "Traceback" not in r.err and "unexpected error" not in r.err, r.err
    return r, r.json


def heal(p: Pair) -> tuple[Result, Any]:
    return repair(p.cli, "--from", str(p.replica.repo))


def restores(c: Cli, sources: dict[str, Path], target: Path) -> None:
    """Every snapshot restores byte for byte, and it is the only one listed."""
    assert sorted(s["id"] for s in c.ok("snapshots", "--json").json) == sorted(sources)
    for snap, src in sources.items():
        out = target / snap[:12]
        c.ok("restore", snap, "--target", str(out), "--verify")
        assert files_under(out / src.relative_to("/")) == files_under(src)


def clean_after_prune(c: Cli) -> None:
    """check is clean right after repair (what it condemned is judged no more), and
    still once prune has deleted it."""
    c.ok("check", "--read-data")
    with api_repo(c) as repo:  # prune keeps a condemned pack that a lasting index lists
        plans = [p for p in repo.pending() if isinstance(p, Plan)]
        doomed = {p for plan in plans for p in plan.packs}
        condemned = {f"index/{i}" for plan in plans for i in plan.indexes}
        for info in repo.store.list("index"):
            if info.name not in condemned:
                assert not doomed & {p for p, _ in repo.read_index_file(info.name)}
    c.ok("prune")
    assert not list((c.repo / "pending").iterdir())
    c.ok("check", "--read-data")


def pick(c: Cli, snap: str, kind: int, seed: int) -> Location:
    """Where a random blob of `kind` that `snap` uses lives."""
    with api_repo(c) as repo:
        used, trees = referenced(repo, [repo.load_snapshot(snap)])
        pool = sorted(trees if kind == TREE else used - trees)
        return repo.locate(random.Random(seed).choice(pool))


def objects(c: Cli) -> dict[str, bytes]:
    """Every object of the repository but locks, by name: to prove nothing was written."""
    return {
        str(p.relative_to(c.repo)): p.read_bytes()
        for p in c.repo.rglob("*")
        if p.is_file() and p.parts[len(c.repo.parts)] not in ("locks", ".tmp")
    }


@pytest.mark.parametrize("kind", [DATA, TREE], ids=["data", "tree"])
@pytest.mark.parametrize("how", DAMAGES)
def test_repair_from_a_replica_heals_a_damaged_pack(
    pair: Pair, tmp_path: Path, how: Damage, kind: int
) -> None:
    snap = list(pair.sources)[-1]
    loc = pick(pair.cli, snap, kind, seed=len(how))
    damage(pack_path(pair.cli, loc), how, None if how == "missing" else frame_middle(loc))
    r, doc = heal(pair)
    assert r.code == 0, r.err
    assert doc["whole"] and doc["broken"] == []
    assert doc["blobs_healed"] >= 1 and doc["blobs_broken"] == doc["blobs_healed"]
    assert doc["packs_condemned"] == [loc.pack] and len(doc["plans"]) >= 1
    assert "the repository is whole" in pair.cli.ok("repair", "--from", str(pair.replica.repo)).out
    restores(pair.cli, pair.sources, tmp_path / "out")
    clean_after_prune(pair.cli)
    assert not pack_path(pair.cli, loc).exists()


def test_a_pack_whose_trailer_is_damaged_is_emptied_and_condemned(
    pair: Pair, tmp_path: Path
) -> None:
    loc = pick(pair.cli, next(iter(pair.sources)), DATA, seed=1)
    path = pack_path(pair.cli, loc)
    damage(path, "bitflip", at=path.stat().st_size - 20)  # in the sealed trailer
    r, doc = repair(pair.cli, "index")
    assert r.code == EXIT_DAMAGED  # every blob still reads, but the pack is not sound
    assert [t["pack"] for t in doc["index"]["trailers_damaged"]] == [loc.pack]
    assert "damaged trailer" in pair.cli("repair", "index").out
    r, doc = heal(pair)
    assert r.code == 0, r.err
    assert doc["blobs_copied"] >= 1 and doc["blobs_healed"] == 0  # nothing was lost
    assert doc["packs_condemned"] == [loc.pack]
    restores(pair.cli, pair.sources, tmp_path / "out")
    clean_after_prune(pair.cli)


def test_repair_index_rebuilds_deleted_index_files_from_the_packs(
    pair: Pair, tmp_path: Path
) -> None:
    c = pair.cli
    packs = sorted(p.name for p in (c.repo / "data").rglob("*") if p.is_file())
    for index in (c.repo / "index").iterdir():
        index.unlink()
    snap = next(iter(pair.sources))
    assert_clean_failure(c("restore", snap, "--target", str(tmp_path / "before")))
    r, doc = repair(c, "index")
    assert r.code == 0, r.err
    assert doc["index"]["packs_indexed"] == packs and doc["whole"]
    assert doc["index"]["index_files_replaced"] == [] and doc["plans"] == []
    restores(c, pair.sources, tmp_path / "out")
    again = repair(c, "index")[1]["index"]  # nothing left to do: nothing written
    assert again["packs_indexed"] == [] and again["index_files_written"] == []
    c.ok("check", "--read-data")


@pytest.mark.parametrize("how", ["truncated", "bitflip"])
def test_repair_index_replaces_a_damaged_index_file(
    pair: Pair, tmp_path: Path, how: Damage
) -> None:
    c = pair.cli
    index = sorted((c.repo / "index").iterdir())[0]
    damage(index, how)
    r, doc = repair(c, "index")
    assert r.code == 0, r.err
    assert [f["id"] for f in doc["index"]["index_files_replaced"]] == [index.name]
    assert doc["index"]["packs_indexed"] and len(doc["plans"]) == 1
    fresh = {"RIPCORD_CACHE_DIR": str(tmp_path / "fresh-cache")}  # no copy of the old file
    for snap, src in pair.sources.items():
        out = tmp_path / snap[:12]
        c.ok("restore", snap, "--target", str(out), env=fresh)
        assert files_under(out / src.relative_to("/")) == files_under(src)
    clean_after_prune(c)
    assert not index.exists()


def test_repair_index_names_the_files_whose_pack_is_gone_and_the_replica_heals_them(
    pair: Pair, tmp_path: Path
) -> None:
    snap = next(iter(pair.sources))
    loc = pick(pair.cli, snap, DATA, seed=3)
    damage(pack_path(pair.cli, loc), "missing")
    r, doc = repair(pair.cli, "index")
    assert r.code == EXIT_DAMAGED and not doc["whole"]
    assert doc["index"]["packs_missing"] == [loc.pack]
    (broken,) = doc["broken"]
    assert broken["snapshot"] == snap and broken["state"] == "files-lost"
    src = pair.sources[snap]
    assert all(p.startswith(str(src)) for p in broken["paths"]), broken["paths"]
    assert_clean_failure(pair.cli("repair", "index"), *[f"{snap[:12]}:{broken['paths'][0]}"])
    r, doc = heal(pair)
    assert r.code == 0, r.err
    restores(pair.cli, pair.sources, tmp_path / "out")
    clean_after_prune(pair.cli)


def test_a_replica_that_does_not_share_the_chunk_ids_is_refused(pair: Pair, tmp_path: Path) -> None:
    other = Cli(tmp_path / "unrelated", pair.cli.env)
    other.ok("init", *CHEAP)
    other.ok("backup", str(next(iter(pair.sources.values()))))
    loc = pick(pair.cli, next(iter(pair.sources)), DATA, seed=0)
    damage(pack_path(pair.cli, loc), "missing")
    before = objects(pair.cli)
    r = pair.cli("repair", "--from", str(other.repo))
    assert_clean_failure(r, "--copy-params-from", code=1)
    assert objects(pair.cli) == before
    wrong = pair.cli("repair", "--from", str(pair.replica.repo), env={"RIPCORD_FROM_PASSWORD": "x"})
    assert_clean_failure(wrong, "replica", code=EXIT_WRONG_PASSWORD)
    nothing = pair.cli("repair", "--from", str(tmp_path / "nowhere"))
    assert_clean_failure(nothing, "nowhere", code=10)
    assert objects(pair.cli) == before


def test_repair_says_what_to_repair(pair: Pair) -> None:
    assert_clean_failure(pair.cli("repair"), "repair index", code=EXIT_USAGE)
    both = pair.cli("repair", "--from", str(pair.replica.repo), "index")
    assert_clean_failure(both, "--from", code=EXIT_USAGE)


def test_damage_the_replica_cannot_heal_is_named_then_dropped_only_when_asked(
    pair: Pair, tmp_path: Path
) -> None:
    c = pair.cli
    only_here = tree_of_files(tmp_path / "only-here", seed=9)  # never backed up in the replica
    snap = c.ok("backup", str(only_here), "--json").json["snapshot_id"]
    loc = pick(c, snap, DATA, seed=2)
    at = frame_middle(loc)
    with api_repo(c) as repo:
        hit = reached_by(repo, snap, only_here, "bitflip", loc, at)
    victims = sorted(str(only_here / rel) for rel in hit)
    damage(pack_path(c, loc), "bitflip", at=at)
    r, doc = heal(pair)
    assert r.code == EXIT_DAMAGED and not doc["whole"]
    (broken,) = doc["broken"]
    assert (broken["snapshot"], sorted(broken["paths"]), broken["action"]) == (snap, victims, None)
    assert_clean_failure(r, *[f"{snap[:12]}:{v}" for v in victims])
    # a dry run names the same files and writes nothing
    before = objects(c)
    r, doc = repair(c, "snapshots")
    assert r.code == EXIT_DAMAGED and doc["dry_run"]
    assert sorted(doc["broken"][0]["paths"]) == victims
    assert objects(c) == before
    # asked to, it saves the snapshot again without them and forgets the original
    r, doc = repair(c, "snapshots", "--forget-broken")
    assert r.code == 0 and doc["whole"], r.err
    (done,) = doc["broken"]
    assert done["action"] == "repaired" and done["lost"] == len(victims)
    new = done["new_snapshot"]
    listed = {s["id"]: s for s in c.ok("snapshots", "--json").json}
    assert snap not in listed and "repaired" in listed[new]["tags"]
    c.ok("restore", new, "--target", str(tmp_path / "out"), "--verify")
    kept = {p: d for p, d in files_under(only_here).items() if p not in hit}
    assert files_under(tmp_path / "out" / only_here.relative_to("/")) == kept
    # the damaged copy is condemned, so the next backup stores the lost files afresh
    again = c.ok("backup", str(only_here), "--json").json["snapshot_id"]
    c.ok("restore", again, "--target", str(tmp_path / "again"), "--verify")
    assert files_under(tmp_path / "again" / only_here.relative_to("/")) == files_under(only_here)
    clean_after_prune(c)


def test_a_damaged_or_deleted_snapshot_is_named_and_forgotten_only_when_asked(
    pair: Pair, tmp_path: Path
) -> None:
    c = pair.cli
    first, second = pair.sources
    third = c.ok("backup", str(pair.sources[first]), "--json").json["snapshot_id"]
    damage(c.repo / "snapshots" / first, "missing")  # second's chain still names it
    damage(c.repo / "snapshots" / third, "bitflip")
    r, doc = heal(pair)
    assert r.code == EXIT_DAMAGED
    states = {b["snapshot"]: b["state"] for b in doc["broken"]}
    assert states == {first: "gone", third: "damaged"}
    assert_clean_failure(r, f"{first[:12]}:/", f"{third[:12]}:/")
    r, doc = repair(c, "snapshots", "--forget-broken")
    assert r.code == 0 and doc["whole"], r.err
    assert {b["snapshot"]: b["action"] for b in doc["broken"]} == {
        first: "forgotten",
        third: "forgotten",
    }
    restores(c, {second: pair.sources[second]}, tmp_path / "out")
    clean_after_prune(c)
    assert not (c.repo / "snapshots" / third).exists()


def test_a_protected_snapshot_is_reported_but_left_as_it_is(pair: Pair) -> None:
    c = pair.cli
    first, _ = pair.sources
    c.ok("protect", first)
    loc = pick(c, first, DATA, seed=4)
    damage(pack_path(c, loc), "missing")
    r, doc = repair(c, "snapshots", "--forget-broken")
    assert r.code == EXIT_DAMAGED and not doc["whole"]
    (broken,) = doc["broken"]
    assert (broken["snapshot"], broken["action"], broken["new_snapshot"]) == (
        first,
        "protected",
        None,
    )
    assert first in {s["id"] for s in c.ok("snapshots", "--json").json}
    assert "unprotect it" in c("repair", "snapshots", "--forget-broken").out


def test_an_intact_copy_in_another_pack_is_used_and_nothing_is_lost(
    pair: Pair, tmp_path: Path
) -> None:
    c = pair.cli
    first, _ = pair.sources
    src = pair.sources[first]
    big = max(src.rglob("*.bin"), key=lambda p: (p.stat().st_size, p))
    with api_repo(c) as repo:
        blob = node_at(repo, first, big).content[0]  # a large file may have several chunks
        repo.add_blob(DATA, repo.read_blob(blob), blob, again=True)  # a second copy
        repo.flush()
    shutil.rmtree(c.env["RIPCORD_CACHE_DIR"])  # the CLI learns both copies in our order
    with api_repo(c) as repo:
        loc = repo.locate(blob)  # the copy a reader tries first
    damage(pack_path(c, loc), "bitflip", at=frame_middle(loc))
    r, doc = repair(c, "snapshots", "--forget-broken")
    assert r.code == 0, r.err
    assert (doc["blobs_broken"], doc["blobs_elsewhere"], doc["broken"]) == (1, 1, [])
    assert doc["packs_condemned"] == [loc.pack]
    restores(c, pair.sources, tmp_path / "out")
    clean_after_prune(c)


def test_an_index_file_that_disagrees_with_a_trailer_is_replaced(
    pair: Pair, tmp_path: Path
) -> None:
    c = pair.cli
    with api_repo(c) as repo:
        p, q = sorted(repo.pack_sizes())[:2]
        wrong = repo.write_index_file([(p, repo.read_pack_frames(q))])  # p with q's frames
    r, doc = repair(c, "index")
    assert r.code == 0, r.err
    (replaced,) = doc["index"]["index_files_replaced"]
    assert replaced["id"] == wrong.split("/")[1] and "disagrees" in replaced["reason"]
    clean_after_prune(c)
    restores(c, pair.sources, tmp_path / "out")


def test_a_dry_run_reads_packs_no_index_file_lists_and_writes_nothing(
    pair: Pair, tmp_path: Path
) -> None:
    c = pair.cli
    for index in (c.repo / "index").iterdir():
        index.unlink()
    before = objects(c)
    r, doc = repair(c, "snapshots")
    assert r.code == EXIT_DAMAGED and doc["dry_run"]  # the index still needs repair
    assert doc["broken"] == [] and doc["blobs_broken"] == 0  # but no file is lost
    assert len(doc["index"]["packs_indexed"]) == len(list((c.repo / "data").rglob("*/*")))
    assert "packs to index" in c("repair", "snapshots").out
    assert objects(c) == before
    r, doc = repair(c, "snapshots", "--forget-broken")
    assert r.code == 0 and doc["broken"] == [] and doc["index"]["index_files_written"]
    restores(c, pair.sources, tmp_path / "out")
