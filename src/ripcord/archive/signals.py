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
- `note`: small text that reads like a ransom note (ripcord.archive.notes), looked
  for only where the caller asks: a backup asks for files new to a source that has
  a parent, as a note is a file the attack added and the guard looks at no other.

Compressibility is zstd level 1's output size, less its fixed 9-byte frame overhead,
over the input size, on a 0..255 scale (255: incompressible). zstd 1 is ~3x cheaper
than zlib 1 on 4 KiB of text and ~15x on random bytes, and its entropy coding tells
base64 or hex (compressible by ~25 %) from random, which LZ4, or zstd's negative
("fast") levels that skip entropy coding, would call random. Head and body are 1 KiB
each because zstd needs about that much to tell: base64 alone in 256 bytes reads as
233 of 255, in 1 KiB as 201 and in 4 KiB as 193 (text: 178, 147, 133).

Text (kinds.is_text: ASCII, UTF-8, UTF-16 or an 8-bit code page, nearly without
control bytes) is not compressed: it cannot look random, which is all the guard asks
of compressibility, and its head and body are written as TEXT_LEVEL (0). Encrypting
it makes it `data` with random-looking figures. That saves a zstd call (~4.5 µs) on
most files of an office tree, the most of what signals cost (bench/RESULTS.md
§Signals). Content of MIN_CONTENT (16) to MIN_MEASURED (128) bytes that is not text
is written as 255 without asking zstd, which cannot compress so little (every binary
file of 16-63 bytes on a Debian system measured 255); the guard does not count such
files as random-looking. Its kind still tells text from data: random bytes read as
text in 0.23 % of 16-byte and under 0.02 % of 24-byte draws, 3 % of 8-byte ones, so
content under 16 bytes gets no signal.
"""

from __future__ import annotations

import threading

import zstandard

from ripcord.archive.kinds import DATA, KINDS, PACKED, TEXT, is_text, kind_of
from ripcord.archive.node import SIG_SCALE, Signal
from ripcord.archive.notes import NOTE_MAX, is_note

__all__ = ["KINDS", "PACKED", "Sampler", "compressibility", "is_note", "kind_of", "signal_of"]

HEAD = 1024
SKIP = 4096
SAMPLE = 256
MIN_SAMPLES = 4
STRIDE = 256 * 1024
MAX_SAMPLES = 256
MIN_CONTENT = 16  # shorter content gets no signal
MIN_MEASURED = 128  # shorter content that is not text is not compressed
_FRAME_OVERHEAD = 9  # zstd frame header without content size, plus one block header
TEXT_LEVEL = 0  # the compressibility written for text, which is not compressed

_TEXT = Signal(TEXT_LEVEL, TEXT_LEVEL, TEXT)
_TEXT_NOTE = Signal(TEXT_LEVEL, TEXT_LEVEL, TEXT, True)

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


def sample_starts(size: int) -> list[int]:
    """Where the SAMPLE-byte samples that make the body of content of `size` bytes
    start; empty when the body is the head."""
    room = size - SKIP
    if room <= MIN_SAMPLES * SAMPLE:
        return []
    n = min(MAX_SAMPLES, max(MIN_SAMPLES, size // STRIDE))
    step = (room - SAMPLE) / (n - 1)
    if n == 4:  # MIN_SAMPLES: content up to 1 MiB, nearly every file; spelled out, as
        # a comprehension costs more than the rest of the sampling (bench/RESULTS.md)
        return [SKIP, SKIP + round(step), SKIP + round(2 * step), SKIP + round(3 * step)]
    return [SKIP + round(i * step) for i in range(n)]


class Sampler:
    """Takes a signal from content fed in order, piece by piece (chunks as they stream
    past). Content that arrives in one piece (every small file) is measured at the end
    straight from that piece, which its caller holds anyway: no copies, and no more
    state than this object's four slots."""

    __slots__ = ("_first", "_notes", "_size", "_stream")

    def __init__(self, size: int, notes: bool = True) -> None:
        """`size` is the length expected (from stat): it places the samples. `notes`:
        look for a ransom note (only a file new to the source can be one)."""
        self._size, self._notes = size, notes
        self._first: bytes | None = None  # the only piece so far, not yet sampled
        self._stream: _Stream | None = None

    def feed(self, data: bytes) -> None:
        if self._stream is not None:
            self._stream.take(data)
        elif self._first is None:
            self._first = data
        else:
            self._stream = _Stream(self._size, self._notes)
            self._stream.take(self._first)
            self._first = None
            self._stream.take(data)

    def signal(self) -> Signal | None:
        """The signal of everything fed; None for content shorter than MIN_CONTENT."""
        if self._stream is not None:
            return self._stream.signal()
        return signal_of(self._first, self._notes) if self._first is not None else None


class _Stream:
    """Content of more than one piece: holds only the head, the samples and, for content
    that may be a ransom note, the pieces of the first NOTE_MAX bytes."""

    def __init__(self, size: int, notes: bool) -> None:
        self._starts = sample_starts(size)
        self._next = 0  # the first spot not fully taken
        self._seen = 0
        self._head = b""
        self._body = bytearray()
        self._small: list[bytes] | None = [] if notes else None

    def take(self, data: bytes) -> None:
        start, end = self._seen, self._seen + len(data)
        if start < HEAD:
            self._head += data[: HEAD - start]
        starts = self._starts
        while self._next < len(starts):
            a = starts[self._next]
            b = a + SAMPLE
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
        if self._seen < MIN_CONTENT:
            return None
        small = b"".join(self._small) if self._small is not None else None
        return _signal(self._head, self._body if self._starts else None, small)


def signal_of(data: bytes, notes: bool = True) -> Signal | None:
    """The signal of content held whole; `notes` as for Sampler."""
    size = len(data)
    if size < MIN_CONTENT:
        return None
    starts = sample_starts(size)
    body = b"".join([data[a : a + SAMPLE] for a in starts]) if starts else None
    return _signal(data[:HEAD], body, data if notes and size <= NOTE_MAX else None)


def _signal(head_bytes: bytes, body: bytes | bytearray | None, small: bytes | None) -> Signal:
    """`body` None (or empty: the file shrank while read): the content is the head.
    `small`: the whole content, where it may be a ransom note."""
    kind = kind_of(head_bytes)
    if kind == TEXT:
        note = small is not None and is_note(small)
        if not body or is_text(body, len(body)):
            return _TEXT_NOTE if note else _TEXT  # the common case, built once
        return Signal(TEXT_LEVEL, compressibility(body), TEXT, note)
    if kind != DATA and is_text(head_bytes):  # text after a magic number: RTF, PGP armour
        head = TEXT_LEVEL
    elif len(head_bytes) < MIN_MEASURED:  # then there is no body either
        head = SIG_SCALE
    else:
        head = compressibility(head_bytes)
    if not body:
        return Signal(head, head, kind)
    return Signal(head, TEXT_LEVEL if is_text(body, len(body)) else compressibility(body), kind)
