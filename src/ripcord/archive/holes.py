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
