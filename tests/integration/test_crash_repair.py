"""The repairs of a damaged repository killed (SIGKILL) before each write they make:
`repair snapshots --forget-broken`, which saves snapshots again without their lost
files and forgets the originals (the most destructive thing repair does), and `repair
--from REPLICA`, which heals lost data from a replica. After every kill nothing is
worse than the damage they started from: `check` names no file beyond those lost, the
intact snapshot restores byte for byte, a repaired one to its source less exactly the
files lost; and the command run again finishes the job, with `check` clean
(tests/crash/harness.py runs the process and the kills; tests/integration/test_crash.py
does the other commands, `repair index` among them)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ripcord.errors import EXIT_DAMAGED
from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import PASSWORD
from tests.crash.harness import ALLOWED_NOTES, KILLED, World, count, every_write, run
from tests.crash.scenarios import FAST, Base
from tests.crash.sites import LocalSite, Site
from tests.faults import node_at
from tests.trees import TreeState, assert_same, restored, tree_state


class ForgetBroken(Base):
    name = "forget-broken"
    versions = 2

    def argv(self) -> list[str]:
        return ["repair", "snapshots", "--forget-broken"]


class HealFromReplica(Base):
    """A replica holding both snapshots, made before the damage."""

    name = "heal"

    def prepare(self, site: Site, root: Path) -> World:
        root.mkdir(parents=True)
        self.source = root / "src"
        world = self.world(site, root, self.argv(), ("main", "copy"))
        world.env["RIPCORD_FROM_PASSWORD"] = PASSWORD
        world.cli("copy").ok("init", "--copy-params-from", world.repos["main"], *FAST)
        for version in (1, 2):
            self.backup(world, version)
        world.cli().ok("copy", "--to", world.repos["copy"], env={"RIPCORD_TO_PASSWORD": PASSWORD})
        return world

    def argv(self) -> list[str]:
        return ["repair", "--from", "{copy}"]


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
    kill_at_every_write(ForgetBroken(), tmp_path, healed=False)


def test_healing_from_a_replica_killed_at_any_write_loses_nothing_and_the_rerun_heals(
    tmp_path: Path,
) -> None:
    kill_at_every_write(HealFromReplica(), tmp_path, healed=True)


def kill_at_every_write(s: Base, tmp_path: Path, healed: bool) -> None:
    """Damage v2 (a pack of its own data gone), kill `s`'s command before each of its
    writes, and check each clone after the kill and after the rerun. `healed`: the
    rerun brings v2 back whole (else saved again less what it lost)."""
    site = LocalSite(tmp_path)
    world = s.prepare(site, tmp_path / s.name)
    source = s.source
    lose_the_pack_of(world, site, source, source / "docs" / "deep" / "2.bin")
    lost = lost_paths(world)
    assert damaged_paths(world) == lost
    v2 = world.pictures["v2"].state
    gone = {str(Path(p).relative_to(source)) for p in lost}
    repaired = TreeState({p: e for p, e in v2.entries.items() if p not in gone}, v2.links)
    assert len(repaired.entries) == len(v2.entries) - len(lost)
    final = [("v1",), ("v2",)] if healed else sorted([("v1",), ("repaired", "v2")])
    kills = every_write(count(world, site).calls)
    assert len(kills) >= 3, kills
    for n, kill in enumerate(kills):
        clone = world.clone(site, f"{world.root.name}-{n}")
        try:
            r = run(clone, kill)
            where = f"{s.name} killed at {kill}"
            assert r.code in (0, KILLED), f"{where}: exit {r.code}: {r.err}"
            assert damaged_paths(clone) <= lost, where
            for rerun in (False, True):
                snaps = clone.cli().ok("snapshots", "--json").json
                tags = sorted(tuple(sorted(x["tags"])) for x in snaps)
                v1 = [x["id"] for x in snaps if "v1" in x["tags"]]
                assert len(v1) == 1, f"{where}: {tags}"
                restores_to(clone, v1[0], source, world.pictures["v1"].state)
                for x in snaps:
                    if "repaired" in x["tags"]:
                        restores_to(clone, x["id"], source, repaired)
                if rerun:
                    assert tags == final, f"{where}: {tags}"
                    assert damaged_paths(clone) == set(), where
                    if healed:
                        (v2_id,) = [x["id"] for x in snaps if "v2" in x["tags"]]
                        restores_to(clone, v2_id, source, v2)
                    break
                clone.cli().ok(*clone.args())  # the rerun finishes the job
        finally:
            clone.discard(site)
