"""The blobs a snapshot needs, moved from one repository to another id for id.

Both repositories share the chunk-id key (`init --copy-params-from`), so a
blob keeps its id in the target: the source's trees are walked (each once per
run), the target is asked which blobs it lacks, and only those are read from
the source, grouped by pack in pack order with a few packs read at once, and
added to the target, which compresses and seals them under its own key. What
is read is authenticated and checked against its id first, so a damaged
source can fail a copy but never plant wrong data in the target.

Every subtree is walked even when the target holds the tree blob: a crash
can leave a tree durable in the target without the data under it (the two
kinds go to separate packs), and the source is what says what a snapshot uses.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from ripcord.archive.node import tree_refs
from ripcord.archive.progress import Progress
from ripcord.errors import CorruptObject, MissingObject
from ripcord.repository import TREE, Repository
from ripcord.repository.index import Location

READERS = 4  # packs read from the source at once
BATCH = 4096  # data blob ids the target is asked about in one go
# bytes added between flushes of the target: an index file makes them known, so a
# copy killed midway loses at most this much work (the blobs of unindexed packs
# are sent again) for a short wait on the uploads in flight
FLUSH_EVERY = 256 << 20

T = TypeVar("T")
R = TypeVar("R")
_Blob = tuple[bytes, Location]


class BlobCopier:
    """Adds to `target` what a tree needs from `source`; durable once the target flushes."""

    def __init__(self, source: Repository, target: Repository, progress: Progress) -> None:
        self.source, self.target, self.progress = source, target, progress
        self.walked: set[bytes] = set()  # trees whose blobs this run already made sure of
        self.blobs = 0  # blobs added to the target
        self.bytes = 0  # their plaintext bytes
        self._unflushed = 0  # bytes added since the target last flushed
        self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="ripcord-copy")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def copy(self, root: bytes) -> None:
        """Give the target every blob below the tree `root` that it lacks."""
        pending: list[bytes] = []
        stack = [root]
        while stack:
            tree = stack.pop()
            if tree in self.walked:
                continue
            with _from_source():
                data = self.source.read_blob(tree)
                doc = self.source.parse_tree(tree, data)
                content, subtrees = tree_refs(doc, f"tree {tree.hex()}", self.source.id_from_digest)
            self._add(TREE, tree, data)  # read anyway to walk it: never read twice
            self.walked.add(tree)
            pending.extend(content)
            stack.extend(subtrees)
            if len(pending) >= BATCH:
                self._copy_data(pending)
                pending = []
        self._copy_data(pending)

    def _copy_data(self, ids: list[bytes]) -> None:
        ids = list(dict.fromkeys(ids))
        self.target.prime(ids)
        missing = [b for b in ids if not self.target.has_blob(b)]
        if not missing:
            return
        where = self.source.locate_many(missing)
        lost = [b for b in missing if b not in where]
        if lost:
            raise MissingObject(
                f"the source cannot be copied whole: blob {lost[0].hex()} is in no index file"
                f" ({len(lost)} such); run `ripcord check` on it, and `repair` it"
            )
        by_pack: dict[str, list[_Blob]] = {}
        for blob in missing:
            loc = where[blob]
            by_pack.setdefault(loc.pack, []).append((blob, loc))
        jobs = [
            sorted(blobs, key=lambda b: (b[1].frame_offset, b[1].offset))
            for _, blobs in sorted(by_pack.items())
        ]
        for read in _ahead(self._pool, self._read_pack, jobs, READERS + 1):
            for (blob, loc), data in read:
                self._add(loc.type, blob, data)

    def _read_pack(self, blobs: list[_Blob]) -> list[tuple[_Blob, bytes]]:
        """One pack's blobs, in a reader thread (each frame is read once: the source
        caches it while its blobs are taken out)."""
        with _from_source():
            return [(b, self.source.read_at(*b)) for b in blobs]

    def _add(self, blob_type: int, blob: bytes, data: bytes) -> None:
        _, new = self.target.add_blob(blob_type, data, blob)
        if new:
            self.blobs += 1
            self.bytes += len(data)
            self.progress.advance(len(data))
            self._unflushed += len(data)
            if self._unflushed >= FLUSH_EVERY:
                self.target.flush()
                self._unflushed = 0


@contextmanager
def _from_source() -> Iterator[None]:
    """Reads from the source: damage there is named as the source's, with what to do."""
    try:
        yield
    except (CorruptObject, MissingObject) as e:
        raise type(e)(
            f"the source cannot be copied whole: {e}; check it (`ripcord check --read-data`)"
            " and heal it from another copy (`ripcord repair --from`)"
        ) from None


def _ahead(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], ahead: int
) -> Iterator[R]:
    """fn(item) for each item, in order, with at most `ahead` running or done and
    unclaimed: the results wait in memory, so their number is bounded."""
    running: deque[Future[R]] = deque()
    for item in items:
        running.append(pool.submit(fn, item))
        if len(running) >= ahead:
            yield running.popleft().result()
    while running:
        yield running.popleft().result()
