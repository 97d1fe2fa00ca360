"""Prune and maintain on storage with Object Lock: locks extended while needed, and
what is locked stays pending deletion until its lock expires.

An in-memory store plays the locked bucket on a clock the test moves; the same
code runs against a real SeaweedFS bucket in tests/integration/test_maintain.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.errors import UsageError, WrongPassword
from ripcord.repository import Repository
from ripcord.repository.config import ObjectLock
from ripcord.repository.pending import Barrier, Plan, in_force
from ripcord.retention.maintain import live_objects, maintain
from ripcord.retention.prune import PruneOptions, prune
from ripcord.storage import MemoryStore
from tests.conftest import FAST_KDF, PASSWORD
from tests.faults import random_files

DAY = timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(clock: Clock) -> Iterator[Repository]:
    store = MemoryStore(clock)
    lock = ObjectLock("compliance", int(DAY.total_seconds()))
    with Repository.init(store, PASSWORD.encode(), FAST_KDF, object_lock=lock) as r:
        r.clock = clock
        yield r


def backup(repo: Repository, path: Path) -> str:
    return Backup(repo, BackupOptions([str(path)])).run().snapshot_id


def names(repo: Repository, prefix: str) -> set[str]:
    return {i.name for i in repo.store.list(prefix)}


def test_locked_objects_stay_pending_deletion_until_their_lock_expires(
    repo: Repository, clock: Clock, tmp_path: Path
) -> None:
    data = random_files(tmp_path / "data", 4, 200_000)
    first = backup(repo, data)
    for f in sorted(data.iterdir())[:3]:
        f.unlink()
    second = backup(repo, data)
    packs = names(repo, "data")
    repo.add_mark("forget", [first])

    report = prune(repo, PruneOptions())
    assert f"snapshots/{first}" in report.pending_deletion
    assert all(until == clock.now + DAY for until in report.pending_deletion.values())
    assert report.snapshots_deleted == report.packs_deleted == 0
    assert f"snapshots/{first}" in names(repo, "snapshots")  # locked: still there
    [leftover] = repo.plans()  # the plan carried out is replaced by what it left
    assert leftover.leftover and first in leftover.snapshots
    assert set(leftover.packs) and {f"data/{p[:2]}/{p}" for p in leftover.packs} <= packs

    # nothing new to plan: the locked leftovers are the leftover plan's, not condemned again
    index_files, records = names(repo, "index"), names(repo, "pending")
    clock.now += DAY / 2
    again = prune(repo, PruneOptions())
    assert (names(repo, "index"), names(repo, "pending")) == (index_files, records)
    replaced = {f"pending/{r}" for r in leftover.replaces}
    assert again.pending_deletion.keys() == report.pending_deletion.keys() | replaced
    assert repo.load_snapshot(second).id == second

    clock.now += DAY  # every lock has expired
    done = prune(repo, PruneOptions())
    assert not done.pending_deletion
    assert done.snapshots_deleted == 1 and done.packs_deleted == len(leftover.packs)
    assert names(repo, "pending") == set()
    assert names(repo, "snapshots") == {f"snapshots/{second}"}
    repo.sync_index()
    assert prune(repo, PruneOptions()).packs_deleted == 0


def test_a_plan_another_replaces_condemns_nothing_more() -> None:
    t = datetime(2026, 11, 26, tzinfo=UTC)
    first = Plan(t, "h", ["a" * 64], [], [], [], id="1" * 64)
    barrier = Barrier(first.id, t, [], id="2" * 64)
    left = Plan(t + DAY, "h", [], [], [], [], id="3" * 64, replaces=[first.id, barrier.id])
    other = Barrier("4" * 64, t, [], id="5" * 64)  # a stray: its plan is gone
    plans, strays = in_force([first, barrier, left, other])
    assert plans == [left]
    assert strays == [barrier, other]


def until_of(repo: Repository, name: str) -> datetime | None:
    store = repo.store
    assert isinstance(store, MemoryStore)
    return store.until.get(name)


def test_maintain_extends_only_what_kept_snapshots_need(
    repo: Repository, clock: Clock, tmp_path: Path
) -> None:
    data = random_files(tmp_path / "data", 4, 200_000)
    first = backup(repo, data)
    only_first = names(repo, "data")
    for f in sorted(data.iterdir())[:3]:
        f.unlink()
    second = backup(repo, data)
    only_first -= names(repo, "data") - only_first  # packs the second backup added
    repo.add_mark("forget", [first])
    written = clock.now

    fresh = maintain(repo)  # every lock still runs a whole day: nothing to do
    assert fresh.extended == 0 and fresh.earliest == written + DAY
    assert fresh.next_run == written + DAY * 3 / 4

    clock.now += DAY * 0.6  # less than half the retention left on every lock
    report = maintain(repo)
    assert report.extended == report.live and report.relocked == 0
    assert report.locked_until == clock.now + DAY == report.earliest
    assert until_of(repo, f"snapshots/{second}") == clock.now + DAY
    assert until_of(repo, "config") == clock.now + DAY
    assert until_of(repo, f"snapshots/{first}") == written + DAY  # forgotten: left to expire
    packs = {n.rsplit("/", 1)[1] for n in names(repo, "data")}
    used_by_second = {p for p in packs if until_of(repo, f"data/{p[:2]}/{p}") != written + DAY}
    assert used_by_second and packs - used_by_second  # some packs only the first used

    maintained = clock.now + DAY
    clock.now = written + DAY * 1.1  # the forgotten data's locks have ended, not the rest
    done = prune(repo, PruneOptions())
    assert done.snapshots_deleted == 1 and done.packs_deleted == len(packs - used_by_second)
    assert {n.rsplit("/", 1)[1] for n in names(repo, "data")} >= used_by_second
    # what it replaced (index files, packs it repacked) was still needed, so maintain had
    # extended it: it waits, and maintain no longer extends it
    waiting = {n: u for n, u in done.pending_deletion.items() if not n.startswith("pending/")}
    assert waiting and set(waiting.values()) == {maintained}
    clock.now += DAY * 0.6
    assert not set(waiting) & {o.name for o in live_objects(repo, [])}
    maintain(repo)
    clock.now = written + DAY * 3  # past every lock that maintain did not extend
    assert not prune(repo, PruneOptions()).pending_deletion
    assert names(repo, "pending") == set()


def test_maintain_locks_again_what_lost_its_lock(
    repo: Repository, clock: Clock, tmp_path: Path
) -> None:
    backup(repo, random_files(tmp_path / "data", 2, 1000))
    clock.now += DAY * 3  # maintain was not run in time
    dry = maintain(repo, dry_run=True)
    assert dry.relocked == dry.extended == dry.live and dry.unlocked
    assert until_of(repo, "config") == clock.now - DAY * 2  # a dry run changes nothing
    report = maintain(repo)
    assert report.relocked == report.live and "config" in report.unlocked
    assert until_of(repo, "config") == clock.now + DAY


def test_maintain_needs_a_locked_repository(tmp_path: Path) -> None:
    with (
        Repository.init(MemoryStore(), PASSWORD.encode(), FAST_KDF) as plain,
        pytest.raises(UsageError, match="no Object Lock"),
    ):
        maintain(plain)


def test_a_removed_key_slot_the_storage_still_locks_opens_nothing_and_goes_later(
    repo: Repository, clock: Clock
) -> None:
    old = repo.add_key(b"old password", FAST_KDF)
    until = repo.remove_key(old)
    assert until == clock.now + DAY
    assert old in names(repo, "keys")  # the storage keeps it...
    assert old not in [n for n, _ in repo.list_keys()]  # ...but it is removed
    with pytest.raises(WrongPassword, match="was removed"):
        Repository.open(repo.store, b"old password")
    assert old not in {o.name for o in live_objects(repo, [])}  # left to expire
    assert old in prune(repo, PruneOptions()).pending_deletion
    clock.now += DAY * 2
    prune(repo, PruneOptions())
    assert old not in names(repo, "keys") and names(repo, "pending") == set()
    with pytest.raises(WrongPassword, match="no key"):
        Repository.open(repo.store, b"old password")
