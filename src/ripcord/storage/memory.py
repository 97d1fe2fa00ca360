"""An in-memory store for unit tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, validate_name
from ripcord.storage.errors import ObjectExists, ObjectNotFound


class MemoryStore:
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        validate_name(name)
        with self._lock:
            if name in self.objects:
                raise ObjectExists(f"{name} already exists")
            self.objects[name] = bytes(data)

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
            if self.objects.pop(name, None) is None:
                raise ObjectNotFound(f"{name} not found")

    def close(self) -> None:
        pass
