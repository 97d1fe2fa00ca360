"""Check records: what is written reads back, and what a hostile repository hands us
is refused as corrupt, never half-believed."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import CorruptObject, StoreError
from ripcord.repository import Repository
from ripcord.repository.checks import (
    CHECK_AAD,
    MAX_CHECK,
    MAX_LINE,
    MAX_PROBLEMS,
    CheckRecord,
    decode_check,
    encode_check,
    problem_lines,
)
from ripcord.repository.crypto import content_id, open_sealed, seal
from ripcord.repository.drills import DRILL_AAD
from ripcord.storage import MemoryStore
from ripcord.verify.checked import check_and_record
from tests.conftest import FAST_KDF, PASSWORD
from tests.strategies import aware_times, flip_bit, junk, keys, spoil, texts

KEY = bytes(32)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
counts = st.integers(0, 2**64 - 1)
reads = st.sampled_from(["metadata", "all", "subset:5%", "subset:2/7"])


@st.composite
def records(draw: st.DrawFn) -> CheckRecord:
    errors, warnings = draw(st.integers(0, 60)), draw(st.integers(0, 60))
    lines = draw(st.lists(texts, max_size=min(MAX_PROBLEMS, errors + warnings)))
    return CheckRecord(
        time=draw(aware_times),
        host=draw(texts),
        user=draw(texts),
        repository=draw(texts),
        read=draw(reads),
        snapshots=draw(counts),
        packs=draw(counts),
        packs_read=draw(counts),
        bytes_read=draw(counts),
        errors=errors,
        warnings=warnings,
        duration=draw(st.floats(0, 1e9)),
        problems=tuple(lines),
    )


def record(errors: int = 0, time: datetime = NOW) -> CheckRecord:
    lines = tuple(f"damaged-pack: pack {i} is damaged" for i in range(errors))
    return CheckRecord(time, "h", "u", "r" * 32, "metadata", 2, 5, 0, 0, errors, 0, 0.5, lines)


def _doc(**changes: Any) -> dict[str, Any]:
    doc = msgpack.unpackb(open_sealed(KEY, encode_check(KEY, record(1)), CHECK_AAD, "t"))
    return dict(doc) | changes


def _sealed(doc: Any) -> bytes:
    return seal(KEY, msgpack.packb(doc), CHECK_AAD)


@given(key=keys, rec=records())
def test_check_records_round_trip(key: bytes, rec: CheckRecord) -> None:
    back = decode_check(key, encode_check(key, rec), "id")
    assert back == CheckRecord(**{**rec.__dict__, "id": "id"})
    assert back.result == ("fail" if rec.errors else "pass")


@given(key=keys, rec=records(), bit=st.integers(min_value=0))
def test_any_bit_flip_is_detected(key: bytes, rec: CheckRecord, bit: int) -> None:
    with pytest.raises(CorruptObject, match="check c"):
        decode_check(key, flip_bit(encode_check(key, rec), bit), "c")


@given(data=st.data())
def test_sealed_junk_is_corrupt_or_well_formed(data: st.DataObject) -> None:
    doc = data.draw(st.builds(spoil, st.just(data), st.just(_doc())) | junk)
    try:
        back = decode_check(KEY, _sealed(doc), "c")
    except CorruptObject as e:
        assert str(e).startswith("check c:")
        return
    assert back.time.tzinfo is not None
    assert math.isfinite(back.duration) and back.duration >= 0
    assert len(back.problems) <= min(MAX_PROBLEMS, back.errors + back.warnings)
    assert back.result == ("fail" if back.errors else "pass")


@pytest.mark.parametrize(
    "changes",
    [
        {"v": 2},
        {"time": "2026-11-26T12:00:00"},  # no time zone
        {"time": "0001-01-01T00:00:00+00:00"},  # showing it in local time overflows
        {"time": "9999-12-31T23:59:59+00:00"},
        {"read": "some"},
        {"read": "subset:"},
        {"result": "pass"},  # with an error counted
        {"errors": 0},  # a failed result with no error
        {"result": "maybe"},
        {"errors": -1},
        {"snapshots": True},
        {"problems": ["a", "b"]},  # more lines than problems
        {"problems": "a"},
        {"problems": [b"bytes"]},
        {"duration": float("inf")},
        {"duration": -0.5},
        {"host": b"bytes"},
    ],
)
def test_a_malformed_record_is_corrupt(changes: dict[str, Any]) -> None:
    assert decode_check(KEY, _sealed(_doc()), "c").result == "fail"
    with pytest.raises(CorruptObject, match="check c: malformed"):
        decode_check(KEY, _sealed(_doc(**changes)), "c")


def test_a_record_missing_a_field_is_corrupt() -> None:
    for name in _doc():
        doc = _doc()
        del doc[name]
        with pytest.raises(CorruptObject, match="malformed"):
            decode_check(KEY, _sealed(doc), "c")


def test_another_kind_of_object_or_an_oversized_one_is_refused() -> None:
    as_drill = seal(KEY, msgpack.packb(_doc()), DRILL_AAD)
    with pytest.raises(CorruptObject, match="authentication failed"):
        decode_check(KEY, as_drill, "c")
    with pytest.raises(CorruptObject, match="too large"):
        decode_check(KEY, bytes(MAX_CHECK + 1), "c")


def test_problem_lines_keep_errors_first_and_are_bounded() -> None:
    lines = problem_lines(["e1", "x" * (MAX_LINE + 10)], [f"w{i}" for i in range(100)])
    assert lines[:2] == ("e1", "x" * MAX_LINE) and lines[2] == "w0"
    assert len(lines) == MAX_PROBLEMS


def test_the_repository_lists_checks_oldest_first_and_names_bad_ones(
    mem_repo: Repository,
) -> None:
    late = mem_repo.add_check(record(2))
    early = mem_repo.add_check(record(time=NOW.replace(year=2025)))
    assert late.id == content_id(mem_repo.store.get(f"checks/{late.id}"))
    assert [c.id for c in mem_repo.checks()] == [early.id, late.id]
    assert mem_repo.checks()[1].problems == record(2).problems
    mem_repo.store.put("checks/" + "0" * 64, encode_check(mem_repo.key, record()))
    assert [c.id for c in mem_repo.checks()] == [early.id, late.id]
    assert any("does not match its name" in why for why in mem_repo.left_out)


def test_every_check_run_is_recorded_clean_or_not(mem_repo: Repository) -> None:
    clean = check_and_record(mem_repo)
    assert clean.unrecorded is None and clean.record.result == "pass"
    assert clean.record.read == "metadata" and clean.record.repository == mem_repo.config.id
    mem_repo.store.put("index/" + "1" * 64, b"not an index file")
    bad = check_and_record(mem_repo, read_data="all")
    assert bad.record.result == "fail" and bad.record.read == "all"
    assert bad.record.errors == len(bad.report.errors) == 1
    assert bad.record.problems[0].startswith("damaged-index: ")
    assert [c.id for c in mem_repo.checks()] == [clean.record.id, bad.record.id]


class _Refusing(MemoryStore):
    """A store that takes no new check records (full or read-only media, say)."""

    def put(self, name: str, data: bytes, options: object = None) -> None:
        if name.startswith("checks/"):
            raise StoreError("read-only file system")
        super().put(name, data)


def test_a_refused_record_is_reported_and_the_result_stands() -> None:
    with Repository.init(_Refusing(), PASSWORD.encode(), FAST_KDF) as repo:
        done = check_and_record(repo)
    assert done.report.errors == [] and done.record.id == ""
    assert done.unrecorded == "the check record could not be written: read-only file system"


class _Failing(MemoryStore):
    """A store whose index listing fails mid-check."""

    broken = False

    def list(self, prefix: str) -> Any:
        if self.broken and prefix == "data":
            raise StoreError("connection reset")
        return super().list(prefix)


def test_a_check_that_cannot_finish_is_recorded_as_failed() -> None:
    store = _Failing()
    with Repository.init(store, PASSWORD.encode(), FAST_KDF) as repo:
        store.broken = True
        with pytest.raises(StoreError, match="connection reset"):
            check_and_record(repo)
        store.broken = False
        (stopped,) = repo.checks()
    assert stopped.result == "fail" and stopped.errors == 1
    assert stopped.problems == ("check-stopped: the check could not finish: connection reset",)
