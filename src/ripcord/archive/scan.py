"""Directory listings read ahead of the backup walk.

A cold no-change backup is bound by lstat latency; like `find`, it goes
fastest when many listings are in flight. Each listing a worker finishes
queues its subdirectories in turn, up to `ahead` unconsumed listings, so
the scan runs ahead of the walk without holding the whole tree in memory.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    name: bytes
    path: bytes
    st: os.stat_result | None
    error: OSError | None


STAT_BATCH = 4096  # a big directory's entries are lstat'ed this many at a time
BIG = STAT_BATCH  # more entries than this: a directory's listing holds names, not stats


class Names:
    """A big directory's entries, sorted by name, lstat'ed a batch at a time as they are
    taken (the next batch in a worker meanwhile): a directory of a million holds its
    names (~60 MB), not a million stats (~0.8 KiB each with their entries)."""

    def __init__(self, path: bytes, names: list[bytes], pool: ThreadPoolExecutor | None) -> None:
        self.path, self.names, self._pool = path, names, pool

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[Entry]:
        ahead: Future[list[Entry]] | None = None
        for i in range(0, len(self.names), STAT_BATCH):
            # a batch not started yet (queued behind listings) is taken here instead
            batch = self._stat(i) if ahead is None or ahead.cancel() else ahead.result()
            more = i + STAT_BATCH < len(self.names)
            ahead = _submit(self._pool, self._stat, i + STAT_BATCH) if more else None
            yield from batch

    def _stat(self, i: int) -> list[Entry]:
        return _stat_all(self.path, self.names[i : i + STAT_BATCH])


Listing = list[Entry] | Names | OSError


def list_dir(path: bytes, pool: ThreadPoolExecutor | None = None) -> Listing:
    """A directory's entries, sorted by name, each lstat'ed; a big one's as it is read
    (Names, stats taken in `pool` ahead of the reader)."""
    try:
        with os.scandir(path) as it:
            names = sorted(d.name for d in it)
    except OSError as e:
        return e
    if len(names) > BIG:
        return Names(path, names, pool)
    return _stat_all(path, names)


def _stat_all(path: bytes, names: list[bytes]) -> list[Entry]:
    base = path.rstrip(b"/") + b"/"
    out = []
    for name in names:
        full = base + name
        try:
            out.append(Entry(name, full, os.lstat(full), None))
        except OSError as err:
            out.append(Entry(name, full, None, err))
    return out


def _submit(
    pool: ThreadPoolExecutor | None, stat_batch: Callable[[int], list[Entry]], i: int
) -> Future[list[Entry]] | None:
    if pool is None:
        return None
    try:
        return pool.submit(stat_batch, i)
    except RuntimeError:  # the pool is shut down: the reader stats them itself
        return None


class Scanner:
    def __init__(self, workers: int, ahead: int) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ripcord-scan")
        self._pending: dict[bytes, Future[Listing]] = {}
        self._lock = threading.Lock()
        self._ahead = ahead

    def prefetch(self, path: bytes) -> None:
        """Start listing `path` unless it is under way or too much is waiting."""
        with self._lock:
            if path in self._pending or len(self._pending) >= self._ahead:
                return
            self._pending[path] = self._pool.submit(self._list, path)

    def discard(self, path: bytes) -> None:
        """The walk will not enter `path` (excluded): free its place."""
        with self._lock:
            fut = self._pending.pop(path, None)
        if fut is not None:
            fut.cancel()

    def listing(self, path: bytes) -> Listing:
        with self._lock:
            fut = self._pending.pop(path, None)
        return fut.result() if fut is not None else list_dir(path, self._pool)

    def _list(self, path: bytes) -> Listing:
        result = list_dir(path, self._pool)
        if isinstance(result, list):  # a big one's subdirectories: when the walk gets there
            for e in result:
                if e.st is not None and stat.S_ISDIR(e.st.st_mode):
                    self.prefetch(e.path)
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
