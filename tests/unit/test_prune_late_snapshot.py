"""A snapshot that lands after prune read the index: its index files came first, so one
index sync finds its blobs; prune must not call its data missing."""

from __future__ import annotations

from datetime import UTC, datetime

from ripcord.archive.node import tree_doc
from ripcord.repository import Repository, Snapshot
from ripcord.retention.prune import referenced
from ripcord.storage import MemoryStore
from tests.conftest import FAST_KDF, PASSWORD


def test_a_snapshot_written_after_the_index_was_read_is_walked_whole() -> None:
    store = MemoryStore()
    pruner = Repository.init(store, PASSWORD.encode(), FAST_KDF)
    pruner.sync_index()  # the prune has read the index: empty so far
    backup = Repository.open(store, PASSWORD.encode())
    root = backup.save_tree(tree_doc([]))
    backup.flush()  # index file first, then the snapshot, as a backup writes them
    snap_id = backup.save_snapshot(
        Snapshot(time=datetime.now(UTC), host="h", user="u", paths=["/x"], tree=root.hex())
    )
    late = pruner.load_snapshot(snap_id)
    used, trees = referenced(pruner, [late])
    assert used == trees == {root}
