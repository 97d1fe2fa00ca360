"""An in-memory store for unit tests.

It can also play an Object Lock bucket (`retain_new_objects`), on a clock the
test controls, so prune and maintain are tested against locks without S3.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, validate_name
from ripcord.storage.errors import ObjectExists, ObjectLocked, ObjectNotFound


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryStore:
    capabilities = Capabilities()

    def __init__(self, clock: Callable[[], datetime] = _utcnow) -> None:
        self.objects: dict[str, bytes] = {}
        self.until: dict[str, datetime] = {}  # retain-until of locked objects
        self.clock = clock
        self._period: timedelta | None = None
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        validate_name(name)
        with self._lock:
            if name in self.objects:
                raise ObjectExists(f"{name} already exists")
            self.objects[name] = bytes(data)
            if self._period is not None and not name.startswith("locks/"):
                self.until[name] = self.clock() + self._period

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        validate_name(name)
        try:
            data = self.objects[name]
        except KeyError:
            raise ObjectNotFound(f"{name} not found") from None
        end = len(data) if length is None else offset + length
        return data[offset:end]

    def stat(self, name: str) -> ObjectInfo:
        validate_name(name)
        try:
            return ObjectInfo(name, len(self.objects[name]))
        except KeyError:
            raise ObjectNotFound(f"{name} not found") from None

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        validate_name(prefix)
        start = prefix + "/"
        with self._lock:
            items = [(n, len(d)) for n, d in self.objects.items() if n.startswith(start)]
        for name, size in items:
            yield ObjectInfo(name, size)

    def delete(self, name: str) -> None:
        validate_name(name)
        with self._lock:
            until = self.until.get(name)
            if until is not None and until > self.clock():
                raise ObjectLocked(f"{name} is locked until {until.isoformat()}", until)
            if self.objects.pop(name, None) is None:
                raise ObjectNotFound(f"{name} not found")
            self.until.pop(name, None)

    def close(self) -> None:
        pass

    # -- Retaining -----------------------------------------------------------------------

    def retain_new_objects(self, mode: str, period: timedelta) -> None:
        self._period = period

    def retained_until(self, name: str) -> datetime | None:
        self.stat(name)
        until = self.until.get(name)
        return until if until is not None and until > self.clock() else None

    def extend_retention(self, name: str, until: datetime) -> None:
        self.stat(name)
        with self._lock:
            if self.until.get(name, until) <= until:
                self.until[name] = until
