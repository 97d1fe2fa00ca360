"""Where a sparse file holds data, so that backup need not read its holes.

A 50 GiB disk image with 1 GiB written reads as 50 GiB of zeros: the kernel makes
them up fast, but chunking and hashing them cost ~4 s a GiB. SEEK_DATA/SEEK_HOLE
give the written ranges; a hole of at least a few chunks is stored as chunks of
zeros without being read or cut (the same blob, found already stored after the
first), and restore writes such chunks back as holes.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from typing import Any

import blake3


def data_ranges(fd: int, size: int, min_hole: int) -> list[tuple[int, int]] | None:
    """The [start, end) ranges below `size` that hold data, with holes shorter than
    `min_hole` counted as data; None when no hole is that long (read it all) or the
    file system cannot tell. The file offset is left where it was."""
    ranges: list[tuple[int, int]] = []
    pos = 0
    at = os.lseek(fd, 0, os.SEEK_CUR)  # put back after: the caller reads from there
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # nothing but hole from here to the end
                    break
                raise
            if start >= size:
                break
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            if ranges and start - ranges[-1][1] < min_hole:
                ranges[-1] = (ranges[-1][0], end)  # a short hole: read as data
            else:
                ranges.append((start, end))
            pos = end
    except OSError:
        return None  # no SEEK_DATA here: read everything
    finally:
        os.lseek(fd, at, os.SEEK_SET)
    if ranges and ranges[0][0] < min_hole:  # short holes at either end: read as data too
        ranges[0] = (0, ranges[0][1])
    if ranges and size - ranges[-1][1] < min_hole:
        ranges[-1] = (ranges[-1][0], size)
    if ranges == [(0, size)] or (not ranges and size < min_hole):
        return None
    return ranges


class Window:
    """`length` bytes of a file from its current offset, for the chunker's readinto."""

    def __init__(self, f: object, length: int) -> None:
        self._f, self._left = f, length

    def readinto(self, b: memoryview) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(b)[: self._left]
        n: int = self._f.readinto(view)  # type: ignore[attr-defined]
        self._left -= n
        return n


def zero_chunks(length: int, zero: bytes) -> Iterator[bytes]:
    """`length` bytes of hole as chunks of `zero` (one shared object: hashed once by
    whoever remembers it) and a shorter last one."""
    full, rest = divmod(length, len(zero))
    for _ in range(full):
        yield zero
    if rest:
        yield bytes(rest)


READ_BLOCK = 1 << 20
_ZEROS = bytes(READ_BLOCK)


def file_digest(fd: int) -> bytes:
    """BLAKE3 of a file's content read from `fd` to its end, its holes of 1 MiB and more
    hashed as the zeros they are without being read (restore --verify of a sparse disk
    image: reading 50 GiB of made-up zeros cost more than the restore)."""
    h = blake3.blake3()
    buf = bytearray(READ_BLOCK)
    view = memoryview(buf)
    size = os.fstat(fd).st_size
    pos = 0
    for start, end in data_ranges(fd, size, READ_BLOCK) or [(0, size)]:
        _zeros_into(h, start - pos)
        pos = _read_into(h, fd, start, end, view)
    _zeros_into(h, size - pos)
    _read_into(h, fd, size, None, view)  # whatever came after the stat
    return h.digest()


def _zeros_into(h: Any, n: int) -> None:
    while n > 0:
        h.update(_ZEROS[: min(n, READ_BLOCK)] if n < READ_BLOCK else _ZEROS)
        n -= READ_BLOCK


def _read_into(h: Any, fd: int, start: int, end: int | None, view: memoryview) -> int:
    """Hash [start, end) read from `fd` (to EOF with end None); the offset reached."""
    pos = start
    while end is None or pos < end:
        want = READ_BLOCK if end is None else min(READ_BLOCK, end - pos)
        n = os.preadv(fd, [view[:want]], pos)
        if n == 0:
            break
        h.update(view[:n])
        pos += n
    return pos
