"""observe reads one copy's facts within a bounded time, and the state file remembers
them for the copies that cannot be reached next time."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import StoreError
from ripcord.plan.model import Plan, RepositorySpec, Source
from ripcord.plan.state import (
    Alarm,
    CopyState,
    Immutability,
    Newest,
    Proof,
    merged,
    read_state_doc,
    recall,
    remember,
    state_doc,
    state_path,
)
from ripcord.plan.status import observe
from ripcord.repository import Repository
from ripcord.repository.checks import CheckRecord
from ripcord.repository.drills import DrillRecord, Failure
from ripcord.repository.snapshots import Snapshot
from tests.strategies import aware_times, hex_ids, texts

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SOURCE = Source("office", ("/srv/office",))
NAS = RepositorySpec("nas", "/mnt/nas", "nas")
PLAN = Plan(Path("/etc/ripcord/office.toml"), (SOURCE,), (NAS,), host="fileserver")


def connect_to(repo: Repository) -> Any:
    @contextmanager
    def connect(_spec: RepositorySpec) -> Iterator[Repository]:
        yield repo

    return connect


def snapshot(repo: Repository, time: datetime, host: str = "fileserver") -> str:
    return repo.save_snapshot(Snapshot(time, host, "u", ["/srv/office"], "ab" * 32))


def test_observe_reads_the_newest_snapshot_proofs_immutability_and_alarms(
    mem_repo: Repository,
) -> None:
    old = snapshot(mem_repo, NOW - 30 * HOUR)
    new = snapshot(mem_repo, NOW - 2 * HOUR)
    snapshot(mem_repo, NOW - HOUR, host="laptop")  # another host's backup
    snapshot(mem_repo, NOW + 2 * HOUR)  # after the time asked about
    check = CheckRecord(NOW - HOUR, "h", "u", "r", "metadata", 2, 1, 0, 0, 0, 1, 0.1, ("x: y",))
    mem_repo.add_check(check)
    failure = Failure(new, "/srv/office/a", "content does not match")
    mem_repo.add_drill(DrillRecord(NOW - HOUR, "h", "u", "r", (new,), 1, 1, None, 1, 1, 0, 0.1))
    drill = mem_repo.add_drill(
        DrillRecord(NOW - HOUR / 2, "h", "u", "r", (new,), 1, 1, None, 1, 1, 0, 0.1, (failure,))
    )
    mem_repo.clock = lambda: NOW - HOUR  # the guard's alarm on the newest snapshot
    mem_repo.add_mark("alarm", [new, old], "3,412 files went from compressible to random")
    state = observe(NAS, connect_to(mem_repo), PLAN, NOW)
    assert state.reachable and state.observed == NOW and state.error is None
    assert state.newest == (Newest("office", new, NOW - 2 * HOUR),)
    assert state.check is not None and (state.check.result, state.check.first) == ("pass", "")
    assert state.drill == Proof(
        drill.id, NOW - HOUR / 2, "fail", 1, "/srv/office/a: content does not match"
    )
    assert state.immutable == Immutability(False, "this store cannot refuse deletion")
    assert [(a.snapshot, a.reason) for a in state.alarms] == [
        (new, "3,412 files went from compressible to random")
    ]


def test_a_repository_that_fails_is_unreachable_with_the_reason_in_one_line() -> None:
    @contextmanager
    def refused(_spec: RepositorySpec) -> Iterator[Repository]:
        raise StoreError("cannot connect to nas.lan:22: connection refused\nmore detail")
        yield  # pragma: no cover

    state = observe(NAS, refused, PLAN, NOW)
    assert state == CopyState(
        "nas", False, error="cannot connect to nas.lan:22: connection refused"
    )


def test_a_repository_that_never_answers_is_unreachable_after_the_timeout() -> None:
    release = threading.Event()

    @contextmanager
    def silent(_spec: RepositorySpec) -> Iterator[Repository]:
        release.wait()
        raise StoreError("too late")
        yield  # pragma: no cover

    try:
        state = observe(NAS, silent, PLAN, NOW, timeout=0.2)
    finally:
        release.set()
    assert state == CopyState("nas", False, error="no answer within 0.2 s")


# -- the state file ---------------------------------------------------------------------------

optional_times = st.none() | aware_times
proofs = st.none() | st.builds(
    Proof, hex_ids, aware_times, st.sampled_from(["pass", "fail"]), st.integers(0, 10**6), texts
)
states = st.builds(
    CopyState,
    repository=texts,
    reachable=st.booleans(),
    observed=optional_times,
    error=st.none() | texts,
    newest=st.lists(st.builds(Newest, texts, st.none() | hex_ids, optional_times)).map(tuple),
    check=proofs,
    drill=proofs,
    immutable=st.none() | st.builds(Immutability, st.booleans(), texts),
    alarms=st.lists(st.builds(Alarm, hex_ids, aware_times, texts)).map(tuple),
)


@given(states)
def test_a_state_reads_back_as_it_was_written(state: CopyState) -> None:
    assert read_state_doc(json.loads(json.dumps(state_doc(state)))) == state


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RIPCORD_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def seen(name: str, at: datetime) -> CopyState:
    return CopyState(name, True, at, newest=(Newest("office", "a" * 64, at - HOUR),))


def test_the_last_successful_observation_is_remembered(state_dir: Path) -> None:
    plan = Plan(PLAN.path, PLAN.sources, (NAS, RepositorySpec("usb", "/mnt/usb", "disk")))
    assert state_path(plan) == state_dir / "office.json"
    assert recall(plan) == ({}, None)
    assert remember(plan, [seen("nas", NOW - 48 * HOUR), seen("usb", NOW - 72 * HOUR)]) is None
    down = CopyState("nas", False, error="connection refused")
    assert remember(plan, [down, seen("usb", NOW)]) is None
    known, problem = recall(plan)
    assert problem is None and known == {
        "nas": seen("nas", NOW - 48 * HOUR),
        "usb": seen("usb", NOW),
    }
    reported = merged(down, known["nas"])
    assert not reported.reachable and reported.remembered and reported.error == down.error
    assert reported.observed == NOW - 48 * HOUR and reported.newest == known["nas"].newest
    assert merged(seen("nas", NOW), known["nas"]) == seen("nas", NOW)
    assert merged(down, None) == down
    assert [p.name for p in state_dir.iterdir()] == ["office.json"]  # no temporary left


def test_a_damaged_state_file_is_set_aside_with_a_reason(state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "office.json").write_text("{not json")
    known, problem = recall(PLAN)
    assert known == {} and problem is not None and "cannot be read" in problem
    (state_dir / "office.json").write_text(json.dumps({"version": 1, "repositories": [{}]}))
    known, problem = recall(PLAN)
    assert known == {} and problem is not None and "is damaged" in problem
    assert remember(PLAN, [seen("nas", NOW)]) is None  # and it is written afresh
    assert recall(PLAN) == ({"nas": seen("nas", NOW)}, None)


def test_a_state_file_that_cannot_be_written_is_a_reason_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RIPCORD_STATE_DIR", str(tmp_path / "file" / "state"))
    problem = remember(PLAN, [seen("nas", NOW)])
    assert problem is not None and problem.startswith("the state file ")


def test_marks_are_folded_as_of_the_time_asked_about(mem_repo: Repository) -> None:
    """`run --time` weeks ahead of the real clock dates an ack then: status as of that
    time must see the alarm answered."""
    snap = snapshot(mem_repo, NOW)
    later = datetime.now(UTC) + timedelta(days=10)
    mem_repo.clock = lambda: NOW
    mem_repo.add_mark("alarm", [snap, snap], "mass deletion")
    mem_repo.clock = lambda: later
    mem_repo.add_mark("ack", [snap], "intentional")
    before = observe(NAS, connect_to(mem_repo), PLAN, later - HOUR)
    assert [a.snapshot for a in before.alarms] == [snap]
    assert observe(NAS, connect_to(mem_repo), PLAN, later).alarms == ()
