"""Marks: how protect, unprotect and forget fold, and what a reader refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import CorruptObject
from ripcord.repository import Repository, Snapshot
from ripcord.repository.crypto import content_id, seal
from ripcord.repository.marks import KINDS, MARK_AAD, Mark, decode_mark, encode_mark, fold
from tests.strategies import aware_times, hex_ids, keys, texts

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
A, B = "aa" * 32, "bb" * 32


def mark(kind: str, minutes: int, *snaps: str, mark_id: str = "m") -> Mark:
    """A mark written `minutes` after NOW (negative: before), naming `snaps` (or A)."""
    when = NOW + timedelta(minutes=minutes)
    return Mark(kind, snaps or (A,), when, "h", "u", "", mark_id)


def test_the_last_protect_or_unprotect_in_time_order_wins() -> None:
    assert fold([mark("unprotect", -1), mark("protect", -2)], NOW).protected == set()
    assert fold([mark("protect", -1), mark("unprotect", -2)], NOW).protected == {A}
    # equal times: the mark id decides, whatever order they were listed in
    tied = [mark("unprotect", -1, mark_id="b"), mark("protect", -1, mark_id="a")]
    assert fold(tied, NOW).protected == set()
    assert fold(tied[::-1], NOW).protected == set()


def test_a_forget_mark_forgets_every_snapshot_it_names_and_only_those() -> None:
    out = fold([mark("forget", -1, A, B)], NOW)
    assert out.forgotten == {A, B}
    assert out.protected == set()
    assert fold([mark("protect", -1, B)], NOW).forgotten == set()


def test_a_snapshot_protected_at_the_end_is_never_forgotten() -> None:
    # a forget backdated to before the protect, and one written after it
    assert fold([mark("protect", -5), mark("forget", -9)], NOW).forgotten == set()
    assert fold([mark("protect", -5), mark("forget", -1)], NOW).forgotten == set()
    # once released, an earlier forget applies again
    released = [mark("protect", -5), mark("forget", -4), mark("unprotect", -1)]
    assert fold(released, NOW).forgotten == {A}


@pytest.mark.parametrize("kind", ["unprotect", "forget"])
def test_a_weakening_mark_dated_in_the_future_is_not_applied(kind: str) -> None:
    planted = mark(kind, 60 * 24 * 365)
    out = fold([mark("protect", -1), planted], NOW)
    assert out.protected == {A}
    assert out.forgotten == set()
    assert out.ignored == [planted]
    # within the clock skew between hosts, it is "now" and applies
    assert fold([mark(kind, 4)], NOW).ignored == []


def test_a_protect_dated_in_the_future_applies() -> None:
    out = fold([mark("protect", 60 * 24 * 365), mark("forget", -1)], NOW)
    assert out.protected == {A}
    assert out.forgotten == set()
    assert out.ignored == []


def test_forgotten_snapshots_are_hidden_from_the_repository(mem_repo: Repository) -> None:
    snaps = [Snapshot(NOW, "h", "u", ["/"], "ab" * 32, summary={"n": i}) for i in range(3)]
    ids = [mem_repo.save_snapshot(s) for s in snaps]
    mem_repo.add_mark("forget", ids[:2], "by id")
    assert [s.id for s in mem_repo.snapshots()] == [ids[2]]
    assert {s.id for s in mem_repo.snapshots(forgotten=True)} == set(ids)
    assert mem_repo.standing().forgotten == set(ids[:2])


def test_the_repository_names_a_future_weakening_mark_it_did_not_apply(
    mem_repo: Repository,
) -> None:
    snap = mem_repo.save_snapshot(Snapshot(NOW, "h", "u", ["/"], "ab" * 32))
    mem_repo.add_mark("protect", [snap])
    future = datetime.now(UTC) + timedelta(days=365)
    planted = [Mark(k, (snap,), future, "evil", "mallory") for k in ("unprotect", "forget")]
    for m in planted:
        data = encode_mark(mem_repo.key, m)
        mem_repo.store.put(f"marks/{content_id(data)}", data)
    standing = mem_repo.standing()
    assert standing.protected == {snap}
    assert standing.forgotten == set()
    assert [s.id for s in mem_repo.snapshots()] == [snap]
    assert len(standing.ignored) == 2
    for m in standing.ignored:
        assert any(m.id in why and "in the future" in why for why in mem_repo.left_out)


def _doc(**changes: Any) -> dict[str, Any]:
    doc = {
        "v": 1,
        "kind": "forget",
        "snapshots": [A],
        "time": NOW.isoformat(),
        "host": "h",
        "user": "u",
        "reason": "keep-last 1",
    }
    return doc | changes


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "delete"},
        {"snapshots": []},
        {"snapshots": A},  # a string, not a list
        {"snapshots": [A, "AA" * 32]},  # not lowercase hex
        {"snapshots": [A[:-1]]},
        {"time": "2026-11-26T12:00:00"},  # no time zone
        {"time": "0001-01-01T00:00:00+14:00"},  # showing it in local time overflows
        {"time": "9999-12-31T23:59:59-12:00"},
        {"v": 2},
        {"host": None},  # not text: never shown as "None"
        {"user": 7},
        {"reason": b"bytes"},
    ],
)
def test_a_malformed_mark_is_corrupt(changes: dict[str, Any]) -> None:
    key = bytes(32)
    assert decode_mark(key, seal(key, msgpack.packb(_doc()), MARK_AAD), "m").kind == "forget"
    data = seal(key, msgpack.packb(_doc(**changes)), MARK_AAD)
    with pytest.raises(CorruptObject, match="mark m: malformed"):
        decode_mark(key, data, "m")


def test_a_mark_missing_a_field_is_corrupt() -> None:
    key = bytes(32)
    for name in _doc():
        doc = _doc()
        del doc[name]
        with pytest.raises(CorruptObject, match="malformed"):
            decode_mark(key, seal(key, msgpack.packb(doc), MARK_AAD), "m")


@given(
    key=keys,
    kind=st.sampled_from(KINDS),
    snaps=st.lists(hex_ids, min_size=1, max_size=20).map(tuple),
    when=aware_times,
    host=texts,
    user=texts,
    reason=texts,
)
def test_marks_round_trip(
    key: bytes,
    kind: str,
    snaps: tuple[str, ...],
    when: datetime,
    host: str,
    user: str,
    reason: str,
) -> None:
    m = Mark(kind, snaps, when, host, user, reason)
    assert decode_mark(key, encode_mark(key, m), "id") == Mark(
        kind, snaps, when, host, user, reason, "id"
    )


def test_a_guard_alarm_pins_its_snapshots_until_an_ack_says_it_was_intentional() -> None:
    alarm = mark("alarm", -10, A, B)  # A suspicious, B the last good
    out = fold([alarm, mark("forget", -5, A, B), mark("unprotect", -4, A, B)], NOW)
    assert out.pinned == {A, B} and out.protected == {A, B} and out.forgotten == set()
    assert out.open_alarms() == [alarm]
    acked = fold([alarm, mark("forget", -5, B), mark("ack", -1, A)], NOW)
    assert acked.pinned == set() and acked.forgotten == {B} and acked.open_alarms() == []
    incident = fold([alarm, mark("forget", -5, B), mark("incident", -1, A)], NOW)
    assert incident.pinned == {A, B} and incident.open_alarms() == []
    assert incident.answers[A].kind == "incident"


def test_an_ack_dated_in_the_future_does_not_lift_a_pin() -> None:
    planted = mark("ack", 60 * 24, A)
    out = fold([mark("alarm", -1, A, B), planted], NOW)
    assert out.pinned == {A, B} and out.ignored == [planted]
