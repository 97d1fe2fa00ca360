"""Hypothesis strategies and byte-mangling helpers shared by the format tests.

Valid values come from here so that every round-trip test draws from the same
idea of "a well-formed object"; `junk` is what a hostile repository could
hand us after msgpack decoding.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgpack
from hypothesis import strategies as st

from ripcord.archive.node import (
    BLOCK,
    CHAR,
    DIR,
    FIFO,
    FILE,
    MAX_KIND,
    SIG_SCALE,
    SOCKET,
    SYMLINK,
    Node,
    Signal,
)
from ripcord.repository.pack import BLOB_ID_SIZE, DATA, MAX_FRAME, TREE, BlobEntry, Frame
from ripcord.repository.snapshots import Snapshot

keys = st.binary(min_size=32, max_size=32)
blob_ids = st.binary(min_size=BLOB_ID_SIZE, max_size=BLOB_ID_SIZE)
hex_ids = st.text("0123456789abcdef", min_size=64, max_size=64)
u32 = st.integers(0, 2**32 - 1)
owner_ids = st.integers(0, 2**32 - 2)  # uid_t/gid_t; 2**32 - 1 is (uid_t)-1, "leave unchanged"
i64 = st.integers(-(2**63), 2**63 - 1)
# msgpack cannot encode lone surrogates
texts = st.text(st.characters(codec="utf-8"), max_size=20)

# 64 characters that look like an id to a careless parser ('0x…', '_', spaces, capitals)
id_lookalikes = st.text("0123456789abcdefABCDEFx_ +-", min_size=64, max_size=64)

_scalars = (
    id_lookalikes
    | st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=True)
    | texts
    | st.binary(max_size=40)
)
junk: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(texts | st.binary(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
"""Anything msgpack can carry, nested."""


def roundtrip(value: Any) -> Any:
    """What a decoder sees after `value` went through msgpack (tuples become lists)."""
    return msgpack.unpackb(msgpack.packb(value), strict_map_key=False)


json_junk: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | id_lookalikes,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
"""Anything JSON can carry, nested."""


def spoil(
    data: st.DataObject, doc: dict[str, Any], values: st.SearchStrategy[Any] = junk
) -> dict[str, Any]:
    """A copy of `doc` with one field dropped or replaced by one of `values`."""
    out = dict(doc)
    field = data.draw(st.sampled_from(sorted(out)), label="field")
    if data.draw(st.booleans(), label="drop"):
        del out[field]
    else:
        out[field] = data.draw(values, label="junk")
    return out


def flip_bit(data: bytes, bit: int) -> bytes:
    """`data` with one bit inverted; `bit` is taken modulo the bit length."""
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@st.composite
def blob_entries(draw: st.DrawFn) -> BlobEntry:
    offset = draw(st.integers(0, MAX_FRAME))
    length = draw(st.integers(0, MAX_FRAME - offset))
    return BlobEntry(draw(blob_ids), draw(st.sampled_from([DATA, TREE])), offset, length)


frames = st.builds(
    Frame,
    offset=u32,
    length=st.integers(1, MAX_FRAME),
    blobs=st.lists(blob_entries(), max_size=4).map(tuple),
)
frame_lists = st.lists(frames, max_size=5)

# one path component: anything but '/', NUL, '.' and '..'
node_names = st.binary(min_size=1, max_size=255).filter(
    lambda n: b"/" not in n and b"\0" not in n and n not in (b".", b"..")
)


signals = st.builds(
    Signal,
    st.integers(0, SIG_SCALE),
    st.integers(0, SIG_SCALE),
    st.text(min_size=1, max_size=MAX_KIND // 4),
    st.booleans(),
)


@st.composite
def nodes(draw: st.DrawFn, name: st.SearchStrategy[bytes] = node_names) -> Node:
    """A node as a scan would produce it: only the fields its type stores are set."""
    kind = draw(st.sampled_from([FILE, DIR, SYMLINK, FIFO, CHAR, BLOCK, SOCKET]))
    n = Node(
        name=draw(name),
        type=kind,
        mode=draw(st.integers(0, 0o7777)),
        uid=draw(owner_ids),
        gid=draw(owner_ids),
        user=draw(texts),
        group=draw(texts),
        mtime_ns=draw(i64),
        atime_ns=draw(i64),
        ctime_ns=draw(i64),
        inode=draw(st.integers(0, 2**64 - 1)),
        dev=draw(st.integers(0, 2**64 - 1)),
        nlink=draw(u32),
        xattrs=draw(st.dictionaries(st.binary(min_size=1, max_size=20), st.binary(max_size=40))),
    )
    if kind == FILE:
        n.size = draw(st.integers(0, 2**63 - 1))
        n.content = draw(st.lists(blob_ids, max_size=4))
        n.hash = draw(st.binary(min_size=32, max_size=32))
        n.changed = draw(st.booleans())
        n.sig = draw(st.none() | signals)
    elif kind == DIR:
        n.subtree = draw(blob_ids)
    elif kind == SYMLINK:
        n.target = draw(st.binary(min_size=1, max_size=100).filter(lambda t: b"\0" not in t))
    elif kind in (CHAR, BLOCK):
        n.rdev = draw(st.integers(0, 2**64 - 1))
    return n


aware_times = st.datetimes(  # a record's time: ripcord refuses years outside wire.YEARS
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9000, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
    ),
)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    return Snapshot(
        time=draw(aware_times),
        host=draw(texts),
        user=draw(texts),
        paths=draw(st.lists(texts, max_size=3)),
        tree=draw(hex_ids),
        tags=draw(st.lists(texts, max_size=3)),
        chain=draw(st.lists(hex_ids, max_size=3)),
        parent=draw(st.none() | hex_ids),
        excludes=draw(st.lists(texts, max_size=3)),
        summary=draw(st.dictionaries(texts, i64, max_size=4)),
        origin=draw(st.none() | hex_ids),
    )
