"""The Store contract: what every backend must do, tested once for all of them."""

from __future__ import annotations

import random
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ripcord.errors import StoreError
from ripcord.storage import InvalidName, ObjectExists, ObjectInfo, ObjectNotFound, Store
from tests.contract.conftest import StoreFactory

INVALID_NAMES = [
    "",
    "..",
    "a/../b",
    "/abs",
    "a/",
    "a//b",
    "Upper",
    "data/AB/x",
    ".tmp",
    ".tmp/x",
    "a/.tmp",
    "sp ace",
    "dot.ted",
    "x" * 256,
]


def listed(store: Store, prefix: str) -> dict[str, int]:
    return {i.name: i.size for i in store.list(prefix)}


def test_put_then_get_and_stat(store: Store) -> None:
    store.put("data/ab/abc", b"hello")
    assert store.get("data/ab/abc") == b"hello"
    assert store.stat("data/ab/abc") == ObjectInfo("data/ab/abc", 5)


def test_empty_object_round_trips(store: Store) -> None:
    store.put("empty", b"")
    assert store.get("empty") == b""
    assert store.stat("empty").size == 0


def test_put_is_write_once(store: Store) -> None:
    store.put("config", b"first")
    with pytest.raises(ObjectExists):
        store.put("config", b"second")
    assert store.get("config") == b"first"


@pytest.mark.parametrize(
    "op",
    [
        lambda s: s.get("missing"),
        lambda s: s.get("missing/deeper"),
        lambda s: s.stat("missing"),
        lambda s: s.delete("missing"),
    ],
    ids=["get", "get-nested", "stat", "delete"],
)
def test_missing_object_raises_not_found(store: Store, op: Callable[[Store], object]) -> None:
    with pytest.raises(ObjectNotFound):
        op(store)


@pytest.mark.parametrize(
    "op",
    [lambda s: s.get("a"), lambda s: s.stat("a"), lambda s: s.delete("a")],
    ids=["get", "stat", "delete"],
)
def test_a_prefix_is_not_an_object(store: Store, op: Callable[[Store], object]) -> None:
    """`a/b` existing says nothing about `a`: object stores have no directories."""
    store.put("a/b", b"x")
    with pytest.raises(ObjectNotFound):
        op(store)
    assert store.get("a/b") == b"x"


@pytest.mark.parametrize(
    "op",
    [lambda s: s.get("a/b"), lambda s: s.stat("a/b"), lambda s: s.delete("a/b")],
    ids=["get", "stat", "delete"],
)
def test_under_an_object_is_nothing(store: Store, op: Callable[[Store], object]) -> None:
    store.put("a", b"x")
    with pytest.raises(ObjectNotFound):
        op(store)


def test_ranged_get(store: Store) -> None:
    data = bytes(range(256))
    store.put("obj", data)
    assert store.get("obj", 10, 5) == data[10:15]
    assert store.get("obj", 250) == data[250:]
    assert store.get("obj", 0, 0) == b""
    assert store.get("obj", length=3) == data[:3]


def test_range_past_the_end_is_cut_short(store: Store) -> None:
    store.put("obj", b"0123456789")
    assert store.get("obj", 8, 100) == b"89"
    assert store.get("obj", 10, 5) == b""
    assert store.get("obj", 1000) == b""
    assert store.get("obj", 1000, 5) == b""


def test_list_returns_only_names_under_the_prefix(store: Store) -> None:
    store.put("data/ab/one", b"1")
    store.put("data/cd/two", b"22")
    store.put("datafile", b"not under data/")
    store.put("database/x", b"nor this")
    store.put("keys/k", b"key")
    assert listed(store, "data") == {"data/ab/one": 1, "data/cd/two": 2}
    assert listed(store, "data/ab") == {"data/ab/one": 1}
    assert listed(store, "keys") == {"keys/k": 3}
    assert listed(store, "snapshots") == {}
    assert listed(store, "datafile") == {}


def test_delete_removes_and_frees_the_name(store: Store) -> None:
    store.put("locks/l1", b"lock")
    store.put("locks/l2", b"lock")
    store.delete("locks/l1")
    with pytest.raises(ObjectNotFound):
        store.get("locks/l1")
    with pytest.raises(ObjectNotFound):
        store.delete("locks/l1")
    assert listed(store, "locks") == {"locks/l2": 4}
    store.put("locks/l1", b"again")
    assert store.get("locks/l1") == b"again"


def test_deleting_while_listing_does_not_break_the_listing(store: Store) -> None:
    """Lock checks list locks/ while other processes release theirs."""
    names = {"locks/a", "locks/b", "locks/c"}
    for name in names:
        store.put(name, b"lock")
    listing = store.list("locks")
    first = next(listing).name
    for name in names - {first}:
        store.delete(name)
    assert {i.name for i in listing} <= names - {first}


