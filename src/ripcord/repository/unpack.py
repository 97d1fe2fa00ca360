"""msgpack documents decoded within a memory budget proportional to their size.

Python holds a decoded value in far more memory than its stored form: an empty
array is 1 byte stored and 56 decoded (plus 8 for its place in the parent), an empty
map 64, a small negative integer 32. A writer holding the key can fill a tree (up
to 64 MiB decompressed) with them, which decodes to 64-85 times its size. So
before a document over FREE bytes is decoded, one pass over its bytes adds up what
every value will cost decoded (an upper bound, measured on CPython), and a document
that would cost more than FACTOR times its size is refused. Honest documents cost
far less: trees about 5 times their size, measured, and at most 15 by this bound
(12 for a tree of 20,000 files). Smaller documents are decoded unscanned: their worst
case is a few MiB.

msgpack extension types are refused (ripcord never writes them): by the scan, and
by the decoder's ext_hook in documents too small to be scanned (but for timestamps,
which msgpack decodes itself, and every parser's type checks refuse).
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

from ripcord.errors import CorruptObject

FACTOR = 24  # most a document may cost decoded, per stored byte (scanned ones)
FREE = 64 << 10  # documents up to this size are decoded unscanned (worst: ~6 MiB)

_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from

# What a value costs decoded, in bytes, beside the 8 of its place in a container
# (counted with the container). Measured with tracemalloc on CPython 3.11, rounded up:
# a dict is presized for its length, and may briefly hold two tables while it grows.
_LIST, _SLOT = 56, 8
_DICT, _PAIR = 176, 64  # a dict of n pairs: at most 176 + 64 n (small ones: table below)
_SMALL_DICT = [72, 232, 232, 232, 232, 232, 360, 360, 360, 360, 360, 640, 640, 640, 640, 640]
_ASCII = 52  # ASCII text, beside one byte a character
_STR, _CHAR = 80, 4  # other text: any UTF-8 byte may become a 4-byte character
_BYTES = 40
_NUMBER = 40  # an int outside -5..256, or a float


def _tables() -> tuple[list[int], list[int], list[int]]:
    """For each first byte of a value whose size it alone decides: its size, its cost
    decoded and how many values it contains (0 size: read a length after it)."""
    size, cost, more = [0] * 256, [0] * 256, [0] * 256
    for b in range(0x80):  # positive fixint: cached by Python
        size[b] = 1
    for n in range(16):
        size[0x80 | n], cost[0x80 | n], more[0x80 | n] = 1, _SMALL_DICT[n], 2 * n
        size[0x90 | n], cost[0x90 | n], more[0x90 | n] = 1, _LIST + _SLOT * n, n
    for b in (0xC0, 0xC2, 0xC3):  # nil, false, true
        size[b] = 1
    for b, n in ((0xCA, 5), (0xCB, 9), (0xCC, 2), (0xCD, 3), (0xCE, 5), (0xCF, 9)):
        size[b], cost[b] = n, _NUMBER
    for b, n in ((0xD0, 2), (0xD1, 3), (0xD2, 5), (0xD3, 9)):
        size[b], cost[b] = n, _NUMBER
    for b in range(0xE0, 0x100):  # negative fixint
        size[b], cost[b] = 1, _NUMBER
    return size, cost, more


_SIZE, _COST, _MORE = _tables()


def decoded_cost(data: bytes, what: str) -> int:
    """An upper bound on the bytes Python allocates decoding `data` (one document)."""
    i, end, pending, total = 0, len(data), 1, 0
    size, cost, more = _SIZE, _COST, _MORE
    try:
        while pending:
            b = data[i]
            n = size[b]
            if n:
                i += n
                total += cost[b]
                pending += more[b] - 1
                continue
            pending -= 1
            if 0xA0 <= b <= 0xBF:
                k, i = b & 0x1F, i + 1
            elif b in (0xC4, 0xD9):
                k, i = data[i + 1], i + 2
            elif b in (0xC5, 0xDA):
                k, i = _U16(data, i + 1)[0], i + 3
            elif b in (0xC6, 0xDB):
                k, i = _U32(data, i + 1)[0], i + 5
            elif b in (0xDC, 0xDD, 0xDE, 0xDF):
                wide = b in (0xDD, 0xDF)
                k = (_U32 if wide else _U16)(data, i + 1)[0]
                i += 5 if wide else 3
                if b >= 0xDE:
                    pending += 2 * k
                    total += _DICT + _PAIR * k
                else:
                    pending += k
                    total += _LIST + _SLOT * k
                continue
            else:  # 0xC1 (never used) and the extension types
                raise ValueError(f"type byte 0x{b:02x} at {i}, which ripcord never writes")
            if b <= 0xC6:
                total += _BYTES + k
            elif not data[i : i + k].isascii():
                total += _STR + _CHAR * k
            elif k > 1:  # '' and one ASCII character are cached
                total += _ASCII + k
            i += k
    except (IndexError, struct.error):
        raise CorruptObject(f"{what}: malformed (truncated)") from None
    except ValueError as e:
        raise CorruptObject(f"{what}: malformed ({e})") from None
    if i > end:
        raise CorruptObject(f"{what}: malformed (truncated)")
    return total


def check_budget(data: bytes, what: str) -> None:
    """CorruptObject if decoding `data` would cost more than FACTOR times its size: for
    a decoder of its own (trees are decoded a node at a time), before it starts."""
    if len(data) > FREE and decoded_cost(data, what) > FACTOR * len(data):
        raise CorruptObject(
            f"{what}: malformed (would take over {FACTOR} times its {len(data)} bytes"
            " in memory: too many small values)"
        )


def unpack(data: bytes, what: str, **options: Any) -> Any:
    """Decode one msgpack document (msgpack.unpackb's `options`), refusing one that
    would cost more than FACTOR times its size decoded; CorruptObject names `what`."""
    check_budget(data, what)
    try:
        return msgpack.unpackb(data, ext_hook=_no_extensions, **options)
    except (ValueError, TypeError) as e:  # TypeError: an unhashable key (a list)
        raise CorruptObject(f"{what}: malformed ({e})") from None


def _no_extensions(code: int, data: bytes) -> Any:
    raise ValueError(f"extension type {code}, which ripcord never writes")
