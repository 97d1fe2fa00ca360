"""Processes of one user share one index cache (RIPCORD_CACHE_DIR). A process that
rebuilds it from scratch (after a prune changed which index files stand) absorbs
the index files it listed; one that another process wrote and absorbed after that
listing drops out of the cache, though it is in the repository. That process must
still find its own blobs: a backup beside a prune on S3 once failed with "blob …
is not in the index" (tests/integration/test_concurrency.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ripcord.repository import DATA, Repository
from ripcord.storage import MemoryStore
from tests.conftest import FAST_KDF, PASSWORD


class _Interleaved(MemoryStore):
    """A store that runs `between` once, just before the next index file is read: after
    the reader listed index/ and before it absorbs what it read."""

    between: Callable[[], None] | None = None

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        if name.startswith("index/") and self.between is not None:
            between, self.between = self.between, None
            between()
        return super().get(name, offset, length)


def test_a_blob_dropped_from_the_shared_cache_by_anothers_rebuild_is_found(
    tmp_path: Path,
) -> None:
    store = _Interleaved()
    cache = tmp_path / "cache"
    Repository.init(store, PASSWORD.encode(), FAST_KDF, cache_dir=cache).close()
    backup = Repository.open(store, PASSWORD.encode(), cache_dir=cache)
    prune = Repository.open(store, PASSWORD.encode(), cache_dir=cache)
    backup.add_blob(DATA, b"stored before the prune")
    backup.flush()
    first = backup.written_index[0].removeprefix("index/")
    # a plan condemns that index file: the next sync anywhere rebuilds the cache
    backup.write_plan([], [first], [], [], sync=False)
    mine: list[bytes] = []

    def meanwhile() -> None:  # the backup stores and indexes a blob of its own
        blob, _ = backup.add_blob(DATA, b"the backup's own")
        backup.flush()
        mine.append(blob)

    store.between = meanwhile
    prune.sync_index()  # listed index/ before the backup's new file, absorbs after it
    assert mine and store.between is None  # it did run in between
    assert backup.read_blob(mine[0]) == b"the backup's own"
    backup.close()
    prune.close()
