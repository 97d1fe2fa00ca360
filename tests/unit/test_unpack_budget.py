"""Decoding a msgpack document takes at most FACTOR times its size in Python memory.

A writer holding the key can fill a tree, index file or snapshot with values that
are cheap to store and dear to hold (1 byte for an empty array, 56 decoded). Every
document ripcord decodes goes through `unpack`, which scans one over FREE bytes and
refuses it when its decoded cost would pass the bound. Measured here with tracemalloc
on hostile shapes of 68 KiB, and the scan's cost proved an upper bound of what msgpack
really allocates on random documents.
"""

from __future__ import annotations

import os
import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripcord.archive.node import decode_tree_data
from ripcord.errors import CorruptObject
from ripcord.repository.unpack import FACTOR, FREE, decoded_cost, unpack
from tests.memory import traced_peak

SIZE = FREE + 4096  # big enough to be scanned
SLACK = 2048  # what a call allocates beside the values it decodes


def array_of(item: bytes, total: int = SIZE) -> bytes:
    """A top-level array of copies of `item`, about `total` bytes long."""
    count = total // len(item)
    return b"\xdd" + struct.pack(">I", count) + item * count


HOSTILE = {
    "empty arrays": array_of(b"\x90"),
    "empty maps": array_of(b"\x80"),
    "negative fixints": array_of(b"\xe0"),
    "one-element arrays": array_of(b"\x91\x90"),
    "maps of an empty array": array_of(b"\x81\xa0\x90"),
    "maps of nil": array_of(b"\x81\xc0\xc0"),
    "two-character text": array_of(b"\xa2ab"),
    "non-ASCII text": array_of(b"\xa4\xf0\x9f\x98\x80"),
    "two-byte binaries": array_of(b"\xc4\x02ab"),
    "uint16s": array_of(b"\xcd\x12\x34"),
    "float32s": array_of(b"\xca\x00\x00\x00\x01"),
    "nested claims": (b"\xdd" + struct.pack(">I", SIZE)) * 1000 + bytes(SIZE - 5000),
    "a mixture": array_of(b"\x90\x80\xe0\xa2ab\x91\xc0\x81\xa1k\x90"),
}


@pytest.mark.parametrize("doc", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_document_is_refused_or_decoded_within_the_bound(doc: bytes) -> None:
    def run() -> object:
        try:
            return unpack(doc, "doc", strict_map_key=False)
        except CorruptObject as e:
            return e

    assert traced_peak(run) <= FACTOR * len(doc)


@pytest.mark.parametrize("shape", ["empty arrays", "empty maps", "negative fixints"])
def test_the_shapes_that_cost_most_are_refused(shape: str) -> None:
    with pytest.raises(CorruptObject, match="too many small values"):
        unpack(HOSTILE[shape], "tree 00", strict_map_key=False)


def test_an_honest_tree_of_20000_files_decodes_whole() -> None:
    nodes = [
        {
            "name": f"file-{i:06d}.txt".encode(),
            "type": "file",
            "mode": 0o100644,
            "uid": 1000,
            "gid": 1000,
            "user": "alice",
            "group": "staff",
            "mtime": 1_700_000_000_123_456_789 + i,
            "atime": 1_700_000_000_123_456_789,
            "ctime": 1_700_000_000_123_456_789 + i,
            "inode": 1_234_567 + i,
            "dev": 2049,
            "nlink": 1,
            "size": 12_345 + i,
            "content": [os.urandom(32)] if i % 3 else [],
            "hash": os.urandom(32),
            **({"sig": [100, 90, "text", False]} if i % 2 else {}),
        }
        for i in range(20_000)
    ]
    doc = bytes(msgpack.packb({"v": 1, "nodes": nodes}))
    assert decoded_cost(doc, "tree") < FACTOR * len(doc) / 1.5  # with room to spare
    assert unpack(doc, "tree", raw=False, strict_map_key=False)["nodes"] == nodes


def test_extension_types_are_refused() -> None:
    timestamp = b"\xd6\xff\x00\x00\x00\x01"
    with pytest.raises(CorruptObject, match="never writes"):
        decoded_cost(array_of(timestamp, FREE * 2), "doc")
    with pytest.raises(CorruptObject, match="never writes"):
        unpack(b"\x91\xd4\x05\x00", "doc")  # an extension type in a small document


def test_a_truncated_document_is_malformed_not_an_index_error() -> None:
    for doc in (b"\xdd\x00\x00\x00\x05", b"\xc5\xff", b"\xdb\x00\x00\x00\x09abc", b""):
        with pytest.raises(CorruptObject, match="malformed"):
            decoded_cost(doc, "doc")


FRAGMENTS = [
    b"\x90",
    b"\x80",
    b"\xe0",
    b"\x05",
    b"\xc0",
    b"\xc3",
    b"\xa0",
    b"\xa1a",
    b"\xa2ab",
    b"\xa1\xc3",
    b"\xa4\xf0\x9f\x98\x80",
    b"\xa3\xc4\x80z",
    b"\xc4\x00",
    b"\xc4\x02ab",
    b"\xc4\x20" + bytes(32),
    b"\xd9\x28" + b"x" * 40,
    b"\xcd\x12\x34",
    b"\xcf" + b"\xff" * 8,
    b"\xd3\x80" + bytes(7),
    b"\xca\x00\x00\x00\x01",
    b"\xcb" + bytes(8),
]


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A random msgpack value built of the fragments, in arrays and maps."""
    kind = draw(st.sampled_from(["leaf", "array", "map"] if depth < 3 else ["leaf"]))
    if kind == "leaf":
        return draw(st.sampled_from(FRAGMENTS))
    n = draw(st.integers(0, 12))
    items = [draw(documents(depth + 1)) for _ in range(n * (2 if kind == "map" else 1))]
    if kind == "map":  # keys must be hashable: text keys, distinct or not
        items[::2] = [b"\xa2k" + bytes([0x61 + i % 26]) for i in range(n)]
        header = b"\xde" + struct.pack(">H", n)
    else:
        header = b"\xdc" + struct.pack(">H", n)
    return header + b"".join(items)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(doc=documents())
def test_the_scan_costs_at_least_what_decoding_allocates(doc: bytes) -> None:
    cost = decoded_cost(doc, "doc")

    def decode() -> object:
        return msgpack.unpackb(doc, strict_map_key=False, unicode_errors="surrogateescape")

    assert traced_peak(decode) <= cost + SLACK


def test_a_tree_decoded_node_by_node_is_held_to_the_same_budget() -> None:
    """Restore, ls and find decode a tree a node at a time (decode_tree_data), not with
    unpack: a key beside the nodes, of empty arrays, would be decoded whole otherwise."""
    junk: list[list[object]] = [[] for _ in range(SIZE)]
    data = bytes(msgpack.packb({"v": 1, "nodes": [], "junk": junk}))

    def run() -> object:
        with pytest.raises(CorruptObject, match="too many small values"):
            decode_tree_data(data, "tree 00")
        return None

    assert traced_peak(run) <= FACTOR * len(data)
