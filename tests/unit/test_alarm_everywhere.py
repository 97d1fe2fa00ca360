"""A guard alarm carried by copies is one alarm: grouped once, answered in every copy;
and reading a repository's facts leaves its clock (the date of the next ack) alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ripcord.errors import StoreError
from ripcord.plan.alarms import Answered, answer_everywhere, pending
from ripcord.plan.model import RepositorySpec
from ripcord.plan.state import Alarm
from ripcord.plan.status import observe
from ripcord.repository import Repository
from ripcord.repository.snapshots import Snapshot
from ripcord.storage import MemoryStore
from tests.conftest import FAST_KDF, PASSWORD
from tests.unit.test_status_observe import NAS, PLAN, connect_to

# marks are dated by the real clock, and the suite may reach these tests minutes after
# import: "now" for observe() is an hour ahead, so every mark made meanwhile counts
NOW = datetime.now(UTC) + timedelta(hours=1)


@pytest.fixture
def repos() -> Iterator[dict[str, Repository]]:
    opened = {n: Repository.init(MemoryStore(), PASSWORD.encode(), FAST_KDF) for n in "abc"}
    yield opened
    for r in opened.values():
        r.close()


@contextmanager
def fresh(repo: Repository) -> Iterator[Repository]:
    """A connection of its own to `repo`'s store (a repository is used by one thread)."""
    with Repository.open(repo.store, PASSWORD.encode()) as mine:
        yield mine


def suspicious(repo: Repository, origin: str | None = None) -> str:
    when = NOW - timedelta(hours=1)
    snap = Snapshot(when, "fileserver", "u", ["/srv/office"], "ab" * 32, origin=origin)
    sid = repo.save_snapshot(snap)
    repo.add_mark("alarm", [sid], "80 files (50%) were deleted: dept1/")
    return sid


def test_reading_facts_leaves_the_clock_of_a_repository_kept_open(
    repos: dict[str, Repository],
) -> None:
    repo = repos["a"]
    clock = repo.clock
    suspicious(repo)
    state = observe(NAS, connect_to(repo), PLAN, NOW + timedelta(days=30))
    # the ack written next (the dashboard keeps it open) is dated now, not as of the page
    assert len(state.alarms) == 1 and repo.clock is clock


def test_an_alarm_and_its_copies_are_one_and_answered_in_each(
    repos: dict[str, Repository],
) -> None:
    first = suspicious(repos["a"])
    copy = suspicious(repos["b"], origin=first)
    repos["c"].save_snapshot(Snapshot(NOW, "fileserver", "u", ["/srv/office"], "cd" * 32))
    specs = [RepositorySpec(n, f"/mnt/{n}", "disk") for n in ("a", "b", "c", "down")]

    seen = [
        (s.name, True, a)
        for s in specs[:3]
        for a in observe(s, connect_to(repos[s.name]), PLAN, NOW).alarms
    ]
    (one,) = pending(seen)
    assert one.key == first and one.holders == (("a", True), ("b", True))

    def connect(spec: RepositorySpec) -> AbstractContextManager[Repository]:
        if spec.name == "down":
            raise StoreError("connection refused")
        return fresh(repos[spec.name])

    done = answer_everywhere(specs, connect, one.key, True, "we archived dept1")
    assert done == [
        Answered("a", first),
        Answered("b", copy),
        Answered("c"),
        Answered("down", error="connection refused"),
    ]
    for name in "ab":
        standing = repos[name].standing()
        assert standing.open_alarms() == [] and not standing.pinned
        (ack,) = standing.answers.values()
        assert ack.kind == "ack" and ack.reason == "we archived dept1"
    again = answer_everywhere(specs[:2], connect, one.key, False, "twice")
    assert again == [Answered("a"), Answered("b")]  # nothing left to answer


def test_alarms_without_a_copy_stay_apart() -> None:
    a = Alarm("1" * 64, NOW, "mass deletion")
    b = Alarm("2" * 64, NOW - timedelta(hours=1), "ransom note", origin="3" * 64)
    c = replace(b, snapshot="3" * 64, origin="", time=NOW - timedelta(hours=2))
    grouped = pending([("usb", True, a), ("nas", False, b), ("usb", True, c)])
    assert [(p.key, p.snapshot, p.holders) for p in grouped] == [
        ("3" * 64, "3" * 64, (("nas", False), ("usb", True))),
        ("1" * 64, "1" * 64, (("usb", True),)),
    ]
    assert all(p.answerable for p in grouped)
    assert not pending([("nas", False, b)])[0].answerable
