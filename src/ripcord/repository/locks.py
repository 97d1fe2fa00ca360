"""Repository locks: shared for backups, exclusive for whatever deletes.

A lock is a small sealed object under locks/; taking one means writing it,
then checking nobody holds a conflicting one. A lock older than STALE without
a refresh, or held by a dead process on this host, is ignored.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgpack

from ripcord.errors import CorruptObject, LockedError, RipcordError
from ripcord.repository.crypto import open_sealed, seal
from ripcord.storage import ObjectNotFound, Store

LOCK_AAD = b"ripcord v1 lock"
STALE = timedelta(minutes=30)
REFRESH = timedelta(minutes=5)  # well inside STALE
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LockInfo:
    name: str
    host: str
    pid: int
    time: datetime
    exclusive: bool

    def is_stale(self, now: datetime) -> bool:
        if now - self.time > STALE:
            return True
        if self.host == socket.gethostname():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
        return False


class Lock:
    def __init__(self, store: Store, key: bytes, exclusive: bool, clock: Clock = utcnow) -> None:
        self.store, self.key, self.exclusive, self.clock = store, key, exclusive, clock
        self.name: str | None = None

    def acquire(self) -> None:
        self.name = self._write()
        now = self.clock()
        for other in self.others():
            if other.is_stale(now) or not (other.exclusive or self.exclusive):
                continue
            self.release()
            kind = "exclusively" if other.exclusive else ""
            raise LockedError(
                f"repository is locked {kind} by pid {other.pid} on {other.host} since"
                f" {other.time:%Y-%m-%d %H:%M:%S} UTC ({other.name})".replace("  ", " ")
            )

    def _write(self) -> str:
        doc = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "time": self.clock().isoformat(),
            "exclusive": self.exclusive,
        }
        name = f"locks/{os.urandom(16).hex()}"
        self.store.put(name, seal(self.key, bytes(msgpack.packb(doc)), LOCK_AAD))
        return name

    def refresh(self) -> None:
        """Replace the lock object with a fresh one (new first: never a moment unlocked).

        Objects are written once, so a refresh is a new object and a delete.
        """
        if self.name is None:
            return
        old, self.name = self.name, self._write()
        with contextlib.suppress(ObjectNotFound):
            self.store.delete(old)

    @contextmanager
    def kept_fresh(self, every: float = REFRESH.total_seconds()) -> Iterator[None]:
        """Refresh in a background thread while the body runs, so a long backup is
        never mistaken for a stale one by another host."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                with contextlib.suppress(RipcordError):
                    self.refresh()  # a failed refresh is retried next round

        thread = threading.Thread(target=loop, name="ripcord-lock", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def others(self) -> list[LockInfo]:
        out = []
        for info in self.store.list("locks"):
            if info.name == self.name:
                continue
            try:
                raw = self.store.get(info.name)
                d = msgpack.unpackb(open_sealed(self.key, raw, LOCK_AAD, info.name))
                pid, time = int(d["pid"]), datetime.fromisoformat(d["time"])
                if time.tzinfo is None or not 0 < pid < 2**31:  # is_stale could not judge it
                    raise ValueError("lock time without a zone, or pid out of range")
                out.append(LockInfo(info.name, str(d["host"]), pid, time, bool(d["exclusive"])))
            except ObjectNotFound:
                continue  # released while we looked
            except (CorruptObject, KeyError, TypeError, ValueError, OverflowError):
                continue  # unreadable lock: cannot be honoured, counted stale
        return out

    def release(self) -> None:
        if self.name is not None:
            with contextlib.suppress(ObjectNotFound):
                self.store.delete(self.name)
            self.name = None
