"""The stores the contract suite runs against.

Every backend adds one factory to STORE_FACTORIES and so runs the whole of
test_store_contract.py; a remote store (S3, SFTP, rest) whose server cannot start
must fail the run, never skip it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ripcord.storage import LocalStore, MemoryStore, Store
from tests.restserver import rest_store
from tests.s3server import new_s3_store
from tests.sshserver import sftp_store

StoreFactory = Callable[[Path], Store]

STORE_FACTORIES: list[tuple[str, StoreFactory]] = [
    ("memory", lambda tmp: MemoryStore()),
    ("local", lambda tmp: LocalStore(tmp / "store", create=True)),
    ("s3", lambda tmp: new_s3_store()),
    ("s3-object-lock", lambda tmp: new_s3_store(object_lock=True)),
    ("sftp", sftp_store),
    ("rest", rest_store),
]


@pytest.fixture(params=[f for _, f in STORE_FACTORIES], ids=[n for n, _ in STORE_FACTORIES])
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """Each kind of store in turn, for tests that need many fresh stores (hypothesis)."""
    factory: StoreFactory = request.param
    return factory


@pytest.fixture
def store(store_factory: StoreFactory, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each kind in turn."""
    s = store_factory(tmp_path)
    try:
        yield s
    finally:
        s.close()
