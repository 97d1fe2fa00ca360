"""Packs: frames of compressed, encrypted blobs with a self-describing trailer.

Layout (docs/FORMAT.md §Packs)::

    frame* | sealed trailer | trailer length (u32 LE) | b"RCP1"

A frame is one sealed unit; its plaintext is a compression byte followed by
the (compressed) concatenation of one or more blobs. Large chunks get a frame
each; small blobs share a frame so that thousands of tiny files compress
together rather than one by one, while each stays addressable on its own.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import zstandard

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import open_sealed, seal
from ripcord.repository.unpack import unpack

MAGIC = b"RCP1"
FRAME_AAD = b"ripcord v1 frame"
TRAILER_AAD = b"ripcord v1 pack trailer"
RAW = 0
ZSTD = 1
DATA = 0
TREE = 1
MAX_FRAME = 64 << 20  # bound on any frame read back, stored or plain
MAX_TRAILER = 64 << 20
# packs are ~8 MiB of frames (each at most MAX_FRAME) and a trailer: a pack read whole
# (check --read-data, parity healing) larger than this is refused, not held in memory
MAX_PACK_BYTES = MAX_FRAME * 2 + MAX_TRAILER
BLOB_ID_SIZE = 32


@dataclass(frozen=True, slots=True)
class BlobEntry:
    """Where a blob lives inside its frame."""

    id: bytes
    type: int
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Frame:
    offset: int
    length: int
    blobs: tuple[BlobEntry, ...]


def compress_frame(plain: bytes, level: int) -> tuple[bytes, int]:
    """Compress when it helps; return the frame plaintext and the stored size."""
    packed = zstandard.ZstdCompressor(level=level).compress(plain)
    if len(packed) < len(plain) * 0.97:
        return bytes([ZSTD]) + packed, len(packed)
    return bytes([RAW]) + plain, len(plain)


def seal_frame(key: bytes, plain: bytes, level: int) -> bytes:
    body, _ = compress_frame(plain, level)
    return seal(key, body, FRAME_AAD)


def open_frame(key: bytes, data: bytes, what: str) -> bytes:
    body = open_sealed(key, data, FRAME_AAD, what)
    if not body:
        raise CorruptObject(f"{what}: empty frame")
    if body[0] == RAW:
        return body[1:]
    if body[0] == ZSTD:
        try:
            # max_output_size only bounds frames without a content size in their header
            if zstandard.frame_content_size(body[1:]) > MAX_FRAME:
                raise CorruptObject(f"{what}: frame claims more than {MAX_FRAME} bytes")
            dctx = zstandard.ZstdDecompressor()
            return bytes(dctx.decompress(body[1:], max_output_size=MAX_FRAME))
        except zstandard.ZstdError as e:
            raise CorruptObject(f"{what}: cannot decompress ({e})") from None
    raise CorruptObject(f"{what}: unknown compression {body[0]}")


def frames_to_wire(frames: Sequence[Frame]) -> list[Any]:
    return [
        [f.offset, f.length, [[b.id, b.type, b.offset, b.length] for b in f.blobs]] for f in frames
    ]


def frames_from_wire(raw: Any, what: str) -> list[Frame]:
    """Validate untrusted frame lists (trailers and index files share them)."""
    try:
        if not isinstance(raw, list):
            raise TypeError("frames are not a list")
        frames = []
        for off, length, blobs in raw:
            if not (type(off) is int and type(length) is int):  # bool is no offset
                raise ValueError("offsets must be integers")
            if not isinstance(blobs, list):
                raise TypeError("blobs are not a list")
            if off < 0 or not 0 < length <= MAX_FRAME:
                raise ValueError("frame out of range")
            entries = []
            for bid, btype, boff, blen in blobs:
                if not isinstance(bid, bytes) or len(bid) != BLOB_ID_SIZE:
                    raise ValueError("bad blob id")
                if type(btype) is not int or btype not in (DATA, TREE) or type(boff) is not int:
                    raise ValueError("bad blob type")
                if type(blen) is not int or boff < 0 or blen < 0 or boff + blen > MAX_FRAME:
                    raise ValueError("blob out of range")
                entries.append(BlobEntry(bid, btype, boff, blen))
            frames.append(Frame(off, length, tuple(entries)))
        return frames
    except (TypeError, ValueError) as e:
        raise CorruptObject(f"{what}: malformed blob list ({e})") from None


def build_trailer(key: bytes, frames: Sequence[Frame]) -> bytes:
    sealed = seal(key, bytes(msgpack.packb(frames_to_wire(frames))), TRAILER_AAD)
    return sealed + struct.pack("<I", len(sealed)) + MAGIC


def read_trailer(key: bytes, pack: bytes, what: str) -> list[Frame]:
    """Parse a whole pack's trailer: how an index is rebuilt from packs."""
    n = trailer_length(pack[-8:], len(pack), what)
    return open_trailer(key, pack[-8 - n : -8], what)


def trailer_length(tail: bytes, pack_size: int, what: str) -> int:
    """The sealed trailer's length, from the pack's last 8 bytes (a ranged read)."""
    if len(tail) != 8 or pack_size < 8 or tail[-4:] != MAGIC:
        raise CorruptObject(f"{what}: not a ripcord pack")
    (n,) = struct.unpack("<I", tail[:4])
    if n > MAX_TRAILER or n > pack_size - 8:
        raise CorruptObject(f"{what}: trailer length out of range")
    return int(n)


def open_trailer(key: bytes, sealed: bytes, what: str) -> list[Frame]:
    """The frame list from a sealed trailer."""
    plain = open_sealed(key, sealed, TRAILER_AAD, what)
    return frames_from_wire(unpack(plain, f"{what} trailer"), what)
