"""Drill records: what is written reads back, and what a hostile repository hands us
is refused as corrupt, never half-believed."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import CorruptObject
from ripcord.repository import Repository
from ripcord.repository.crypto import content_id, open_sealed, seal
from ripcord.repository.drills import (
    DRILL_AAD,
    MAX_DRILL,
    DrillRecord,
    Failure,
    decode_drill,
    encode_drill,
)
from ripcord.repository.marks import MARK_AAD
from tests.strategies import aware_times, flip_bit, hex_ids, junk, keys, spoil, texts

KEY = bytes(32)
A, B = "aa" * 32, "bb" * 32
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

counts = st.integers(0, 2**64 - 1)
# file names are bytes: those that are not UTF-8 travel as surrogate escapes
paths = st.binary(max_size=40).map(os.fsdecode) | texts
failures = st.builds(Failure, hex_ids, paths, texts)


@st.composite
def records(draw: st.DrawFn) -> DrillRecord:
    return DrillRecord(
        time=draw(aware_times),
        host=draw(texts),
        user=draw(texts),
        repository=draw(texts),
        snapshots=tuple(draw(st.lists(hex_ids, min_size=1, max_size=4))),
        seed=draw(counts),
        sample=draw(counts),
        max_bytes=draw(st.none() | counts),
        files=draw(counts),
        bytes=draw(counts),
        source_compared=draw(counts),
        duration=draw(st.floats(0, 1e9)),
        failures=tuple(draw(st.lists(failures, max_size=4))),
    )


def record(*failed: Failure) -> DrillRecord:
    return DrillRecord(NOW, "h", "u", "r" * 32, (A, B), 7, 20, 1 << 30, 20, 4096, 3, 1.5, failed)


def _doc(**changes: Any) -> dict[str, Any]:
    """The stored document of `record()`, with `changes`."""
    doc = msgpack.unpackb(_open(encode_drill(KEY, record())))
    return dict(doc) | changes


def _open(data: bytes) -> bytes:
    return open_sealed(KEY, data, DRILL_AAD, "test")


def _sealed(doc: Any) -> bytes:
    return seal(KEY, msgpack.packb(doc), DRILL_AAD)


@given(key=keys, rec=records())
def test_drill_records_round_trip(key: bytes, rec: DrillRecord) -> None:
    back = decode_drill(key, encode_drill(key, rec), "id")
    assert back == DrillRecord(**{**rec.__dict__, "id": "id"})
    assert back.result == ("fail" if rec.failures else "pass")


@given(key=keys, rec=records(), bit=st.integers(min_value=0))
def test_any_bit_flip_is_detected(key: bytes, rec: DrillRecord, bit: int) -> None:
    with pytest.raises(CorruptObject, match="drill d"):
        decode_drill(key, flip_bit(encode_drill(key, rec), bit), "d")


@given(data=st.data())
def test_sealed_junk_is_corrupt_or_well_formed(data: st.DataObject) -> None:
    doc = data.draw(st.builds(spoil, st.just(data), st.just(_doc())) | junk)
    try:
        back = decode_drill(KEY, _sealed(doc), "d")
    except CorruptObject as e:
        assert str(e).startswith("drill d:")
        return
    assert back.time.tzinfo is not None
    assert back.snapshots and all(len(s) == 64 for s in back.snapshots)
    assert math.isfinite(back.duration) and back.duration >= 0
    assert min(back.seed, back.files, back.bytes, back.source_compared) >= 0


@pytest.mark.parametrize(
    "changes",
    [
        {"v": 2},
        {"time": "2026-11-26T12:00:00"},  # no time zone
        {"snapshots": []},
        {"snapshots": [A.upper()]},
        {"result": "pass", "failures": [{"snapshot": A, "path": "/x", "reason": "gone"}]},
        {"result": "fail"},  # a failure with nothing named
        {"result": "maybe"},
        {"failures": [{"snapshot": "0x" + A[2:], "path": "/x", "reason": "r"}]},
        {"failures": [[A, "/x", "r"]]},
        {"files": -1},
        {"seed": True},
        {"max_bytes": "1G"},
        {"duration": float("nan")},
        {"duration": -1.0},
        {"host": b"bytes"},
    ],
)
def test_a_malformed_record_is_corrupt(changes: dict[str, Any]) -> None:
    assert decode_drill(KEY, _sealed(_doc()), "d").result == "pass"
    with pytest.raises(CorruptObject, match="drill d: malformed"):
        decode_drill(KEY, _sealed(_doc(**changes)), "d")


def test_a_record_missing_a_field_is_corrupt() -> None:
    for name in _doc():
        doc = _doc()
        del doc[name]
        with pytest.raises(CorruptObject, match="malformed"):
            decode_drill(KEY, _sealed(doc), "d")


def test_another_kind_of_object_or_an_oversized_one_is_refused() -> None:
    as_mark = seal(KEY, msgpack.packb(_doc()), MARK_AAD)
    with pytest.raises(CorruptObject, match="authentication failed"):
        decode_drill(KEY, as_mark, "d")
    with pytest.raises(CorruptObject, match="too large"):
        decode_drill(KEY, bytes(MAX_DRILL + 1), "d")


def test_the_repository_lists_drills_oldest_first_and_names_bad_ones(
    mem_repo: Repository,
) -> None:
    late = mem_repo.add_drill(record(Failure(A, "/x", "gone")))
    early = mem_repo.add_drill(DrillRecord(**{**record().__dict__, "time": NOW.replace(year=2025)}))
    assert (late.id, early.id) == (content_id(mem_repo.store.get(f"drills/{late.id}")), early.id)
    assert [d.id for d in mem_repo.drills()] == [early.id, late.id]
    assert mem_repo.drills()[1].failures == (Failure(A, "/x", "gone"),)
    mem_repo.store.put("drills/" + "0" * 64, encode_drill(mem_repo.key, record()))
    assert [d.id for d in mem_repo.drills()] == [early.id, late.id]
    assert any("does not match its name" in why for why in mem_repo.left_out)
