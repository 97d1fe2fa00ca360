"""tree_refs, the walk-only reading of a tree, must see exactly what decoding sees."""

from __future__ import annotations

import blake3
import msgpack
from hypothesis import given
from hypothesis import strategies as st

from ripcord.archive.node import Node, decode_tree, encode_tree, tree_refs
from tests.strategies import nodes


def derive(digest: bytes) -> bytes:
    return blake3.blake3(digest, key=b"k" * 32).digest()


@given(st.lists(nodes(), max_size=8, unique_by=lambda n: n.name))
def test_refs_are_the_content_and_subtrees_decoding_finds(tree: list[Node]) -> None:
    doc = msgpack.unpackb(msgpack.packb(encode_tree(tree)), raw=False, strict_map_key=False)
    decoded = decode_tree(doc, "t", derive)
    content, subtrees = tree_refs(doc, "t", derive)
    assert content == [b for n in decoded for b in n.content]
    assert subtrees == [n.subtree for n in decoded if n.subtree is not None]


@given(st.lists(nodes(), max_size=8, unique_by=lambda n: n.name))
def test_one_chunk_files_without_a_content_list_agree_too(tree: list[Node]) -> None:
    doc = msgpack.unpackb(msgpack.packb(encode_tree(tree)), raw=False, strict_map_key=False)
    for wire in doc["nodes"]:  # as backup writes a one-chunk file: its id from its hash
        if "content" in wire and len(wire["hash"]) == 32 and wire["size"]:
            del wire["content"]
    decoded = decode_tree(doc, "t", derive)
    assert tree_refs(doc, "t", derive)[0] == [b for n in decoded for b in n.content]
