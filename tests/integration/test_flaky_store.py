"""The store contract holds through faults: every backend, wrapped in seeded faults
(tests/flaky.py) behind the retry wrapper, passes the contract suite.

The contract tests are the ones of tests/contract/, collected here again with a
`store` that is flaky; a fault the retry wrapper failed to hide would fail them.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ripcord.storage import LocalStore, MemoryStore, ObjectExists, ObjectNotFound, Store
from tests.contract.conftest import StoreFactory
from tests.contract.test_store_contract import (  # noqa: F401  (collected here again)
    OPS,
    expected,
    replay,
    test_concurrent_puts_of_one_name_exactly_one_wins,
    test_delete_removes_and_frees_the_name,
    test_deleting_while_listing_does_not_break_the_listing,
    test_empty_object_round_trips,
    test_large_object_round_trips,
    test_list_returns_only_names_under_the_prefix,
    test_put_is_write_once,
    test_put_then_get_and_stat,
    test_range_past_the_end_is_cut_short,
    test_ranged_get,
)
from tests.flaky import Flaky, flaky
from tests.restserver import rest_store
from tests.s3server import new_s3_store
from tests.sshserver import sftp_store

RATE = 0.3  # of calls meeting a fault: high, so that every test meets several
BACKENDS: list[tuple[str, StoreFactory]] = [
    ("local", lambda tmp: LocalStore(tmp / "store", create=True)),
    ("s3", lambda tmp: new_s3_store()),
    ("sftp", sftp_store),
    ("rest", rest_store),
]
SEEN: list[Flaky] = []  # every flaky store made, so that the faults can be counted


def _flaky_factory(real: StoreFactory, seed: int) -> StoreFactory:
    def make(tmp: Path) -> Store:
        store, faulty = flaky(real(tmp), seed, rate=RATE)
        SEEN.append(faulty)
        return store

    return make


@pytest.fixture(params=[f for _, f in BACKENDS], ids=[n for n, _ in BACKENDS])
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    return _flaky_factory(request.param, seed=zlib.crc32(request.node.name.encode()))


@pytest.fixture
def store(store_factory: StoreFactory, tmp_path: Path) -> Iterator[Store]:
    s = store_factory(tmp_path)
    try:
        yield s
    finally:
        s.close()


def test_faults_were_injected_and_hidden(tmp_path: Path) -> None:
    """The wrapper really injects each fault (so the suite above meets them)."""
    store, faulty = flaky(MemoryStore(), seed=8, rate=0.5)
    for i in range(200):
        store.put(f"data/{i}", bytes(100))
        assert store.get(f"data/{i}", 10, 50) == bytes(50)
        store.stat(f"data/{i}")
        assert len(list(store.list("data"))) == i + 1
    for i in range(200):
        store.delete(f"data/{i}")
    assert set(faulty.injected) == {"error", "timeout", "slow", "reset", "lost-reply", "short-read"}
    assert store.retries > 0


@pytest.mark.parametrize(
    ("stored", "missing"),
    [(None, "missing"), ("a/b", "a"), ("a", "a/b")],
    ids=["missing", "a-prefix", "under-an-object"],
)
def test_what_is_not_there_is_not_found_through_faults(
    store: Store, stored: str | None, missing: str
) -> None:
    """As the contract says (three of its tests), but a delete whose first try may have
    done the work (its reply lost) cannot tell that nothing was there: it may succeed."""
    if stored:
        store.put(stored, b"x")
    for _ in range(5):  # several tries each, so that some meet faults
        with pytest.raises(ObjectNotFound):
            store.get(missing)
        with pytest.raises(ObjectNotFound):
            store.stat(missing)
        with contextlib.suppress(ObjectNotFound):
            store.delete(missing)
    if stored:
        assert store.get(stored) == b"x"


def _tolerant(model: dict[str, bytes], op: tuple[Any, ...]) -> tuple[object, ...]:
    """What the contract allows through faults: a retried put of the very bytes already
    stored may also succeed (the retry cannot tell them from its own lost write), and so
    may a retried delete of a missing object."""
    if op[0] == "put" and model.get(op[1]) == op[2]:
        return (ObjectExists, None)
    if op[0] == "delete" and op[1] not in model:
        return (ObjectNotFound, None)
    return (expected(model, op),)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(OPS, max_size=25))
def test_any_sequence_of_operations_behaves_like_a_dict(
    store_factory: StoreFactory, ops: list[tuple[Any, ...]]
) -> None:
    replay(store_factory, ops, _tolerant)
