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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    name: bytes
    path: bytes
    st: os.stat_result | None
    error: OSError | None


Listing = list[Entry] | OSError


def list_dir(path: bytes) -> Listing:
    """A directory's entries, sorted by name, each lstat'ed."""
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        return e
    out = []
    for d in entries:
        try:
            out.append(Entry(d.name, d.path, d.stat(follow_symlinks=False), None))
        except OSError as err:
            out.append(Entry(d.name, d.path, None, err))
    return out


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
        return fut.result() if fut is not None else list_dir(path)

    def _list(self, path: bytes) -> Listing:
        result = list_dir(path)
        if not isinstance(result, OSError):
            for e in result:
                if e.st is not None and stat.S_ISDIR(e.st.st_mode):
                    self.prefetch(e.path)
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
