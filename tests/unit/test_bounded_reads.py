"""An object over its size limit is refused having read at most limit + 1 bytes of it.

A hostile store can hold a gigabyte under any name ripcord reads whole (config, key
files, locks, index files, snapshots, marks, check and drill records, pending plans).
Each kind gets one such object in a MemoryStore behind a wrapper that counts the
bytes every get returns, once with an honest listing (the listed size alone refuses
it: nothing is read) and once with a listing that claims every object is 1 byte (the
ranged read is then the bound).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from ripcord.errors import CorruptObject
from ripcord.repository import Repository
from ripcord.repository import repository as repository_module
from ripcord.repository.checks import MAX_CHECK
from ripcord.repository.config import MAX_CONFIG
from ripcord.repository.drills import MAX_DRILL
from ripcord.repository.keys import MAX_KEY_FILE
from ripcord.repository.locks import MAX_LOCK, Lock
from ripcord.repository.marks import MAX_MARK
from ripcord.repository.repository import read_config, unlock
from ripcord.repository.snapshots import MAX_SNAPSHOT
from ripcord.storage import MemoryStore
from tests.conftest import FAST_KDF, PASSWORD
from tests.counting import Counting

PAST = 1 << 20  # how far past its limit each hostile object goes
SMALL = 1 << 20  # the limit used for index files (256 MiB) and pending plans (64 MiB)
ID = "a" * 64


@dataclass(frozen=True)
class Kind:
    name: str  # the hostile object's name
    limit: int
    read: Callable[[Repository], object]  # reads it, and checks it was refused
    listed: bool = True  # found through a listing, which gives its size


def _left_out(what: Callable[[Repository], object]) -> Callable[[Repository], object]:
    """A reader of every record of a kind: the hostile one is left out and named."""

    def read(repo: Repository) -> object:
        assert what(repo) == []
        assert repo.left_out  # too large, or (a listing that lies short) cut off: malformed
        return None

    return read


def _refused(
    what: Callable[[Repository], object], match: str | None = "too large"
) -> Callable[[Repository], object]:
    """A reader of one object that must refuse it (`match`: the reason, where the
    object is not found through a listing, whose size could lie short)."""

    def read(repo: Repository) -> object:
        with pytest.raises(CorruptObject, match=match):
            what(repo)
        return None

    return read


def _only_key(repo: Repository) -> object:
    """Unlocking when the hostile key file is the only one."""
    inner = repo.store.inner  # type: ignore[attr-defined]
    del inner.objects[repo.key_name]
    return unlock(repo.store, PASSWORD.encode())


def _lock(repo: Repository) -> object:
    assert Lock(repo.store, repo.key, exclusive=True).others() == []  # ignored, not honoured
    return None


KINDS = [
    Kind("config", MAX_CONFIG, _refused(lambda r: read_config(r.store)), listed=False),
    Kind(f"keys/{ID}", MAX_KEY_FILE, _refused(_only_key, None)),
    Kind(f"locks/{ID}", MAX_LOCK, _lock),
    Kind(f"index/{ID}", SMALL, _refused(lambda r: r.read_index_file(f"index/{ID}")), False),
    Kind(f"snapshots/{ID}", MAX_SNAPSHOT, _refused(lambda r: r.load_snapshot(ID)), False),
    Kind(f"snapshots/{ID}", MAX_SNAPSHOT, _left_out(lambda r: r.snapshots())),
    Kind(f"marks/{ID}", MAX_MARK, _left_out(lambda r: r.marks())),
    Kind(f"checks/{ID}", MAX_CHECK, _left_out(lambda r: r.checks())),
    Kind(f"drills/{ID}", MAX_DRILL, _left_out(lambda r: r.drills())),
    Kind(f"pending/{ID}", SMALL, _left_out(lambda r: r.pending())),
]


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Index files and pending plans at 1 MiB, so their hostile objects stay small."""
    monkeypatch.setattr(repository_module, "MAX_INDEX", SMALL)
    monkeypatch.setattr(repository_module, "MAX_PENDING", SMALL)
    yield


@pytest.mark.usefixtures("small_limits")
@pytest.mark.parametrize("listing", ["honest", "lying"])
@pytest.mark.parametrize(
    "kind", KINDS, ids=[f"{k.name.split('/')[0]}{'' if k.listed else '-by-name'}" for k in KINDS]
)
def test_an_object_over_its_limit_is_refused_having_read_at_most_one_byte_past_it(
    kind: Kind, listing: str
) -> None:
    store = Counting(MemoryStore())
    repo = Repository.init(store, PASSWORD.encode(), FAST_KDF)
    try:
        store.inner.objects[kind.name] = bytes(kind.limit + PAST)  # type: ignore[attr-defined]
        store.listed_size = 1 if listing == "lying" else None
        kind.read(repo)
    finally:
        repo.close()
    assert store.read[kind.name] <= kind.limit + 1
    if listing == "honest" and kind.listed:
        assert store.read[kind.name] == 0, "listed over its limit: nothing need be read"
    if listing == "lying" and kind.listed:
        assert store.read[kind.name] <= 1, "what the listing says is all that is read"


def test_an_object_at_its_limit_is_read_whole() -> None:
    """The bound is not off by one: exactly `limit` bytes are read and handed on (a lock
    of zeros then fails authentication, and is ignored like any unreadable lock)."""
    store = Counting(MemoryStore())
    repo = Repository.init(store, PASSWORD.encode(), FAST_KDF)
    try:
        store.inner.objects[f"locks/{ID}"] = bytes(MAX_LOCK)  # type: ignore[attr-defined]
        assert Lock(repo.store, repo.key, exclusive=True).others() == []
    finally:
        repo.close()
    assert store.read[f"locks/{ID}"] == MAX_LOCK


def test_check_reading_a_pack_over_the_pack_limit_reads_one_byte_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """check --read-data reads packs whole: a pack the store makes huge is an error of
    the check, not gigabytes held (the limit is made small here, the pack stays real)."""
    from ripcord.repository.pack import DATA
    from ripcord.verify import check as check_module

    counting = Counting(MemoryStore())
    repo = Repository.init(counting, PASSWORD.encode(), FAST_KDF)
    repo.add_blob(DATA, os.urandom(50_000))
    repo.flush()
    monkeypatch.setattr(check_module, "MAX_PACK_BYTES", 100)
    report, verified = check_module.check(repo, check_module.CheckOptions(read_packs=list))
    packs = [n for n in counting.read if n.startswith("data/")]
    assert verified == [] and packs
    assert all("too large (over 100 bytes)" in e.message for e in report.errors), report.errors
    assert all(counting.biggest[n] < 50_000 for n in packs)  # its trailer, never all of it
