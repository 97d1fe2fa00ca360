"""Repository locks: shared for backups and readers, a prune lock between prunes,
exclusive for what must run alone.

A lock is a small sealed object under locks/; taking one means writing it,
then checking nobody holds a conflicting one. A lock older than STALE without
a refresh, or held by a dead process on this host, is ignored. Prune does not
stop backups: it waits for the holders that were there when it condemned data
(docs/FORMAT.md §Pruning beside backups), which is why a holder keeps one
`holder` id across refreshes and gives up before writing a snapshot once its
own lock may have been judged stale.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgpack

from ripcord.errors import CorruptObject, LockedError, RipcordError
from ripcord.repository.bounds import read_bounded
from ripcord.repository.crypto import open_sealed, seal
from ripcord.repository.unpack import unpack
from ripcord.repository.wire import as_time
from ripcord.storage import ObjectNotFound, Store

LOCK_AAD = b"ripcord v1 lock"
MAX_LOCK = 64 << 10  # ripcord writes ~200 bytes
STALE = timedelta(minutes=30)
REFRESH = timedelta(minutes=5)  # well inside STALE
# a holder trusts its lock for this long after its last successful write; the
# rest of STALE is the clock skew between hosts that the protocol tolerates
TRUSTED = STALE / 2
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _boot_seconds() -> float:
    """Seconds since boot, counting suspend: a laptop asleep for an hour must know it."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass(frozen=True)
class LockInfo:
    name: str
    host: str
    pid: int
    time: datetime
    exclusive: bool
    prune: bool = False
    holder: str = ""  # the same across the holder's refreshes

    def conflicts(self, exclusive: bool, prune: bool) -> bool:
        return self.exclusive or exclusive or (self.prune and prune)

    def is_stale(self, now: datetime) -> bool:
        return now - self.time > STALE or self.dead_here()

    def dead_here(self) -> bool:
        """Held by a process of this host that is gone (killed, or the host rebooted)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


class Lock:
    def __init__(
        self,
        store: Store,
        key: bytes,
        exclusive: bool,
        clock: Clock = utcnow,
        prune: bool = False,
        boot_clock: Callable[[], float] = _boot_seconds,
    ) -> None:
        self.store, self.key, self.exclusive, self.clock = store, key, exclusive, clock
        self.prune, self.boot_clock = prune, boot_clock
        self.name: str | None = None
        self.holder = os.urandom(16).hex()
        self.started = clock()
        self.written = 0.0  # boot clock of the last successful write

    def acquire(self) -> None:
        self.started = self.clock()
        self.name = self._write()
        now = self.clock()
        for other in self.others():
            if other.dead_here():
                self._sweep(other)
                continue
            if other.is_stale(now) or not other.conflicts(self.exclusive, self.prune):
                continue
            self.release()
            kind = "exclusively" if other.exclusive else "for pruning" if other.prune else ""
            raise LockedError(
                f"repository is locked {kind} by pid {other.pid} on {other.host} since"
                f" {other.time:%Y-%m-%d %H:%M:%S} UTC ({other.name})".replace("  ", " ")
            )

    def _sweep(self, dead: LockInfo) -> None:
        """Delete the lock of a process of this host that died holding it, so that
        locks/ does not grow with every crash (it blocks nothing either way)."""
        with contextlib.suppress(RipcordError):  # someone else swept it, or no right to
            self.store.delete(dead.name)

    def _write(self) -> str:
        doc = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "time": self.clock().isoformat(),
            "exclusive": self.exclusive,
            "prune": self.prune,
            "holder": self.holder,
            "started": self.started.isoformat(),
        }
        name = f"locks/{os.urandom(16).hex()}"
        before = self.boot_clock()
        self.store.put(name, seal(self.key, bytes(msgpack.packb(doc)), LOCK_AAD))
        self.written = before  # counted from before the write: never more trust than due
        return name

    def ensure_fresh(self) -> None:
        """Refuse to go on when this lock may already look stale to another host.

        A prune elsewhere ignores a lock not refreshed for STALE and may then
        delete data this holder relies on; a holder whose refreshes failed (a
        network outage, a suspended laptop) must not write a snapshot after that.
        """
        if self.name is None:
            return
        idle = self.boot_clock() - self.written
        if idle > TRUSTED.total_seconds():
            raise LockedError(
                f"this process could not refresh its repository lock for {idle / 60:.0f}"
                " minutes; a prune elsewhere may have removed data it meant to reuse,"
                " so nothing more is written. Run the command again."
            )

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
                raw = read_bounded(self.store, info.name, MAX_LOCK, info.size)
                d = unpack(open_sealed(self.key, raw, LOCK_AAD, info.name), info.name)
                pid, when = int(d["pid"]), as_time(d["time"])
                if not 0 < pid < 2**31:  # is_stale could not judge it
                    raise ValueError("pid out of range")
                out.append(
                    LockInfo(
                        info.name,
                        str(d["host"]),
                        pid,
                        when,
                        bool(d["exclusive"]),
                        bool(d.get("prune", False)),
                        str(d.get("holder", info.name)),
                    )
                )
            except ObjectNotFound:
                continue  # released while we looked
            except (CorruptObject, KeyError, TypeError, ValueError, OverflowError):
                continue  # unreadable lock: cannot be honoured, counted stale
        return out

    def live_holders(self) -> set[str]:
        """Holders, other than this one, whose locks are not stale now."""
        now = self.clock()
        return {o.holder for o in self.others() if o.holder != self.holder and not o.is_stale(now)}

    def release(self) -> None:
        if self.name is not None:
            with contextlib.suppress(ObjectNotFound):
                self.store.delete(self.name)
            self.name = None
