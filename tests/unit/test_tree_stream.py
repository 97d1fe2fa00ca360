"""decode_tree_data: a tree blob's bytes decoded one node at a time, the same nodes and
the same refusals as decode_tree of the whole document, at about half the memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.archive.node import FILE, Node, decode_tree, decode_tree_data, encode_tree
from ripcord.errors import CorruptObject, UnsafePath
from tests.strategies import junk, nodes, spoil

REFUSED = (CorruptObject, UnsafePath)


def whole(data: bytes) -> list[Node]:
    """The old way: the whole document, then its nodes."""
    try:
        doc = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as e:
        raise CorruptObject(f"malformed ({e})") from None
    return decode_tree(doc, "tree")


def outcome(decode: Callable[[bytes], list[Node]], data: bytes) -> list[Node] | None:
    """The nodes, or None for a refusal (any other exception fails the test)."""
    try:
        return decode(data)
    except REFUSED:
        return None


@given(st.lists(nodes(), max_size=8, unique_by=lambda n: n.name))
def test_a_tree_decodes_to_the_same_nodes_as_the_whole_document(tree: list[Node]) -> None:
    data = msgpack.packb(encode_tree(tree))
    assert decode_tree_data(data, "tree") == whole(data) == sorted(tree, key=lambda n: n.name)


@given(st.data(), nodes())
def test_junk_is_refused_exactly_when_the_whole_document_is(
    data: st.DataObject, node: Node
) -> None:
    wire = data.draw(
        st.just(node.to_wire()) | st.builds(spoil, st.just(data), st.just(node.to_wire()))
    )
    doc = data.draw(
        st.just({"v": 1, "nodes": [wire]})
        | st.just({"nodes": [wire], "v": 1})
        | st.builds(spoil, st.just(data), st.just({"v": 1, "nodes": [wire]}))
        | junk
    )
    raw = msgpack.packb(doc)
    raw = data.draw(st.just(raw) | st.just(raw + b"\x00") | st.just(raw[: len(raw) // 2]))
    agree(raw)


@given(st.binary(max_size=200))
def test_random_bytes_are_refused_never_an_unexpected_error(raw: bytes) -> None:
    agree(raw)


def agree(raw: bytes) -> None:
    """Both ways give the same nodes, or both refuse; but the old way took an empty map
    or string for the list of nodes (it iterated it), and now that is refused."""
    mine, old = outcome(decode_tree_data_of, raw), outcome(whole, raw)
    if mine is None and old == []:
        assert not isinstance(msgpack.unpackb(raw, strict_map_key=False)["nodes"], list)
    else:
        assert mine == old


def decode_tree_data_of(data: bytes) -> list[Node]:
    return decode_tree_data(data, "tree")


def test_a_key_twice_is_malformed_whichever_one_a_reader_would_keep() -> None:
    a, b = (Node(name=n, type=FILE).to_wire() for n in (b"a", b"b"))
    raw = b"\x83" + b"".join(msgpack.packb(x) for x in ("v", 1, "nodes", [a], "nodes", [b]))
    with pytest.raises(CorruptObject, match="twice"):
        decode_tree_data(raw, "tree")


def peak_bytes(decode: Callable[[bytes], Any], data: bytes) -> int:
    tracemalloc.start()
    try:
        nodes = decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(nodes) == 20_000
    return peak


def test_the_whole_document_is_never_held_beside_the_nodes() -> None:
    """~1.6 KiB an entry the old way (maps and nodes at once), ~0.65 KiB now (nodes,
    their owner, group and type strings shared)."""
    tree = [
        Node(name=b"f%07d" % i, type=FILE, mode=0o644, user="someone", group="staff",
             mtime_ns=1_795_000_000_000_000_000 + i, hash=bytes(32), inode=10**6 + i)
        for i in range(20_000)
    ]  # fmt: skip
    data = msgpack.packb(encode_tree(tree))
    assert peak_bytes(decode_tree_data_of, data) < 0.65 * peak_bytes(whole, data)
