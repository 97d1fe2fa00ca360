"""Reed-Solomon parity for a pack, so that bit rot or a torn write inside it
can be undone without a replica (docs/FORMAT.md §Parity).

A pack of `size` bytes is cut into `k` data shares of `share` bytes (the last
one padded with zeros); zfec computes `m - k` parity shares from them, and any
`k` of the `m` shares give the pack back. A sealed header lists the BLAKE3 of
every share, so a damaged share is recognised and left out rather than
poisoning the decode. Layout of `parity/<id[0:2]>/<pack id>`::

    "RCR1" | n (u32 LE) | sealed header (n bytes) | parity shares | sealed header | n | "RCR1"

The header is stored at both ends, so that a flip in one copy or a cut tail
costs nothing but the shares it hits.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import blake3
import msgpack
import zfec

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import content_id, is_content_id, open_msgpack, seal

PARITY_AAD = b"ripcord v1 parity"
PARITY_VERSION = 1
MAGIC = b"RCR1"
MAX_DATA_SHARES = 100  # k for packs of 400 KiB and more; at 100% parity m = 200 <= 256
MIN_SHARE = 4096  # a disk sector: finer shares would not survive more of a sector's loss
MAX_SHARES = 256  # zfec's limit on m
MAX_PACK = 1 << 30  # packs are ~8 MiB; a header claiming more is hostile
MAX_HEADER = 64 << 10  # 256 share hashes and a few fields fit well within this
HASH_SIZE = 32


def parity_name(pack_id: str) -> str:
    return f"parity/{pack_id[:2]}/{pack_id}"


@dataclass(frozen=True)
class Layout:
    """How a pack is cut: `k` data shares and `m - k` parity shares of `share` bytes."""

    size: int
    k: int
    m: int
    share: int

    @classmethod
    def of(cls, size: int, percent: int) -> Layout:
        """Shares no smaller than a sector and at most 100 of them; parity shares are
        at least `percent` of the data shares, and at least one."""
        if not 1 <= percent <= 100:
            raise ValueError(f"parity must be 1% to 100%, not {percent}%")
        k = max(1, min(MAX_DATA_SHARES, math.ceil(size / MIN_SHARE)))
        share = max(1, math.ceil(size / k))
        k = max(1, math.ceil(size / share))  # rounding may leave the last share empty
        return cls(size, k, k + math.ceil(k * percent / 100), share)

    @property
    def parity(self) -> int:
        """Damaged shares this layout survives."""
        return self.m - self.k


@dataclass(frozen=True)
class Header:
    pack: str  # the pack's id: parity is bound to its pack, not only to its name
    layout: Layout
    hashes: tuple[bytes, ...]  # BLAKE3 of each of the m shares, data shares first


def _data_shares(pack: bytes, layout: Layout) -> list[bytes]:
    s = layout.share
    shares = [pack[i * s : (i + 1) * s] for i in range(layout.k)]
    return [sh + bytes(s - len(sh)) if len(sh) < s else sh for sh in shares]


def encode_parity(key: bytes, pack_id: str, pack: bytes, percent: int) -> bytes:
    """The parity object of a pack as stored."""
    layout = Layout.of(len(pack), percent)
    data = _data_shares(pack, layout)
    parity = zfec.Encoder(layout.k, layout.m).encode(data, list(range(layout.k, layout.m)))
    doc = {
        "v": PARITY_VERSION,
        "pack": pack_id,
        "size": layout.size,
        "k": layout.k,
        "m": layout.m,
        "share": layout.share,
        "hashes": [blake3.blake3(sh).digest() for sh in (*data, *parity)],
    }
    header = seal(key, bytes(msgpack.packb(doc)), PARITY_AAD)
    framed = struct.pack("<I", len(header))
    return b"".join([MAGIC, framed, header, *parity, header, framed, MAGIC])


def _header_at(key: bytes, obj: bytes, front: bool, what: str) -> tuple[Header, int]:
    """One copy of the header, and its sealed length (the shares start at 8 + it)."""
    magic, raw_n = (obj[:4], obj[4:8]) if front else (obj[-4:], obj[-8:-4])
    if len(obj) < 8 or magic != MAGIC:
        raise CorruptObject(f"{what}: not a ripcord parity object")
    (n,) = struct.unpack("<I", raw_n)
    if n > MAX_HEADER or 8 + n > len(obj):
        raise CorruptObject(f"{what}: header length out of range")
    sealed = obj[8 : 8 + n] if front else obj[-8 - n : -8]
    doc = open_msgpack(key, sealed, PARITY_AAD, what, MAX_HEADER)
    return _header_from_wire(doc, what), n


def _header_from_wire(doc: object, what: str) -> Header:
    try:
        if not isinstance(doc, dict) or doc.get("v") != PARITY_VERSION:
            raise ValueError("not a version 1 header")
        size, k, m, share = (doc[f] for f in ("size", "k", "m", "share"))
        if any(type(v) is not int for v in (size, k, m, share)):
            raise ValueError("sizes must be integers")
        if not (1 <= k < m <= MAX_SHARES and 0 < size <= MAX_PACK and 0 < share <= size):
            raise ValueError("layout out of range")
        if share * (k - 1) >= size or share * k < size:
            raise ValueError("shares do not cover the pack")
        hashes = doc["hashes"]
        if not isinstance(hashes, list) or len(hashes) != m:
            raise ValueError("one hash per share expected")
        if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes):
            raise ValueError("bad share hash")
        if not is_content_id(doc["pack"]):
            raise ValueError("bad pack id")
        return Header(doc["pack"], Layout(size, k, m, share), tuple(hashes))
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptObject(f"{what}: malformed parity header ({e})") from None


def read_header(key: bytes, obj: bytes, pack_id: str, what: str) -> tuple[Header, int]:
    """The header from whichever copy is intact, and where the parity shares start."""
    errors = []
    for front in (True, False):
        try:
            header, n = _header_at(key, obj, front, what)
        except CorruptObject as e:
            errors.append(str(e))
            continue
        if header.pack != pack_id:
            raise CorruptObject(f"{what}: belongs to pack {header.pack}, not {pack_id}")
        return header, 8 + n
    raise CorruptObject(f"{what}: both copies of its header are unreadable ({errors[-1]})")


@dataclass(frozen=True)
class Recovery:
    """What parity made of a damaged pack: its original bytes, or why not."""

    header: Header
    damaged: tuple[int, ...]  # shares (0..m-1) that failed their hash
    data: bytes | None
    reason: str = ""


def recover(header: Header, pack: bytes, parity_obj: bytes, start: int) -> Recovery:
    """Rebuild a pack from what is left of it (`pack` may be cut short or flipped) and
    the parity shares at `start` in `parity_obj` (equally suspect)."""
    lay = header.layout
    s = lay.share
    shares: list[bytes] = []
    for i in range(lay.k):  # a short or missing share is padded, then fails its hash
        sh = pack[i * s : min((i + 1) * s, lay.size)]
        shares.append(sh + bytes(s - len(sh)))
    for j in range(lay.parity):
        sh = parity_obj[start + j * s : start + (j + 1) * s]
        shares.append(sh + bytes(s - len(sh)))
    good = [i for i, sh in enumerate(shares) if blake3.blake3(sh).digest() == header.hashes[i]]
    damaged = tuple(sorted(set(range(lay.m)) - set(good)))
    if len(good) < lay.k:
        why = (
            f"{len(damaged)} of its {lay.m} shares are damaged;"
            f" parity restores at most {lay.parity}"
        )
        return Recovery(header, damaged, None, why)
    use = good[: lay.k]  # data shares first: zfec then only computes the missing ones
    out = zfec.Decoder(lay.k, lay.m).decode([shares[i] for i in use], use)
    data = b"".join(out)[: lay.size]
    if content_id(data) != header.pack:  # the shares matched their hashes: a bug or forgery
        return Recovery(header, damaged, None, "the rebuilt pack does not match its id")
    return Recovery(header, damaged, data)
