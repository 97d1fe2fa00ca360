"""Prune beside backups: no interleaving loses data, and a killed prune is finished later.

Three layers (issue 3): real `ripcord backup` and `ripcord prune` processes
raced many times with seeded random delays; the same interleavings driven
step by step through the API, where each outcome is exact; and `ripcord
prune` killed with SIGKILL at several points. After each, every live
snapshot restores byte for byte and every blob it uses is readable.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ripcord.archive.progress import NullProgress
from ripcord.errors import LockedError
from ripcord.repository import DATA, Repository
from ripcord.repository.locks import STALE, TRUSTED, Lock, utcnow
from ripcord.repository.packer import pack_name
from ripcord.retention.prune import PruneOptions, PruneReport, carry_out, make_plan, prune
from ripcord.storage import LocalStore
from tests.conftest import FAST_KDF, PASSWORD, Cli, Result
from tests.faults import (
    api_repo,
    assert_snapshots_readable,
    collect,
    files_under,
    hostile_snapshot,
    kill_when,
    pack_names,
    plant_lock,
    random_files,
    raw_file,
    run_binary,
    spawn,
    stored_names,
    unindexed_packs,
)

# -- shared checks ----------------------------------------------------------------------


@dataclass
class Kept:
    """A snapshot that must restore, and what its backup saw."""

    source: Path
    files: dict[Path, bytes]


def backup(cli: Cli, source: Path) -> tuple[str, Kept]:
    snap = cli.ok("backup", str(source), "--json").json["snapshot_id"]
    return snap, Kept(source, files_under(source))


def assert_intact(cli: Cli, kept: dict[str, Kept], scratch: Path) -> None:
    """The live snapshots are exactly `kept`, each restores byte for byte through the
    CLI, and every blob each one uses can be read through the API."""
    listed = {s["id"] for s in cli.ok("snapshots", "--json").json}
    assert listed == set(kept)
    for snap, want in kept.items():
        target = scratch / f"restore-{snap[:12]}"
        cli.ok("restore", snap, "--target", str(target))
        got = files_under(target / want.source.relative_to("/"))
        assert got == want.files, f"snapshot {snap[:12]} restored other content"
        shutil.rmtree(target)
    with api_repo(cli) as repo:
        assert_snapshots_readable(repo)


def assert_pruned_clean(cli: Cli) -> None:
    """Nothing left pending, no pack outside the index, no forgotten snapshot stored."""
    assert not stored_names(cli, "pending")
    with api_repo(cli) as repo:
        assert not unindexed_packs(repo)
        assert set(repo.snapshot_ids()) == {s.id for s in repo.snapshots()}


def hold_up(repo: Repository) -> str:
    """The lock of a backup on this host that started before anything the test does."""
    now = datetime.now(UTC)
    return plant_lock(repo, host=socket.gethostname(), pid=os.getpid(), when=now, exclusive=False)


# -- 1. real processes, many times ------------------------------------------------------

ROUNDS = 24
SEED = 3
STEP = 0.04  # seconds the start gap moves towards the race after a round that missed it
JITTER = 0.05


def _race(
    cli: Cli, backup_args: list[str], prune_args: list[str], gap: float
) -> tuple[Result, Result]:
    """Start backup and prune `gap` seconds apart (backup first when gap > 0)."""
    first, second = (backup_args, prune_args) if gap > 0 else (prune_args, backup_args)
    a = spawn(cli, *first)
    time.sleep(abs(gap))
    b = spawn(cli, *second)
    ra, rb = collect(a), collect(b)
    return (ra, rb) if gap > 0 else (rb, ra)


def _round_source(root: Path, rng: random.Random, common: bytes) -> Path:
    """Data a forgotten snapshot holds and the next backup stores again: big files with
    frames of their own, small ones sharing frames, and one file every round shares."""
    random_files(root, 4, 1_000_000)
    for i in range(6):
        (root / f"small{i}").write_bytes(rng.randbytes(rng.randrange(1_000, 60_000)))
    (root / "common").write_bytes(common)
    return root


def test_backups_racing_prunes_never_lose_data(cli: Cli, tmp_path: Path) -> None:
    """Each round forgets a snapshot of D, then backs D up again while a prune deletes
    what the forgotten snapshot held: the backup deduplicates against condemned data
    when it locks before the plan, and must not when it locks after.

    The gap between the two starts walks towards the moment where the backup holds
    its lock while the prune plans (a machine's speed moves that moment), with
    seeded jitter so that rounds land before, during and after the plan.
    """
    rng = random.Random(SEED)
    common = rng.randbytes(200_000)
    kept: dict[str, Kept] = {}
    seen = {"before": 0, "during": 0, "after": 0}
    centre = 0.0
    for r in range(ROUNDS):
        d = _round_source(tmp_path / f"d{r}", rng, common)
        (d / "junk").write_bytes(rng.randbytes(400_000))  # only the forgotten snapshot has it
        old, _ = backup(cli, d)
        (d / "junk").unlink()
        older = list(kept)[:-1]  # keep the last round's snapshot: two live at a time
        for s in older:
            del kept[s]
        cli.ok("forget", old, *older)

        gap = centre + rng.uniform(-JITTER, JITTER)
        prune_args = ["prune", "--json", "--max-unused", rng.choice(["0%", "5%"])]
        b, p = _race(cli, ["backup", str(d), "--json"], prune_args, gap)
        assert b.code == 0, b.err
        assert p.code == 0, p.err
        kept[b.json["snapshot_id"]] = Kept(d, files_under(d))
        again = cli.ok("prune", "--json").json  # carries out what waited for the backup
        added = b.json["data_blobs_added"]
        rescued = p.json["packs_rescued"] + again["packs_rescued"]
        if p.json["waiting"] or (rescued and not added):
            when = "during"  # held its lock while the prune planned, or reused what it condemned
        elif added:
            when = "after"  # saw the plan: stored D again rather than reuse condemned data
            centre += STEP
        else:
            when = "before"  # done before the prune looked
            centre -= STEP
        seen[when] += 1
        print(
            f"round {r}: gap {gap:+.2f}s {when}: waiting {len(p.json['waiting'])},"
            f" rescued {rescued}, added {added}"
        )
        assert_pruned_clean(cli)
        assert_intact(cli, kept, tmp_path)
    # the race must really have happened, or this test proves nothing
    assert all(seen.values()), f"backups never started {[k for k, n in seen.items() if not n]}"


# -- 2. the same interleavings, step by step --------------------------------------------


def _open(path: Path, cache: Path | None = None) -> Repository:
    return Repository.open(LocalStore(path), PASSWORD.encode(), cache_dir=cache)


def plan_now(p: Repository) -> PruneReport:
    """Plan a prune and carry it out at once if no earlier holder is running."""
    report = PruneReport()
    with p.lock(prune=True) as lock:
        assert make_plan(p, PruneOptions(), report, lock, print, NullProgress()) is not None
        carry_out(p, lock, report, time.monotonic(), print)
    return report


def finish(p: Repository) -> PruneReport:
    """A later prune: carries out what waited, then prunes anew."""
    report = prune(p, PruneOptions())
    assert not p.pending()
    return report


def assert_consistent(path: Path) -> None:
    with _open(path) as fresh:
        assert_snapshots_readable(fresh)
        assert not unindexed_packs(fresh)


@dataclass
class Scene:
    """A repository with a kept snapshot and a forgotten one whose only data blob, `old`,
    is in a pack of its own; `prune` and `backup` are two clients of it."""

    path: Path
    prune: Repository
    backup: Repository
    old: bytes  # content of the forgotten snapshot's file
    old_pack: str

    def old_pack_exists(self) -> bool:
        return (self.path / pack_name(self.old_pack)).exists()


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    path = tmp_path / "repo"
    with Repository.init(LocalStore(path, create=True), PASSWORD.encode(), FAST_KDF) as p:
        old = os.urandom(200_000)
        forgotten = hostile_snapshot(p, [raw_file(p, b"old", old)])
        hostile_snapshot(p, [raw_file(p, b"kept", os.urandom(1000))])
        p.add_mark("forget", [forgotten])
        with _open(path) as b:
            yield Scene(path, p, b, old, p.locate(p.blob_id(old)).pack)


def test_backup_locked_before_the_plan_gets_its_reused_pack_rescued(scene: Scene) -> None:
    b = scene.backup
    with b.lock():
        node = raw_file(b, b"again", scene.old)
        assert b.locate(b.blob_id(scene.old)).pack == scene.old_pack  # reused: no plan yet
        assert list(plan_now(scene.prune).waiting.values()) == [1]  # the backup holds it up
        assert scene.old_pack_exists()
        hostile_snapshot(b, [node])  # written after the plan, using what it condemned
    assert finish(scene.prune).packs_rescued == 1
    assert scene.old_pack_exists()
    assert_consistent(scene.path)


def packs_holding(path: Path, data: bytes) -> set[str]:
    """The packs that index files list as holding the blob of `data`."""
    with _open(path) as repo:
        blob = repo.blob_id(data)
        return {
            pack
            for info in repo.store.list("index")
            for pack, frames in repo.read_index_file(info.name)
            if any(x.id == blob for f in frames for x in f.blobs)
        }


def test_backup_locked_after_the_plan_stores_condemned_data_again(scene: Scene) -> None:
    """It needs no waiting for: the condemned pack goes, the new copy stays."""
    p, b = scene.prune, scene.backup
    earlier = hold_up(p)
    assert list(plan_now(p).waiting.values()) == [1]
    with b.lock():
        assert not b.has_blob(b.blob_id(scene.old))  # condemned: never deduplicated against
        hostile_snapshot(b, [raw_file(b, b"again", scene.old)])
    assert b.stored_bytes > len(scene.old)  # stored again
    p.store.delete(earlier)
    assert finish(p).packs_rescued == 0
    assert not scene.old_pack_exists()
    assert len(packs_holding(scene.path, scene.old)) == 1
    assert_consistent(scene.path)


class BootClock:
    """A boot clock the test moves: a suspended laptop, or refreshes that kept failing."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backup_whose_lock_went_stale_refuses_to_write_its_snapshot(scene: Scene) -> None:
    p, b = scene.prune, scene.backup
    boot = BootClock()
    lock = Lock(b.store, b.key, False, b.clock, boot_clock=boot)  # its refreshes all failed
    lock.acquire()
    b.held = lock
    try:
        b.sync_index()
        node = raw_file(b, b"again", scene.old)  # reused: no plan yet
        assert list(plan_now(p).waiting.values()) == [1]
        # long after, the prune judges the silent lock stale and deletes the pack
        boot.now += TRUSTED.total_seconds() + 1
        p.clock = lambda: utcnow() + STALE * 1.1
        assert finish(p).packs_rescued == 0
        assert not scene.old_pack_exists()
        with pytest.raises(LockedError, match="could not refresh"):
            hostile_snapshot(b, [node])
    finally:
        b.held = None
        lock.release()
    assert len(p.snapshot_ids()) == 1  # only the kept one
    assert_consistent(scene.path)


def test_client_sharing_the_index_cache_with_a_prune_never_reuses_condemned_data(
    tmp_path: Path,
) -> None:
    """Processes of one user share the on-disk index cache; a prune rebuilding it hands
    out pack numbers anew, which a long-lived client must not have kept."""
    path, cache = tmp_path / "repo", tmp_path / "cache"
    with Repository.init(LocalStore(path, create=True), PASSWORD.encode(), FAST_KDF) as w:
        others = [hostile_snapshot(w, [raw_file(w, b"z", os.urandom(1000))]) for _ in range(20)]
        with _open(path, cache) as b, _open(path, cache) as p:  # two clients, one cache
            with b.lock():  # an earlier backup of a long-lived client: absorbs 40 packs
                pass
            old = os.urandom(200_000)
            forgotten = hostile_snapshot(w, [raw_file(w, b"old", old)])
            with b.lock():  # and another: absorbs the old pack, numbered after those
                pass
            p.add_mark("forget", others)
            finish(p)  # deletes 40 packs and rebuilds the shared cache: numbered anew
            p.add_mark("forget", [forgotten])
            earlier = hold_up(p)
            assert list(plan_now(p).waiting.values()) == [1]
            with b.lock():
                assert not b.has_blob(b.blob_id(old))  # condemned: must not be reused
                node = raw_file(b, b"again", old)
                p.store.delete(earlier)
                finish(p)  # need not wait for b: it locked after the plan
                hostile_snapshot(b, [node])
    assert_consistent(path)


# -- 3. prune killed midway -------------------------------------------------------------


def _killed_while_waiting(cli: Cli, tmp_path: Path) -> dict[str, Kept]:
    """After the plan and its barrier exist, waiting for a backup that started earlier."""
    random_files(tmp_path / "gone", 3, 100_000)
    cli.ok("forget", backup(cli, tmp_path / "gone")[0])
    with api_repo(cli) as repo:
        earlier = hold_up(repo)
    before = pack_names(cli)
    kill_when(cli, ["prune", "--wait", "1h"], lambda: len(stored_names(cli, "pending")) == 2)
    assert pack_names(cli) == before  # nothing deleted yet
    (cli.repo / earlier).unlink()  # the earlier backup finished
    return {}


def _killed_while_deleting(cli: Cli, tmp_path: Path) -> dict[str, Kept]:
    """After some of many condemned packs are gone, before the plan is."""
    before = pack_names(cli)
    with api_repo(cli) as repo:
        for _ in range(1000):
            repo.add_blob(DATA, os.urandom(64))
            repo.flush()  # a pack and an index file each, used by no snapshot
    doomed = pack_names(cli) - before
    first = cli.repo / pack_name(min(doomed))  # prune deletes in name order
    kill_when(cli, ["prune"], lambda: not first.exists())
    left = len(pack_names(cli) & doomed)
    assert 0 < left < len(doomed), f"killed with {left} of {len(doomed)} condemned packs left"
    assert stored_names(cli, "pending")
    return {}


def _killed_while_repacking(cli: Cli, tmp_path: Path) -> dict[str, Kept]:
    """While the used half of big packs is copied into new ones, before any plan."""
    big = random_files(tmp_path / "big", 16, 3_000_000)
    old, _ = backup(cli, big)
    for f in sorted(big.iterdir())[::2]:
        f.unlink()
    snap, kept = backup(cli, big)
    cli.ok("forget", old)
    before = pack_names(cli)
    kill_when(cli, ["prune", "--max-unused", "0%"], lambda: bool(pack_names(cli) - before))
    assert not stored_names(cli, "pending")
    return {snap: kept}


KILLS = {
    "waiting": _killed_while_waiting,
    "deleting": _killed_while_deleting,
    "repacking": _killed_while_repacking,
}


@pytest.mark.parametrize("point", KILLS)
def test_prune_killed_midway_loses_nothing_and_the_next_prune_finishes(
    cli: Cli, src: Path, tmp_path: Path, point: str
) -> None:
    snap, first = backup(cli, src)
    kept = {snap: first, **KILLS[point](cli, tmp_path)}
    assert_intact(cli, kept, tmp_path)  # right after the kill
    left = stored_names(cli, "pending")
    r = run_binary(cli, "prune", "--json")
    assert r.code == 0, r.err
    assert r.json["plans_done"]
    assert not left or left & set(r.json["plans_done"])  # the killed prune's plan, finished
    assert_pruned_clean(cli)
    assert_intact(cli, kept, tmp_path)
