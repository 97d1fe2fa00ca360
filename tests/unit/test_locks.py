"""Locks: conflicts, staleness, and refreshing while a long job runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from ripcord.errors import LockedError
from ripcord.repository import Repository
from ripcord.repository.locks import STALE, Lock


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def lock_names(repo: Repository) -> set[str]:
    return {i.name for i in repo.store.list("locks")}


def test_shared_locks_coexist_and_exclusive_ones_do_not(mem_repo: Repository) -> None:
    a = Lock(mem_repo.store, mem_repo.key, exclusive=False)
    b = Lock(mem_repo.store, mem_repo.key, exclusive=False)
    a.acquire()
    b.acquire()
    with pytest.raises(LockedError, match="locked"):
        Lock(mem_repo.store, mem_repo.key, exclusive=True).acquire()
    assert len(lock_names(mem_repo)) == 2  # the refused one removed itself
    a.release()
    b.release()
    assert lock_names(mem_repo) == set()


def test_refresh_replaces_the_object_with_a_newer_time(mem_repo: Repository) -> None:
    clock = Clock()
    lock = Lock(mem_repo.store, mem_repo.key, exclusive=True, clock=clock)
    lock.acquire()
    first = lock.name
    clock.now += STALE + timedelta(minutes=1)
    lock.refresh()
    assert lock.name != first
    assert lock_names(mem_repo) == {lock.name}
    other = Lock(mem_repo.store, mem_repo.key, exclusive=False, clock=clock)
    (info,) = other.others()
    assert info.time == clock.now
    assert not info.is_stale(clock.now)  # refreshed: still honoured
    lock.release()


def test_a_lock_not_refreshed_for_longer_than_stale_is_ignored(mem_repo: Repository) -> None:
    clock = Clock()
    old = Lock(mem_repo.store, mem_repo.key, exclusive=True, clock=clock)
    old.acquire()
    clock.now += STALE + timedelta(seconds=1)
    old.name = None  # as if its process vanished on another host without releasing
    Lock(mem_repo.store, mem_repo.key, exclusive=True, clock=clock).acquire()


def test_kept_fresh_refreshes_in_the_background(mem_repo: Repository) -> None:
    lock = Lock(mem_repo.store, mem_repo.key, exclusive=False)
    lock.acquire()
    first = lock.name
    changed = threading.Event()
    with lock.kept_fresh(every=0.01):
        for _ in range(500):
            if lock.name != first:
                changed.set()
                break
            changed.wait(0.01)
    assert changed.is_set()
    assert lock_names(mem_repo) == {lock.name}
    lock.release()
    assert lock_names(mem_repo) == set()
