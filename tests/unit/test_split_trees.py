"""Split trees (docs/FORMAT.md §Split trees): a big folder's entries cut into parts as
backup writes them, read back in order, looked up a part at a time, and refused when a
hostile repository makes parts overlap, repeat, nest or lie about what they hold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripcord.archive import parts
from ripcord.archive.node import DIR, FILE, Node, decode_listing, split_doc, tree_doc, tree_refs
from ripcord.archive.parts import PartedEntries, TreeWriter
from ripcord.archive.trees import listing, load_nodes, lookup
from ripcord.errors import CorruptObject, RipcordError, UnsafePath
from ripcord.repository import Repository
from ripcord.repository.pack import TREE
from ripcord.storage import MemoryStore
from tests.conftest import FAST_KDF, PASSWORD
from tests.splits import small_parts

Wire = dict[str, Any]


def wire(name: bytes, kind: str = FILE) -> Wire:
    node = Node(name=name, type=kind, mode=0o644, subtree=bytes(32) if kind == DIR else None)
    return node.to_wire()


def write(repo: Repository, names: list[bytes]) -> bytes:
    writer = TreeWriter(repo.save_tree, lambda n, e: pytest.fail(f"{n} lost: {e}"))
    for name in names:
        writer.append(wire(name))
    return writer.close()


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    small_parts(monkeypatch)


def new_repo() -> Repository:
    return Repository.init(MemoryStore(), PASSWORD.encode(), FAST_KDF)


def names_of(count: int) -> list[bytes]:
    return [f"file-{i:06}.txt".encode() for i in range(count)]


def test_a_folder_never_cut_is_the_version_1_tree_it_always_was(mem_repo: Repository) -> None:
    names = names_of(parts.MIN_PART - 1)
    tree = write(mem_repo, names)
    assert tree == mem_repo.save_tree(tree_doc([wire(n) for n in names]))
    assert listing(mem_repo, tree).parts == []


def test_a_folder_of_many_is_read_back_whole_and_in_order(mem_repo: Repository) -> None:
    names = names_of(3 * parts.MIN_PART)  # real part sizes: a few thousand entries each
    tree = write(mem_repo, names)
    found = listing(mem_repo, tree)
    assert len(found.parts) >= 2 and sum(p.count for p in found.parts) == len(names)
    assert all(p.count >= parts.MIN_PART for p in found.parts[:-1])
    assert [n.name for n in load_nodes(mem_repo, tree)] == names
    assert lookup(mem_repo, tree, names[-1]) is not None
    assert lookup(mem_repo, tree, b"file-") is None and lookup(mem_repo, tree, b"zz") is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=6).filter(lambda b: b"/" not in b and b"\0" not in b
                and b not in (b".", b"..")), unique=True, max_size=120))  # fmt: skip
def test_any_names_read_back_as_written_and_each_is_found(names: list[bytes]) -> None:
    names.sort()
    with pytest.MonkeyPatch.context() as mp:
        small_parts(mp)
        repo = new_repo()
        tree = write(repo, names)
    assert [n.name for n in load_nodes(repo, tree)] == names
    for name in names:
        found = lookup(repo, tree, name)
        assert found is not None and found.name == name
    assert lookup(repo, tree, b"\xff" * 7) is None


def test_an_added_file_rewrites_the_part_around_it_and_no_other(
    mem_repo: Repository, small: None
) -> None:
    """Cut points follow the names, not positions: an insertion does not shift every
    part after it, so a changed big folder costs one part, not the folder."""
    names = names_of(2000)
    before = listing(mem_repo, write(mem_repo, names)).parts
    after = listing(mem_repo, write(mem_repo, sorted([*names, b"file-001000.txt.new"]))).parts
    assert len(before) > 100
    assert len({p.id for p in after} - {p.id for p in before}) <= 2


def test_a_run_of_names_that_never_cuts_is_cut_at_the_most_a_part_holds(
    mem_repo: Repository, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "cuts_after", lambda name: False)  # as crafted names would
    tree = write(mem_repo, names_of(100))
    assert [p.count for p in listing(mem_repo, tree).parts] == [16] * 6 + [4]


def test_entries_with_big_attributes_are_cut_by_size(
    mem_repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "PART_BYTES", 64 << 10)
    writer = TreeWriter(mem_repo.save_tree, lambda n, e: pytest.fail("lost"))
    for name in names_of(40):
        writer.append({**wire(name), "xattrs": {b"user.big": bytes(8 << 10)}})
    found = listing(mem_repo, writer.close())
    assert [p.count for p in found.parts] == [8] * 5  # 8 x ~8.3 KiB reach 64 KiB


def test_a_part_too_big_to_store_is_left_out_and_counted(
    mem_repo: Repository, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ripcord.repository import repository as repository_module

    monkeypatch.setattr(repository_module, "MAX_FRAME", 4096)
    lost: list[int] = []
    writer = TreeWriter(mem_repo.save_tree, lambda n, e: lost.append(n))
    for name in names_of(12):
        big = name == b"file-000005.txt"
        writer.append({**wire(name), "xattrs": {b"user.x": bytes(5000 if big else 1)}})
    tree = writer.close()
    names = [n.name for n in load_nodes(mem_repo, tree)]
    assert lost and len(names) == 12 - sum(lost) and b"file-000005.txt" not in names


def test_refs_of_a_split_tree_are_its_parts(mem_repo: Repository, small: None) -> None:
    tree = write(mem_repo, names_of(50))
    found = listing(mem_repo, tree)
    assert tree_refs(mem_repo.load_tree(tree), "t", mem_repo.id_from_digest) == (
        [],
        [p.id for p in found.parts],
    )


def test_a_parent_split_folder_is_looked_up_a_part_at_a_time(
    mem_repo: Repository, small: None
) -> None:
    names = names_of(200)
    found = listing(mem_repo, write(mem_repo, names))
    loads: list[bytes] = []

    def load(part: bytes) -> list[Wire]:
        loads.append(part)
        doc = mem_repo.load_tree(part)
        assert isinstance(doc, dict)
        return list(doc["nodes"])

    entries = PartedEntries(found.parts, load)
    assert all(entries.get(n) is not None for n in names)
    assert entries.get(b"a") is None and entries.get(b"file-000010.txt~") is None
    assert len(loads) == len(found.parts) + 1  # in name order: each once, then back to one
    entries.get(names[-1])  # the two last parts are held: no read
    assert len(loads) == len(found.parts) + 1


# -- what a hostile repository can do to a split tree -------------------------------------


def save_doc(repo: Repository, doc: object) -> bytes:
    blob_id, _ = repo.add_blob(TREE, msgpack.packb(doc))
    repo.flush()
    return blob_id


Mangle = Callable[[Repository, list[dict[str, Any]]], object]


def swap(repo: Repository, ps: list[dict[str, Any]]) -> object:
    return {"v": 2, "parts": [ps[1], ps[0], *ps[2:]]}


def recount(repo: Repository, ps: list[dict[str, Any]]) -> object:
    return {"v": 2, "parts": [{**ps[0], "count": ps[0]["count"] + 1}, *ps[1:]]}


def rename(repo: Repository, ps: list[dict[str, Any]]) -> object:
    return {"v": 2, "parts": [{**ps[0], "first": b"a"}, *ps[1:]]}


def repeat(repo: Repository, ps: list[dict[str, Any]]) -> object:
    """The same part twice, under two names: each of its entries twice in the folder."""
    return {"v": 2, "parts": [ps[0], {**ps[0], "first": ps[0]["first"] + b"~"}, *ps[1:]]}


def overlap(repo: Repository, ps: list[dict[str, Any]]) -> object:
    """A part that holds names past the next part's first: a lookup would miss them."""
    return {"v": 2, "parts": [ps[0], {**ps[2], "first": ps[1]["first"]}, *ps[2:]]}


