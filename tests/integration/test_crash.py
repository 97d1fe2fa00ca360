"""Crash consistency on a local repository: every command killed (SIGKILL) before each
write it makes to the store, after its last store call, and at seeded moments; after
every kill `check` is clean but for unreferenced data, every snapshot restores byte for
byte, and the command run again finishes the job (tests/crash/harness.py).

The long walk (every store call of every command, on SFTP and S3 too) is bench/soak.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.crash.boot import OPS
from tests.crash.harness import (
    KILLED,
    Kill,
    World,
    assert_consistent,
    count,
    every_write,
    moments,
    run,
    trials,
)
from tests.crash.scenarios import SCENARIOS, Base, FirstBackup, Prune
from tests.crash.sites import LocalSite

SEED = 8
MOMENTS = 2  # seeded kill times per command, on top of the kills at each write


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_kill_at_any_write_loses_nothing_and_the_rerun_finishes(
    scenario: type[Base], tmp_path: Path
) -> None:
    site = LocalSite(tmp_path)
    s = scenario()
    world = s.prepare(site, tmp_path / s.name)
    counted = count(world, site)
    kills = every_write(counted.calls)
    assert len(kills) >= 2, counted.calls  # at least one write, and after the last call
    outcomes = list(trials(s, site, world, kills))
    assert all(o.killed for o in outcomes), [o for o in outcomes if not o.killed]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_kill_at_a_seeded_moment_loses_nothing_and_the_rerun_finishes(
    scenario: type[Base], tmp_path: Path
) -> None:
    site = LocalSite(tmp_path)
    s = scenario()
    world = s.prepare(site, tmp_path / s.name)
    rng = random.Random(f"{SEED}-{s.name}")
    kills = moments(count(world, site).seconds, MOMENTS, rng)
    assert len(list(trials(s, site, world, kills))) == MOMENTS


# -- the harness itself ---------------------------------------------------------------------


def first_backup(tmp_path: Path) -> World:
    return FirstBackup().prepare(LocalSite(tmp_path), tmp_path / "first")


def stored(world: World) -> set[str]:
    root = Path(world.repos["main"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {"config"}


def test_the_kth_put_is_never_made_and_the_ones_before_are(tmp_path: Path) -> None:
    world = first_backup(tmp_path)
    puts = [name for op, name in count(world, LocalSite(tmp_path)).calls if op == "put"]
    before = stored(world)
    r = run(world, Kill("put:3"))
    assert r.code == KILLED, r.err
    kinds = sorted(name.split("/")[0] for name in stored(world) - before)
    assert kinds == sorted(name.split("/")[0] for name in puts[:2])  # its lock and a pack


def test_a_plus_kills_just_after_the_call_returns(tmp_path: Path) -> None:
    world = first_backup(tmp_path)
    before = stored(world)
    assert run(world, Kill("put:1+")).code == KILLED
    (lock,) = stored(world) - before  # the first put of a backup is its lock
    assert lock.startswith("locks/")


def test_a_killed_prunes_lock_stays_behind_and_blocks_neither_check_nor_the_next_prune(
    tmp_path: Path,
) -> None:
    world = Prune().prepare(LocalSite(tmp_path), tmp_path / "prune")
    before = stored(world)
    assert run(world, Kill("delete:1")).code == KILLED  # its plan written, nothing deleted
    (lock,) = {n for n in stored(world) - before if n.startswith("locks/")}
    assert_consistent(world.cli())
    world.cli().ok(*world.args())
    assert lock not in stored(world)  # its holder is dead: the prune's barrier let it go


def test_an_unknown_operation_is_refused(tmp_path: Path) -> None:
    world = first_backup(tmp_path)
    r = run(world, Kill("rename:1"))
    assert r.code == 1 and "unknown store operation 'rename'" in r.err, r.err
    assert set(OPS) == {"put", "get", "stat", "list", "delete"}


def test_check_that_finds_an_error_fails_the_trial(tmp_path: Path) -> None:
    world = first_backup(tmp_path)
    world.cli().ok(*world.args())
    pack = next(Path(world.repos["main"], "data").rglob("*"))
    while pack.is_dir():
        pack = next(pack.iterdir())
    pack.unlink()
    with pytest.raises(AssertionError, match="missing"):
        assert_consistent(world.cli())
