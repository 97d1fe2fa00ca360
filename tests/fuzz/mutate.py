"""Byte and structure mutations for the fuzz tests, as hypothesis strategies.

Besides random edits, mutations splice in the shapes a hostile writer would
choose: msgpack headers claiming 4 GiB of elements, nesting thousands deep,
ints and floats at the edges, the timestamp extension, broken UTF-8.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack
from hypothesis import strategies as st

from tests.strategies import junk

HOSTILE_FRAGMENTS = [
    b"\xdd\xff\xff\xff\xff",  # array32 claiming 4 Gi elements
    b"\xdf\xff\xff\xff\xff",  # map32 claiming 4 Gi pairs
    b"\xc6\xff\xff\xff\xff",  # bin32 claiming 4 GiB
    b"\xdb\xff\xff\xff\xff",  # str32 claiming 4 GiB
    b"\x91" * 5000,  # arrays nested 5000 deep
    b"\x81\xa1a" * 3000,  # maps nested 3000 deep
    b"\xcb" + struct.pack(">d", float("inf")),
    b"\xcb" + struct.pack(">d", float("nan")),
    b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff",  # 2**64 - 1
    b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00",  # -2**63
    b"\xd6\xff\x00\x00\x00\x00",  # timestamp extension: decodes to msgpack.Timestamp
    b"\xc7\x03\x05abc",  # an unknown extension type
    b"\xa2\xff\xfe",  # text that is not UTF-8
    b"\xc1",  # the one byte msgpack never uses
    b"\xa2..",
    b"\xa3a/b",
    b"\xc4\x02..",
    b"\xc4\x03a\x00b",
]

DEEP_VALUES: list[Any] = [
    "..",
    b"..",
    b"/etc/passwd",
    b"a/../../b",
    b"x\x00y",
    b"\x1b[31mred",
    -1,
    2**64 - 1,
    float("inf"),
    [],
    {},
    None,
    True,
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` after one to four edits (never unchanged)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "fragment", "cut", "truncate", "dup"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and out:
            out[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xC0, 0xDD, 0xDF, 0x91]))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "fragment":
            out[at:at] = draw(st.sampled_from(HOSTILE_FRAGMENTS))
        elif op == "cut":
            del out[at : at + draw(st.integers(1, 64))]
        elif op == "truncate":
            del out[at:]
        elif op == "dup":
            out[at:at] = out[at : at + draw(st.integers(1, 64))]
    if bytes(out) == data:
        out.append(0)
    return bytes(out)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a decoded document a value could be swapped."""
    out = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*here, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _replace(doc[head], rest, new)}
    return [*doc[:head], _replace(doc[head], rest, new), *doc[head + 1 :]]


@st.composite
def restructured(draw: st.DrawFn, plain: bytes) -> bytes:
    """The msgpack document `plain` with one value anywhere in it replaced or dropped."""
    doc = msgpack.unpackb(plain, raw=False, strict_map_key=False, unicode_errors="surrogateescape")
    path = draw(st.sampled_from(_paths(doc)))
    new = draw(st.sampled_from(DEEP_VALUES) | junk)
    if path and draw(st.booleans()):  # drop it instead
        container = doc
        for p in path[:-1]:
            container = container[p]
        shrunk = (
            {k: v for k, v in container.items() if k != path[-1]}
            if isinstance(container, dict)
            else [v for i, v in enumerate(container) if i != path[-1]]
        )
        doc = _replace(doc, path[:-1], shrunk)
    else:
        doc = _replace(doc, path, new)
    return bytes(msgpack.packb(doc, unicode_errors="surrogateescape"))
