"""`repair snapshots --forget-broken` killed (SIGKILL) before each write it makes: it
saves snapshots again without their lost files and forgets the originals, the most
destructive thing repair does. After every kill nothing is worse than the damage it
started from: `check` reports no new kind of error, the intact snapshot restores byte
for byte, a repaired one restores to its source less exactly the files lost; and the
command run again finishes the job, with `check` clean (tests/crash/harness.py runs
the process and the kills; tests/integration/test_crash.py does the other commands)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ripcord.errors import EXIT_DAMAGED
from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import PASSWORD
from tests.crash.harness import ALLOWED_NOTES, KILLED, World, count, every_write, run
from tests.crash.scenarios import Base
from tests.crash.sites import LocalSite
from tests.faults import node_at
from tests.trees import TreeState, assert_same, restored, tree_state


class ForgetBroken(Base):
    name = "forget-broken"
    versions = 2

    def argv(self) -> list[str]:
        return ["repair", "snapshots", "--forget-broken"]


def lose_the_pack_of(world: World, site: LocalSite, source: Path, path: Path) -> None:
    """Delete the pack holding the first chunk of `path` as snapshot v2 stored it."""
    repo_dir = site.path(world.repos["main"])
    with Repository.open(LocalStore(repo_dir), PASSWORD.encode()) as repo:
        (snap,) = [s for s in repo.snapshots() if "v2" in s.tags]
        loc = repo.locate(node_at(repo, snap.id, path).content[0])
    (repo_dir / "data" / loc.pack[:2] / loc.pack).unlink()


def lost_paths(world: World) -> set[str]:
    """What `repair snapshots` (writing nothing) says the damage costs, relative paths."""
    r = world.cli()("repair", "snapshots")
    assert r.code == EXIT_DAMAGED, r.err
    lost = {line.split(":", 1)[1] for line in r.err.splitlines() if line.startswith("lost ")}
    assert lost and not any(p.endswith("/") for p in lost), lost
    return lost


def damaged_paths(world: World) -> set[str]:
    """The files `check` names as damaged (once the index is repaired, the same lost
    data shows as blobs in no index file rather than in a missing pack: no new loss)."""
    r = world.cli()("check", "--json")
    assert r.code in (0, EXIT_DAMAGED) and "Traceback" not in r.err, r.err
    assert {n["kind"] for n in r.json["notes"]} <= ALLOWED_NOTES, r.json["notes"]
    return {p.split(":", 1)[1] for e in r.json["errors"] for p in e["paths"]}


def restores_to(world: World, snap_id: str, source: Path, picture: TreeState) -> None:
    target = world.root / "restore" / snap_id[:12]
    world.cli().ok("restore", snap_id, "--target", str(target), "--verify")
    assert_same(picture, tree_state(restored(target, source)))
    shutil.rmtree(target)


def test_forget_broken_killed_at_any_write_loses_nothing_more_and_the_rerun_finishes(
    tmp_path: Path,
) -> None:
    site = LocalSite(tmp_path)
    s = ForgetBroken()
    world = s.prepare(site, tmp_path / s.name)
    source = s.source
    lose_the_pack_of(world, site, source, source / "docs" / "deep" / "2.bin")
    lost = lost_paths(world)
    assert damaged_paths(world) == lost
    v2 = world.pictures["v2"].state
    gone = {str(Path(p).relative_to(source)) for p in lost}
    repaired = TreeState({p: e for p, e in v2.entries.items() if p not in gone}, v2.links)
    assert len(repaired.entries) == len(v2.entries) - len(lost)
    kills = every_write(count(world, site).calls)
    assert len(kills) >= 4, kills  # index, tree(s), snapshot, forget mark at least
    for n, kill in enumerate(kills):
        clone = world.clone(site, f"{world.root.name}-{n}")
        try:
            r = run(clone, kill)
            where = f"forget-broken killed at {kill}"
            assert r.code in (0, KILLED), f"{where}: exit {r.code}: {r.err}"
            assert damaged_paths(clone) <= lost, where
            for check_done in (False, True):
                snaps = clone.cli().ok("snapshots", "--json").json
                tags = sorted(tuple(sorted(x["tags"])) for x in snaps)
                v1 = [x["id"] for x in snaps if "v1" in x["tags"]]
                assert len(v1) == 1, f"{where}: {tags}"
                restores_to(clone, v1[0], source, world.pictures["v1"].state)
                for x in snaps:
                    if "repaired" in x["tags"]:
                        restores_to(clone, x["id"], source, repaired)
                if check_done:
                    assert tags == sorted([("v1",), ("repaired", "v2")]), f"{where}: {tags}"
                    assert damaged_paths(clone) == set(), where
                    break
                clone.cli().ok(*clone.args())  # the rerun finishes the job
        finally:
            clone.discard(site)
