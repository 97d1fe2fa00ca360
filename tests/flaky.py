"""A fault-injecting wrapper around a real store: the network of a bad day.

`Flaky` passes every call to the store it wraps, except that, chosen by a
seeded random generator, some calls meet a fault first:

- error:      refused before it reached the store (a 503, a refused connection)
- timeout:    waits, then gives up before it reached the store
- slow:       waits, then goes through (no fault, only late)
- reset:      the connection drops; the call reached the store or not, at random
- lost-reply: the call is done, then its reply is lost (a put that stored the
              object, reported as failed)
- short-read: a ranged get returns fewer bytes than asked, with no error

Transient faults are StoreUnavailable, what a backend raises for them. After
`burst` faults on one thread the next QUIET calls of it go through, so a
retrying caller with more attempts than `burst` always gets through: the
faults are bounded, and a test with them is deterministic in outcome.
`down()` makes every call fail, as a store that is gone for good. `injected`
counts what was done, for reports.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from ripcord.storage import Capabilities, ObjectInfo, PutOptions, Store, StoreUnavailable
from ripcord.storage.retry import Retrying

T = TypeVar("T")
FAULTS = ("error", "timeout", "slow", "reset", "lost-reply", "short-read")
# calls without a fault after `burst` faults on a thread: a retried put, and the stat
# and get that check what a lost reply left behind, get through together
QUIET = 3
DELAY = 0.005  # seconds of a slow call or a timeout: enough to reorder threads, cheap in CI


class Flaky:
    """`store`, with faults at `rate` of the calls (seeded, bounded by `burst`)."""

    def __init__(
        self,
        store: Store,
        seed: int,
        rate: float = 0.2,
        faults: tuple[str, ...] = FAULTS,
        burst: int = 2,
    ) -> None:
        unknown = set(faults) - set(FAULTS)
        assert not unknown, f"no such faults: {unknown}"
        self.inner = store
        self.capabilities: Capabilities = store.capabilities
        self.rate = rate
        self.faults = faults
        self.burst = burst
        self.injected: Counter[str] = Counter()
        self.calls = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._since_calm = threading.local()
        self._down: str | None = None
        self._down_at = 0

    def __getattr__(self, attr: str) -> Any:
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def down(self, why: str = "the store is gone", after: int = 0) -> None:
        """After `after` more calls, every call fails: transiently as far as the caller
        can tell, but for good."""
        self._down = why
        self._down_at = self.calls + after

    def _pick(self, kinds: tuple[str, ...]) -> _Fault | None:
        """The fault this call meets, if any, of those that can happen to it."""
        if self._down is not None and self.calls >= self._down_at:
            raise StoreUnavailable(f"injected: {self._down}")
        row = getattr(self._since_calm, "faults", 0)
        calm = getattr(self._since_calm, "calm", 0)
        with self._lock:
            self.calls += 1
            chosen = [k for k in self.faults if k in kinds]
            if calm or not chosen or self._rng.random() >= self.rate:
                self._since_calm.calm = max(0, calm - 1)
                return None
            fault = _Fault(self._rng.choice(chosen), self._rng.random() < 0.5, self._rng.random())
            self.injected[fault.kind] += 1
        if fault.kind != "slow":
            row += 1
            self._since_calm.faults = 0 if row >= self.burst else row
            self._since_calm.calm = QUIET if row >= self.burst else 0
        return fault

    def _call(self, kinds: tuple[str, ...], doing: str, op: Callable[[], T]) -> T:
        fault = self._pick(kinds)
        kind = fault.kind if fault else None
        if kind == "error":
            raise StoreUnavailable(f"injected: {doing} refused (503)")
        if kind in ("timeout", "slow"):
            time.sleep(DELAY)
            if kind == "timeout":
                raise StoreUnavailable(f"injected: {doing} timed out")
        if fault and kind == "reset" and not fault.reached:
            raise StoreUnavailable(f"injected: connection reset before {doing}")
        result = op()
        if kind in ("reset", "lost-reply"):
            raise StoreUnavailable(f"injected: connection reset after {doing}")
        if fault and kind == "short-read" and isinstance(result, bytes) and result:
            return result[: int(len(result) * fault.cut)]  # type: ignore[return-value]
        return result

    # -- the Store operations ---------------------------------------------------------

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        self._call(_WRITE, f"put {name}", lambda: self.inner.put(name, data, options))

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        kinds = _READ if length is not None else _ASK  # short only when a length was asked
        return self._call(kinds, f"get {name}", lambda: self.inner.get(name, offset, length))

    def stat(self, name: str) -> ObjectInfo:
        return self._call(_ASK, f"stat {name}", lambda: self.inner.stat(name))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        fault = self._pick(_ASK)
        if fault and fault.kind == "slow":
            time.sleep(DELAY)
        elif fault:  # before the first entry: a listing cut short later is not retried
            raise StoreUnavailable(f"injected: list {prefix} failed ({fault.kind})")
        yield from self.inner.list(prefix)

    def delete(self, name: str) -> None:
        self._call(_WRITE, f"delete {name}", lambda: self.inner.delete(name))

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class _Fault:
    kind: str
    reached: bool  # a reset: whether the call got to the store before the drop
    cut: float  # a short read: the part of the reply that arrives


_ASK = ("error", "timeout", "slow", "reset")
_WRITE = (*_ASK, "lost-reply")
_READ = (*_ASK, "short-read")


def flaky(store: Store, seed: int, **kw: Any) -> tuple[Retrying, Flaky]:
    """`store` with faults, behind the retry wrapper ripcord puts in front of stores (no
    pauses between attempts: the faults are not in a hurry to clear)."""
    faulty = Flaky(store, seed, **kw)
    return Retrying(faulty, attempts=faulty.burst + 2, sleep=lambda s: None), faulty


class LosingProxy:
    """A TCP relay to a real server that, when armed, lets a request through and loses
    its reply: once the server has answered (it did the work), the client's connection
    is reset instead. `skip` server messages go through first (SFTP: the replies to a
    put's open and writes, so that the lost one is a later step's)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.lost = 0
        self._armed = 0
        self._skip = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_next_reply(self, skip: int = 0) -> None:
        with self._lock:
            self._armed, self._skip = 1, skip

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.target)
            threading.Thread(target=_relay, args=(conn, server, None), daemon=True).start()
            threading.Thread(target=_relay, args=(server, conn, self), daemon=True).start()

    def _lose(self) -> bool:
        """Whether this piece of a reply is the one to lose (consumes the arming)."""
        with self._lock:
            if not self._armed:
                return False
            if self._skip:
                self._skip -= 1
                return False
            self._armed = 0
            self.lost += 1
            return True

    def close(self) -> None:
        self._listener.close()


def _relay(src: socket.socket, dst: socket.socket, losing: LosingProxy | None) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(1 << 16):
            if losing is not None and losing._lose():
                for s in (dst, src):  # dropped both ways, as a broken link looks
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RDWR)  # wakes the relay blocked reading it
                    s.close()
                return
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)
