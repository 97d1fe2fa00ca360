"""A store wrapper that counts the bytes each get returns, and can lie in its listing.

For the bounded-read tests: an object over its limit must be refused having read no
more than limit + 1 bytes of it, even when the listing claims it is small.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from ripcord.storage import ObjectInfo, PutOptions, Store


class Counting:
    def __init__(self, inner: Store, listed_size: int | None = None) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.listed_size = listed_size  # what every listing entry claims, if set
        self.read: Counter[str] = Counter()  # bytes returned by get, per name
        self.biggest: Counter[str] = Counter()  # the largest single get, per name

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        self.inner.put(name, data, options)

    def stat(self, name: str) -> ObjectInfo:
        return self.inner.stat(name)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def close(self) -> None:
        self.inner.close()

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        data = self.inner.get(name, offset, length)
        self.read[name] += len(data)
        self.biggest[name] = max(self.biggest[name], len(data))
        return data

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for info in self.inner.list(prefix):
            size = info.size if self.listed_size is None else self.listed_size
            yield ObjectInfo(info.name, size)