def nest(repo: Repository, ps: list[dict[str, Any]]) -> object:
    inner = save_doc(repo, {"v": 2, "parts": ps[:2]})
    count = ps[0]["count"] + ps[1]["count"]
    return {"v": 2, "parts": [{"first": ps[0]["first"], "count": count, "id": inner}, *ps[2:]]}


def empty(repo: Repository, ps: list[dict[str, Any]]) -> object:
    return {"v": 2, "parts": []}


def zero(repo: Repository, ps: list[dict[str, Any]]) -> object:
    return {"v": 2, "parts": [{**ps[0], "count": 0}, *ps[1:]]}


def both(repo: Repository, ps: list[dict[str, Any]]) -> object:
    return {"v": 2, "parts": ps, "nodes": []}


def unsafe(repo: Repository, ps: list[dict[str, Any]]) -> object:
    return {"v": 2, "parts": [{**ps[0], "first": b"../x"}, *ps[1:]]}


@pytest.mark.parametrize(
    "mangle", [swap, recount, rename, repeat, overlap, nest, empty, zero, both, unsafe]
)
def test_a_split_tree_that_lies_about_its_parts_is_refused(
    mem_repo: Repository, small: None, mangle: Mangle
) -> None:
    doc = mem_repo.load_tree(write(mem_repo, names_of(60)))
    assert isinstance(doc, dict) and len(doc["parts"]) >= 3
    evil = save_doc(mem_repo, mangle(mem_repo, doc["parts"]))
    with pytest.raises((CorruptObject, UnsafePath)):
        load_nodes(mem_repo, evil)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_mangled_parts_list_reads_right_or_is_refused(data: st.DataObject) -> None:
    from tests.strategies import junk

    with pytest.MonkeyPatch.context() as mp:
        small_parts(mp)
        repo = new_repo()
        names = names_of(40)
        doc = repo.load_tree(write(repo, names))
    assert isinstance(doc, dict)
    ps = list(doc["parts"])
    i = data.draw(st.integers(0, len(ps) - 1))
    field = data.draw(st.sampled_from(["first", "count", "id", None]))
    if field is None:
        ps[i] = data.draw(junk)
    else:
        ps[i] = {**ps[i], field: data.draw(junk | st.sampled_from([p[field] for p in ps]))}
    evil = save_doc(repo, {"v": 2, "parts": ps})
    try:
        got = [n.name for n in load_nodes(repo, evil)]
    except RipcordError:
        return
    assert got == names  # accepted only when nothing that matters changed


def test_a_stream_of_a_split_tree_is_its_parts_not_nodes(mem_repo: Repository, small: None) -> None:
    tree = write(mem_repo, names_of(30))
    decoded = decode_listing(mem_repo.read_blob(tree), "t")
    assert decoded.nodes == [] and decoded.parts == listing(mem_repo, tree).parts
    assert msgpack.unpackb(mem_repo.read_blob(tree)) == split_doc(decoded.parts)
