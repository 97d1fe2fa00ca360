"""Reading a file of a snapshot at any offset, decoding only the chunks that cover it."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Protocol

from ripcord.archive.node import Node
from ripcord.errors import CorruptObject, MissingObject
from ripcord.mount.lru import LRU
from ripcord.repository.index import Location

CHUNK_BUDGET = 32 << 20  # decoded chunks kept: 8 reads of 128 KiB decode a 1 MiB chunk once


class BlobSource(Protocol):
    def locate_many(self, blob_ids: list[bytes]) -> dict[bytes, Location]: ...
    def read_at(self, blob_id: bytes, loc: Location) -> bytes: ...


@dataclass(frozen=True)
class Layout:
    """Where each chunk of one file starts: `starts[i]` is chunk i's offset in the file,
    and `starts[-1]` the file's size."""

    ids: list[bytes]
    locs: list[Location]
    starts: list[int]

    @property
    def size(self) -> int:
        return self.starts[-1]


def layout(repo: BlobSource, node: Node) -> Layout:
    """The chunks of `node` located in one index query, their plain sizes added up."""
    found = repo.locate_many(node.content)
    starts = [0]
    for blob_id in node.content:
        loc = found.get(blob_id)
        if loc is None:
            raise MissingObject(f"blob {blob_id.hex()} is not in the index")
        starts.append(starts[-1] + loc.length)
    if starts[-1] != node.size:
        raise CorruptObject(
            f"{node.name!r}: its chunks add up to {starts[-1]} bytes, the file to {node.size}"
        )
    return Layout(node.content, [found[b] for b in node.content], starts)


class Chunks:
    """Reads byte ranges of files, keeping recently decoded chunks."""

    def __init__(self, repo: BlobSource, budget: int = CHUNK_BUDGET) -> None:
        self.repo = repo
        self._cache: LRU[bytes, bytes] = LRU(budget)
        self.decoded = 0  # chunks read from the repository (the others came from the cache)

    def read(self, file: Layout, offset: int, size: int) -> bytes:
        end = min(offset + size, file.size)
        if offset >= end:
            return b""
        parts: list[memoryview] = []
        i = bisect_right(file.starts, offset) - 1
        while file.starts[i] < end:
            start = file.starts[i]
            data = memoryview(self._chunk(file.ids[i], file.locs[i]))
            parts.append(data[max(offset - start, 0) : end - start])
            i += 1
        return b"".join(parts)

    def _chunk(self, blob_id: bytes, loc: Location) -> bytes:
        data = self._cache.get(blob_id)
        if data is None:
            data = self.repo.read_at(blob_id, loc)
            self.decoded += 1
            self._cache.put(blob_id, data, len(data))
        return data
