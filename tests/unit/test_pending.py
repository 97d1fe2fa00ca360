"""Pending deletions, the index cache's condemned packs, and holders that give up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import CorruptObject, LockedError
from ripcord.repository import Repository, Snapshot
from ripcord.repository.crypto import content_id, seal
from ripcord.repository.index import IndexCache
from ripcord.repository.locks import TRUSTED, Lock
from ripcord.repository.pack import BlobEntry, Frame
from ripcord.repository.pending import (
    PENDING_AAD,
    Barrier,
    Plan,
    decode_pending,
    encode_barrier,
    encode_plan,
)
from tests.strategies import aware_times, hex_ids, keys, spoil

id_lists = st.lists(hex_ids, max_size=5)
object_names = st.lists(hex_ids.map(lambda i: f"keys/{i}"), max_size=3)
plans = st.builds(
    Plan,
    aware_times,
    st.text(max_size=10),
    id_lists,
    id_lists,
    id_lists,
    id_lists,
    replaces=id_lists,
    names=object_names,
)
barriers = st.builds(Barrier, hex_ids, aware_times, st.lists(st.text("0123456789abcdef")))


@given(keys, plans)
def test_plan_round_trips(key: bytes, plan: Plan) -> None:
    plan.id = "x"
    assert decode_pending(key, encode_plan(key, plan), "x") == plan


def test_a_leftover_plan_with_a_name_that_escapes_is_malformed() -> None:
    key = b"k" * 32
    plan = Plan(datetime.now(UTC), "h", [], [], [], [], replaces=["a" * 64], names=["../config"])
    with pytest.raises(CorruptObject, match="bad object name"):
        decode_pending(key, encode_plan(key, plan), "x")


@given(keys, barriers)
def test_barrier_round_trips(key: bytes, barrier: Barrier) -> None:
    barrier.id = "x"
    assert decode_pending(key, encode_barrier(key, barrier), "x") == barrier


def _plan_doc() -> dict[str, Any]:
    return {
        "v": 1,
        "kind": "plan",
        "time": "2026-11-26T12:00:00+00:00",
        "host": "h",
        "packs": ["ab" * 32],
        "indexes": [],
        "snapshots": [],
        "seen": [],
    }


@given(keys, st.data())
def test_a_malformed_plan_is_a_clear_error_never_a_crash(key: bytes, data: st.DataObject) -> None:
    doc = spoil(data, _plan_doc())
    sealed = seal(key, bytes(msgpack.packb(doc)), PENDING_AAD)
    try:
        decode_pending(key, sealed, "x")
    except CorruptObject as e:
        assert "pending/x" in str(e)


@pytest.mark.parametrize(
    "change",
    [{"kind": "delete-everything"}, {"packs": ["../../etc"]}, {"time": "2026-11-26"}, {"v": 2}],
)
def test_a_plan_that_could_name_anything_is_refused(change: dict[str, Any]) -> None:
    key = b"k" * 32
    sealed = seal(key, bytes(msgpack.packb(_plan_doc() | change)), PENDING_AAD)
    with pytest.raises(CorruptObject, match="malformed"):
        decode_pending(key, sealed, "x")


def test_condemned_packs_are_read_but_never_deduplicated_against() -> None:
    cache = IndexCache(None)
    blob = BlobEntry(b"\x01" * 32, 0, 0, 10)
    cache.add([("aa" * 32, [Frame(0, 100, (blob,))])], "index/one")
    cache.condemn({"aa" * 32})
    assert not cache.has(blob.id) and cache.known_many([blob.id]) == set()
    loc = cache.lookup(blob.id)
    assert loc is not None and loc.pack == "aa" * 32  # a reader still finds it
    cache.add([("bb" * 32, [Frame(0, 100, (blob,))])], "index/two")  # stored again
    assert cache.has(blob.id)  # the lasting copy counts, though the condemned came first
    lasting = cache.lookup(blob.id)
    assert lasting is not None and lasting.pack == "bb" * 32  # and is the one read
    assert cache.count() == 1 and list(cache.sizes()) == [(0, 10)]  # one blob, two copies


def test_pack_numbers_renumbered_by_another_process_do_not_confuse_this_one(
    tmp_path: Path,
) -> None:
    blob = BlobEntry(b"\x02" * 32, 0, 0, 10)
    a, b = IndexCache(tmp_path / "c.sqlite"), IndexCache(tmp_path / "c.sqlite")
    a.add([("aa" * 32, [Frame(0, 100, ())]), ("bb" * 32, [Frame(0, 100, (blob,))])], "i/1")
    b.reset()  # another process rebuilds the shared cache: numbers handed out anew
    b.add([("bb" * 32, [Frame(0, 100, (blob,))])], "i/1")
    a.add([("cc" * 32, [Frame(0, 100, ())])], "i/2")
    a.condemn({"bb" * 32})
    assert not a.has(blob.id)
    a.condemn({"aa" * 32})
    assert a.has(blob.id)
    loc = a.lookup(blob.id)
    assert loc is not None and loc.pack == "bb" * 32


def test_a_backup_sees_plans_written_before_its_lock(mem_repo: Repository) -> None:
    blob_id, _ = mem_repo.add_blob(0, b"x" * 1000)
    mem_repo.flush()
    (loc,) = mem_repo.locate_many([blob_id]).values()
    index = [i.name.split("/")[1] for i in mem_repo.store.list("index")]
    plan = Plan(mem_repo.clock(), "h", [loc.pack], index, [], [])
    data = encode_plan(mem_repo.key, plan)
    mem_repo.store.put(f"pending/{content_id(data)}", data)
    assert mem_repo.has_blob(blob_id)  # opened before the plan: does not know yet
    with mem_repo.lock():
        assert not mem_repo.has_blob(blob_id)
        _, stored = mem_repo.add_blob(0, b"x" * 1000)
    assert stored  # stored again rather than reused


class Boot:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_holder_that_could_not_refresh_refuses_to_write_its_snapshot(
    mem_repo: Repository,
) -> None:
    boot = Boot()
    lock = Lock(mem_repo.store, mem_repo.key, exclusive=False, boot_clock=boot)
    lock.acquire()
    mem_repo.held = lock
    snap = Snapshot(mem_repo.clock(), "h", "u", ["/x"], mem_repo.save_tree({"nodes": []}).hex())
    boot.now += TRUSTED.total_seconds() - 1
    lock.ensure_fresh()  # still inside the trusted window
    boot.now += 2  # e.g. a laptop suspended, the refresh thread asleep with it
    with pytest.raises(LockedError, match="could not refresh"):
        mem_repo.save_snapshot(snap)
    assert not list(mem_repo.store.list("snapshots"))
    lock.refresh()  # a refresh that succeeds restores trust
    mem_repo.save_snapshot(snap)
    assert len(list(mem_repo.store.list("snapshots"))) == 1


def test_a_rebuild_is_one_transaction_so_readers_never_see_it_half_done(
    tmp_path: Path,
) -> None:
    blob = BlobEntry(b"\x03" * 32, 0, 0, 10)
    writer, reader = IndexCache(tmp_path / "c.sqlite"), IndexCache(tmp_path / "c.sqlite")
    writer.add([("aa" * 32, [Frame(0, 100, (blob,))])], "index/old")
    broken = BlobEntry(b"\x04" * 32, 0, 0, 10**30)  # too big for SQLite: fails mid-way
    with pytest.raises(OverflowError):
        writer.absorb([("index/new", [("bb" * 32, [Frame(0, 100, (broken,))])])], fresh=True)
    assert reader.has(blob.id) and set(reader.known_files()) == {"index/old"}  # rolled back
    writer.absorb([("index/new", [("bb" * 32, [Frame(0, 100, (blob,))])])], fresh=True)
    loc = reader.lookup(blob.id)
    assert loc is not None and loc.pack == "bb" * 32 and set(reader.known_files()) == {"index/new"}


def test_rows_only_a_condemned_index_file_gives_are_read_last_and_never_reused() -> None:
    cache = IndexCache(None)
    blob = BlobEntry(b"\x05" * 32, 0, 0, 10)
    wrong = BlobEntry(b"\x05" * 32, 0, 50, 10)  # a condemned file's wrong frame for it
    alone = BlobEntry(b"\x06" * 32, 0, 0, 10)  # a blob only a condemned file lists
    cache.absorb(
        [
            ("index/bad", [("aa" * 32, [Frame(0, 100, (wrong, alone))])]),
            ("index/good", [("bb" * 32, [Frame(0, 100, (blob,))])]),
        ],
        fallback={"index/bad"},
    )
    loc = cache.lookup(blob.id)
    assert loc is not None and loc.pack == "bb" * 32  # the lasting file's location
    assert cache.has(blob.id) and not cache.has(alone.id)  # never deduplicated against
    found = cache.lookup(alone.id)
    assert found is not None and found.pack == "aa" * 32  # but still read, as a last resort
    assert cache.known_files() == {"index/bad": True, "index/good": False}
