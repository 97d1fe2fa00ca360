"""The change guard's signal of a file's content, taken as the backup reads it.

A `Signal` (docs/FORMAT.md §Trees) lets the guard tell an edit from an encryption
by comparing a file's signal with the one it had in the parent snapshot, without
reading old content again. It is measured from the bytes that stream past for
chunking anyway, never by reading a file twice:

- `head`: compressibility of the first HEAD (1 KiB) bytes. Ransomware that encrypts
  only the start of each file (to be fast) shows here, and in `kind`.
- `body`: compressibility of SAMPLE (256-byte) samples spread evenly over the content
  after its first SKIP (4 KiB), the first sample right there and the last at the end:
  MIN_SAMPLES (4) for a file up to 1 MiB, one per STRIDE (256 KiB) beyond, at most
  MAX_SAMPLES (256); so at most 1 MiB is compressed per GiB read, and 64 KiB per
  file. Whole-file encryption shows here, and encryption of the first 4 KiB alone
  leaves it as it was. A file of at most 5 KiB has body = head: a second figure
  would cost a second compression of every small file and tell little the head
  does not (encrypting a 5 KiB file's first 4 KiB is encrypting most of it).
- `kind`: what the first bytes say the file is (ripcord.archive.kinds).
- `note`: small text that reads like a ransom note (ripcord.archive.notes).

Compressibility is zstd level 1's output size, less its fixed 9-byte frame overhead,
over the input size, on a 0..255 scale (255: incompressible). zstd 1 is ~3x cheaper
than zlib 1 on 4 KiB of text and ~15x on random bytes, and its entropy coding tells
base64 or hex (compressible by ~25 %) from random, which LZ4, or zstd's negative
("fast") levels that skip entropy coding, would call random. Head and body are 1 KiB
each because zstd needs about that much to tell: base64 alone in 256 bytes reads as
233 of 255, in 1 KiB as 201 and in 4 KiB as 193 (text: 178, 147, 133). 4 KiB would
sharpen that a little at twice the cost, and compressing is most of what taking
signals costs a first backup of many small files (bench/RESULTS.md §Signals).
Content shorter than MIN_CONTENT (128 bytes) gets no signal: there zstd finds too
little to say anything (English text of 64-127 bytes measures 214 of 255 at the
median and up to 255, like random bytes; from 128 bytes on at most 235).
"""

from __future__ import annotations

import threading

import zstandard

from ripcord.archive.kinds import KINDS, PACKED, TEXT, kind_of
from ripcord.archive.node import SIG_SCALE, Signal
from ripcord.archive.notes import NOTE_MAX, is_note

__all__ = ["KINDS", "PACKED", "Sampler", "compressibility", "is_note", "kind_of", "signal_of"]

HEAD = 1024
SKIP = 4096
SAMPLE = 256
MIN_SAMPLES = 4
STRIDE = 256 * 1024
MAX_SAMPLES = 256
MIN_CONTENT = 128
_FRAME_OVERHEAD = 9  # zstd frame header without content size, plus one block header

_local = threading.local()


def compressibility(data: bytes | bytearray) -> int:
    """round(compressed / plain * 255), at most 255: 255 is random-looking."""
    if not data:
        return SIG_SCALE
    compressor: zstandard.ZstdCompressor | None = getattr(_local, "zstd", None)
    if compressor is None:  # a ZstdCompressor must not be shared between threads
        compressor = zstandard.ZstdCompressor(level=1, write_content_size=False)
        _local.zstd = compressor
    packed = len(compressor.compress(data)) - _FRAME_OVERHEAD
    return min(SIG_SCALE, max(0, round(packed * SIG_SCALE / len(data))))


def body_spots(size: int) -> list[tuple[int, int]]:
    """The [start, end) ranges whose bytes make the body of content of `size` bytes;
    empty when the body is the head."""
    room = size - SKIP
    if room <= MIN_SAMPLES * SAMPLE:
        return []
    n = min(MAX_SAMPLES, max(MIN_SAMPLES, size // STRIDE))
    step = (room - SAMPLE) / (n - 1)
    return [(SKIP + a, SKIP + a + SAMPLE) for a in (round(i * step) for i in range(n))]


class Sampler:
    """Takes a signal from content fed in order, piece by piece (chunks as they
    stream past), holding only the head, the samples and, for content that may be a
    ransom note, the pieces of the first NOTE_MAX bytes.

    Content that arrives in one piece (every small file) is measured at the end
    straight from that piece, which its caller holds anyway: no copies."""

    def __init__(self, size: int) -> None:
        """`size` is the length expected (from stat): it places the samples."""
        self._size = size
        self._first: bytes | None = None  # the only piece so far, not yet sampled
        self._spots: list[tuple[int, int]] = []
        self._next = 0  # the first spot not fully taken
        self._seen = 0
        self._head = b""
        self._body = bytearray()
        self._small: list[bytes] | None = []

    def feed(self, data: bytes) -> None:
        if self._seen == 0 and self._first is None:
            self._first = data
            return
        if self._first is not None:
            first, self._first = self._first, None
            self._spots = body_spots(self._size)
            self._take(first)
        self._take(data)

    def _take(self, data: bytes) -> None:
        start, end = self._seen, self._seen + len(data)
        if start < HEAD:
            self._head += data[: HEAD - start]
        spots = self._spots
        while self._next < len(spots):
            a, b = spots[self._next]
            if a >= end:
                break
            self._body += data[max(a, start) - start : min(b, end) - start]
            if b > end:
                break  # the sample goes on in the next piece
            self._next += 1
        if self._small is not None and end <= NOTE_MAX:
            self._small.append(data)
        else:
            self._small = None
        self._seen = end

    def signal(self) -> Signal | None:
        """The signal of everything fed; None for content shorter than MIN_CONTENT."""
        if self._first is not None:
            return signal_of(self._first)
        if self._seen < MIN_CONTENT:
            return None
        small = b"".join(self._small) if self._small is not None else None
        return _signal(self._head, self._body if self._spots else None, small)


def signal_of(data: bytes) -> Signal | None:
    """The signal of content held whole."""
    size = len(data)
    if size < MIN_CONTENT:
        return None
    spots = body_spots(size)
    body = b"".join([data[a:b] for a, b in spots]) if spots else None
    return _signal(data[:HEAD], body, data if size <= NOTE_MAX else None)


def _signal(head_bytes: bytes, body: bytes | bytearray | None, small: bytes | None) -> Signal:
    """`body` None: the content is the head."""
    head = compressibility(head_bytes)
    kind = kind_of(head_bytes)
    note = kind == TEXT and small is not None and is_note(small)
    return Signal(head, compressibility(body) if body else head, kind, note)