@pytest.mark.parametrize("name", INVALID_NAMES)
@pytest.mark.parametrize(
    "op",
    [
        lambda s, n: s.put(n, b"x"),
        lambda s, n: s.get(n),
        lambda s, n: s.stat(n),
        lambda s, n: s.delete(n),
        lambda s, n: list(s.list(n)),
    ],
    ids=["put", "get", "stat", "delete", "list"],
)
def test_invalid_names_are_rejected(
    store: Store, name: str, op: Callable[[Store, str], object]
) -> None:
    with pytest.raises(InvalidName):
        op(store, name)
    assert listed(store, "a") == {}


def test_invalid_name_is_a_store_error(store: Store) -> None:
    """Callers may catch StoreError for every storage fault, names included."""
    with pytest.raises(StoreError):
        store.put("../escape", b"x")


def test_concurrent_puts_of_one_name_exactly_one_wins(store: Store) -> None:
    writers = 16
    barrier = threading.Barrier(writers)
    won: list[bytes] = []
    lost: list[BaseException] = []

    def put(i: int) -> None:
        data = f"writer {i}".encode() * 1000
        barrier.wait()
        try:
            store.put("snapshots/contended", data)
        except ObjectExists as e:
            lost.append(e)
        else:
            won.append(data)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert len(lost) == writers - 1
    assert store.get("snapshots/contended") == won[0]


def test_large_object_round_trips(store: Store) -> None:
    data = random.Random(20).randbytes(20 << 20)
    store.put("data/la/large", data)
    assert store.stat("data/la/large").size == len(data)
    assert store.get("data/la/large") == data
    mid = 7 << 20
    assert store.get("data/la/large", mid, 1 << 20) == data[mid : mid + (1 << 20)]


# -- any sequence of operations behaves like a dict --------------------------------------

NAMES = st.sampled_from(["p/x", "p/y", "q/x", "q/y/z"])
OPS = st.one_of(
    st.tuples(st.just("put"), NAMES, st.binary(max_size=64)),
    st.tuples(st.just("get"), NAMES, st.integers(0, 80), st.none() | st.integers(0, 80)),
    st.tuples(st.just("stat"), NAMES),
    st.tuples(st.just("delete"), NAMES),
    st.tuples(st.just("list"), st.sampled_from(["p", "q", "q/y", "p/x", "r"])),
)


def expected(model: dict[str, bytes], op: tuple[Any, ...]) -> object:
    """What the contract says `op` returns (or raises) given the objects in `model`."""
    kind, name = op[0], op[1]
    if kind == "list":
        return sorted((n, len(d)) for n, d in model.items() if n.startswith(name + "/"))
    if kind == "put":
        if name in model:
            return ObjectExists
        model[name] = op[2]
        return None
    if name not in model:
        return ObjectNotFound
    if kind == "get":
        offset, length = op[2], op[3]
        return model[name][offset : None if length is None else offset + length]
    if kind == "stat":
        return ObjectInfo(name, len(model[name]))
    del model[name]
    return None


def observed(store: Store, op: tuple[Any, ...]) -> object:
    kind, name = op[0], op[1]
    try:
        if kind == "list":
            return sorted((i.name, i.size) for i in store.list(name))
        if kind == "get":
            return store.get(name, op[2], op[3])
        if kind == "stat":
            return store.stat(name)
        if kind == "put":
            store.put(name, op[2])
        else:
            store.delete(name)
        return None
    except StoreError as e:
        return type(e)


# the factory fixture is stateless, so sharing it between examples is safe
SHARED_FACTORY = [HealthCheck.function_scoped_fixture]


@settings(max_examples=60, deadline=None, suppress_health_check=SHARED_FACTORY)
@given(st.lists(OPS, max_size=25))
def test_any_sequence_of_operations_behaves_like_a_dict(
    store_factory: StoreFactory, ops: list[tuple[Any, ...]]
) -> None:
    replay(store_factory, ops)


def exactly(model: dict[str, bytes], op: tuple[Any, ...]) -> tuple[object, ...]:
    return (expected(model, op),)


def replay(
    store_factory: StoreFactory,
    ops: list[tuple[Any, ...]],
    allowed: Callable[[dict[str, bytes], tuple[Any, ...]], tuple[object, ...]] = exactly,
) -> None:
    """Run `ops` on a fresh store beside a dict model: each result must be one that
    `allowed` gives for the model (exactly the contract's, unless a caller tolerates more)."""
    model: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = store_factory(Path(tmp))
        try:
            for op in ops:
                assert observed(store, op) in allowed(model, op), op
        finally:
            store.close()
