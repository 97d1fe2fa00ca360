"""Retry a store's transient faults: a wrapper, so no backend grows its own loop.

Only StoreUnavailable is retried: it says the request may not have arrived, or
its reply may not have come back. Anything else (not found, exists, full,
denied) is the store's answer and is passed on at once.

A retry must allow for the first attempt having done its work:

- put: a retry that finds the name taken succeeds if the object holds exactly
  the bytes this put sent (read back and compared). Every name is a content
  hash or random, so those bytes were written by this put, or are an identical
  twin of it; anything else there is ObjectExists, as the contract says.
- delete: a retry that finds nothing there succeeds.
- list: retried only before its first entry; a listing that breaks after it
  fails (starting over would name objects twice).

A ranged get that returns fewer bytes than asked, of an object long enough to
hold them, is a short read (a reply cut off unnoticed) and is retried: passed
on, it would be read as damage.

Backoff is capped exponential with full jitter, so clients that lost one
server do not all come back in step. A store whose connection cannot recover
by itself (SFTP) is given `reopen`, called for a fresh one after a fault.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ripcord.errors import StoreError
from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, Store
from ripcord.storage.errors import ObjectExists, ObjectNotFound, StoreUnavailable

T = TypeVar("T")
ATTEMPTS = 5
BACKOFF = 0.5  # seconds: the cap of the first pause, doubled for each later one
MAX_PAUSE = 10.0


class Retrying:
    """A Store that retries the transient faults of the store it wraps."""

    def __init__(
        self,
        store: Store,
        *,
        reopen: Callable[[], Store] | None = None,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = store
        self.capabilities: Capabilities = store.capabilities
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.retries = 0  # faults retried so far, for tests and reports
        self._reopen = reopen
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def __getattr__(self, attr: str) -> Any:
        """The wrapped store's extras (Object Lock, versions), passed through as they are."""
        if attr == "inner":  # not set yet: never recurse
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    # -- the Store operations ---------------------------------------------------------

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        def put(store: Store, retry: bool) -> None:
            try:
                store.put(name, data, options)
            except ObjectExists:
                if not retry or not holds(store, name, data):
                    raise

        self._run(put)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        def get(store: Store, retry: bool) -> bytes:
            data = store.get(name, offset, length)
            if length is not None and len(data) < length:
                size = store.stat(name).size
                if len(data) < min(size - offset, length):
                    raise StoreUnavailable(
                        f"short read of {name}: {len(data)} of {length} bytes at {offset}"
                    )
            return data

        return self._run(get)

    def stat(self, name: str) -> ObjectInfo:
        return self._run(lambda store, retry: store.stat(name))

    def delete(self, name: str) -> None:
        def delete(store: Store, retry: bool) -> None:
            try:
                store.delete(name)
            except ObjectNotFound:
                if not retry:
                    raise

        self._run(delete)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for attempt in range(self.attempts):
            store = self.inner
            started = False
            try:
                for info in store.list(prefix):
                    started = True
                    yield info
                return
            except StoreUnavailable:
                if started or attempt + 1 >= self.attempts:
                    raise
                self._recover(store, attempt)

    def close(self) -> None:
        self.inner.close()

    # -- retrying ---------------------------------------------------------------------

    def _run(self, op: Callable[[Store, bool], T]) -> T:
        """`op(store, retry)` until it is not unavailable, or the attempts run out."""
        for attempt in range(self.attempts):
            store = self.inner
            try:
                return op(store, attempt > 0)
            except StoreUnavailable:
                if attempt + 1 >= self.attempts:
                    raise
                self._recover(store, attempt)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _recover(self, failed: Store, attempt: int) -> None:
        """Pause, then (if the store needs it) reopen it, once for every thread that used
        the failed connection. A reopen that fails is one more fault, for the next round."""
        self.retries += 1
        self._sleep(self._rng.uniform(0, min(MAX_PAUSE, self.backoff * 2**attempt)))
        if self._reopen is None:
            return
        with self._lock:
            if self.inner is not failed:
                return  # another thread reopened it already
            with contextlib.suppress(StoreError):
                self.inner = self._reopen()
                with contextlib.suppress(Exception):  # its connection is gone already
                    failed.close()


def holds(store: Store, name: str, data: bytes) -> bool:
    """Whether `name` holds exactly `data`: what a retried put that finds its name taken
    asks (the size first: no download of an object that cannot match)."""
    try:
        # at most one byte more than `data`: a store that lies about the size is not read whole
        return store.stat(name).size == len(data) and store.get(name, 0, len(data) + 1) == data
    except ObjectNotFound:
        return False
