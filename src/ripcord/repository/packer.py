"""Turns a stream of blobs into sealed packs, concurrently.

Compression and encryption release the GIL and run in a thread pool; finished
packs upload from a second pool so the CPU work never waits on storage. In a
repository with parity, each pack's parity object is computed and stored right
after the pack (never before: a parity object whose pack is not listed is then
always a leftover, which prune can delete without racing a writer).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ripcord.repository.crypto import content_id
from ripcord.repository.index import PackFrames
from ripcord.repository.pack import TREE, BlobEntry, Frame, build_trailer, seal_frame
from ripcord.repository.parity import encode_parity, parity_name
from ripcord.storage import Store

PACK_TARGET = 8 << 20  # plaintext bytes per pack
BUNDLE_TARGET = 4 << 20  # plaintext bytes of small data blobs sharing one frame
# trees are read one at a time by walks (ls, history, check, prune): a smaller frame
# costs less to decompress for each one read, and trees compress well even so
TREE_BUNDLE_TARGET = 1 << 20
SMALL_BLOB = 128 << 10  # blobs below this share frames
MAX_IN_FLIGHT = 1  # packs sealed or uploading while the next fills (a local store)


def pack_name(pack_id: str) -> str:
    return f"data/{pack_id[:2]}/{pack_id}"


@dataclass
class _PendingFrame:
    sealed: Future[bytes]
    blobs: list[tuple[bytes, int, int, int]]  # id, type, offset, length


class Packer:
    """Accumulates blobs of one kind (data or tree) into packs."""

    def __init__(
        self,
        store: Store,
        key: bytes,
        level: int,
        cpu: ThreadPoolExecutor,
        io: ThreadPoolExecutor,
        on_stored: Callable[[PackFrames, int], None],
        parity: int = 0,
        in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.store, self.key, self.level = store, key, level
        self.parity = parity  # percent; 0: no parity objects
        # finished packs held while uploading: more keep a remote link busy, each costs a pack
        self.in_flight = in_flight
        self.cpu, self.io, self.on_stored = cpu, io, on_stored
        self._bundle: list[tuple[bytes, int, bytes]] = []
        self._bundle_size = 0
        self._frames: list[_PendingFrame] = []
        self._pack_size = 0
        self._uploads: list[Future[tuple[PackFrames, int]]] = []

    def add(self, blob_id: bytes, blob_type: int, data: bytes) -> None:
        if len(data) >= SMALL_BLOB:
            self._seal([(blob_id, blob_type, data)])
        else:
            self._bundle.append((blob_id, blob_type, data))
            self._bundle_size += len(data)
            if self._bundle_size >= (TREE_BUNDLE_TARGET if blob_type == TREE else BUNDLE_TARGET):
                self._close_bundle()
        if self._pack_size >= PACK_TARGET:
            self._close_pack()

    def _close_bundle(self) -> None:
        if self._bundle:
            self._seal(self._bundle)
            self._bundle, self._bundle_size = [], 0

    def _seal(self, blobs: list[tuple[bytes, int, bytes]]) -> None:
        entries, offset = [], 0
        for blob_id, blob_type, data in blobs:
            entries.append((blob_id, blob_type, offset, len(data)))
            offset += len(data)
        plain = blobs[0][2] if len(blobs) == 1 else b"".join(b[2] for b in blobs)
        fut = self.cpu.submit(seal_frame, self.key, plain, self.level)
        self._frames.append(_PendingFrame(fut, entries))
        self._pack_size += offset

    def _close_pack(self) -> None:
        self._close_bundle()
        if not self._frames:
            return
        frames, self._frames, self._pack_size = self._frames, [], 0
        self._uploads.append(self.io.submit(self._assemble_and_put, frames))
        while len(self._uploads) > self.in_flight:
            self._collect(self._uploads.pop(0))

    def _assemble_and_put(self, pending: list[_PendingFrame]) -> tuple[PackFrames, int]:
        parts: list[bytes] = []
        frames: list[Frame] = []
        offset = 0
        for p in pending:
            sealed = p.sealed.result()
            blobs = tuple(BlobEntry(*b) for b in p.blobs)
            frames.append(Frame(offset, len(sealed), blobs))
            parts.append(sealed)
            offset += len(sealed)
        parts.append(build_trailer(self.key, frames))
        data = b"".join(parts)
        pack_id = content_id(data)
        parity = None
        if self.parity:  # computed while the pack is written
            parity = self.cpu.submit(encode_parity, self.key, pack_id, data, self.parity)
        self.store.put(pack_name(pack_id), data)
        if parity is not None:
            self.store.put(parity_name(pack_id), parity.result())
        return (pack_id, frames), len(data)

    def _collect(self, fut: Future[tuple[PackFrames, int]]) -> None:
        pack, size = fut.result()
        self.on_stored(pack, size)

    def flush(self) -> None:
        """Seal and upload everything buffered; returns when it is stored."""
        self._close_pack()
        uploads, self._uploads = self._uploads, []
        for fut in uploads:
            self._collect(fut)


def default_workers() -> int:
    return max(2, os.cpu_count() or 2)
