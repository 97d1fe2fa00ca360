"""The repository over an in-memory store: dedup, verification, index, keys, config.

Tests damage the store by editing `MemoryStore.objects` directly, the way a
failing disk or a hostile operator would, behind the repository's back.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripcord.errors import (
    CorruptObject,
    MissingObject,
    RepositoryNotFound,
    RipcordError,
    UnsupportedFormat,
    WrongPassword,
)
from ripcord.repository import DATA, TREE, Repository, Snapshot
from ripcord.repository.pack import Frame, read_trailer, seal_frame
from ripcord.repository.packer import SMALL_BLOB, pack_name
from ripcord.storage import MemoryStore
from tests.conftest import FAST_KDF, PASSWORD

PW = PASSWORD.encode()


def objects(repo: Repository) -> dict[str, bytes]:
    """The raw objects behind a repository, to inspect or damage."""
    assert isinstance(repo.store, MemoryStore)
    return repo.store.objects


def packs(repo: Repository) -> dict[str, list[Frame]]:
    """Every pack's frames, read from the packs' own trailers."""
    return {
        name: read_trailer(repo.key, data, name)
        for name, data in objects(repo).items()
        if name.startswith("data/")
    }


def blob_count(repo: Repository) -> int:
    return sum(len(f.blobs) for frames in packs(repo).values() for f in frames)


def reopen(repo: Repository, password: bytes = PW, cache_dir: Path | None = None) -> Repository:
    return Repository.open(repo.store, password, cache_dir)


def index_names(repo: Repository) -> set[str]:
    return {n for n in objects(repo) if n.startswith("index/")}


# -- dedup and packing -------------------------------------------------------------------


def test_same_data_is_stored_once(mem_repo: Repository) -> None:
    data = os.urandom(SMALL_BLOB + 1000)
    first = mem_repo.add_blob(DATA, data)
    assert first[1]
    assert mem_repo.add_blob(DATA, data) == (first[0], False)  # still pending
    mem_repo.flush()
    assert mem_repo.add_blob(DATA, data) == (first[0], False)  # now indexed
    mem_repo.flush()
    assert blob_count(mem_repo) == 1
    with reopen(mem_repo) as again:
        assert again.add_blob(DATA, data) == (first[0], False)  # another process
        again.flush()
    assert blob_count(mem_repo) == 1
    assert mem_repo.read_blob(first[0]) == data


def test_blob_id_is_keyed(mem_repo: Repository) -> None:
    """Ids are keyed hashes, so a store operator cannot test for a known file."""
    other = Repository.init(MemoryStore(), PW, FAST_KDF)
    try:
        assert mem_repo.blob_id(b"known file") != other.blob_id(b"known file")
    finally:
        other.close()


def test_many_small_blobs_share_frames(mem_repo: Repository) -> None:
    blobs = [os.urandom(300) + i.to_bytes(4, "big") for i in range(200)]
    ids = [mem_repo.add_blob(DATA, b)[0] for b in blobs]
    mem_repo.flush()
    frames = [f for fs in packs(mem_repo).values() for f in fs]
    assert sum(len(f.blobs) for f in frames) == len(blobs)
    assert len(frames) < len(blobs)
    with reopen(mem_repo) as fresh:
        assert [fresh.read_blob(i) for i in ids] == blobs


def test_data_and_tree_blobs_go_to_separate_packs(mem_repo: Repository) -> None:
    mem_repo.add_blob(DATA, b"file content")
    mem_repo.save_tree({"v": 1, "nodes": []})
    mem_repo.flush()
    kinds = [{b.type for f in fs for b in f.blobs} for fs in packs(mem_repo).values()]
    assert sorted(kinds, key=sorted) == [{DATA}, {TREE}]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([DATA, TREE]),
            st.integers(0, 5),  # few seeds, so contents repeat
            st.sampled_from([0, 1, 100, SMALL_BLOB - 1, SMALL_BLOB, 300_000]),
            st.booleans(),  # flush after this one
        ),
        max_size=15,
    )
)
def test_whatever_is_added_reads_back_once_stored(adds: list[tuple[int, int, int, bool]]) -> None:
    with Repository.init(MemoryStore(), PW, FAST_KDF) as repo:
        stored: dict[bytes, bytes] = {}
        for blob_type, seed, size, flush in adds:
            data = random.Random(seed).randbytes(size)
            blob_id, new = repo.add_blob(blob_type, data)
            assert new == (blob_id not in stored)
            stored[blob_id] = data
            if flush:
                repo.flush()
        repo.flush()
        assert blob_count(repo) == len(stored)
        with reopen(repo) as fresh:
            assert {i: fresh.read_blob(i) for i in stored} == stored


# -- reading back verifies ---------------------------------------------------------------


def stored_blob(repo: Repository, size: int = SMALL_BLOB + 1000) -> tuple[bytes, bytes, str]:
    """A flushed random blob: (id, data, pack id)."""
    data = os.urandom(size)
    blob_id, _ = repo.add_blob(DATA, data)
    repo.flush()
    return blob_id, data, repo.locate(blob_id).pack


def test_a_flipped_byte_in_a_pack_names_the_pack(mem_repo: Repository) -> None:
    blob_id, _, pack = stored_blob(mem_repo)
    raw = bytearray(objects(mem_repo)[pack_name(pack)])
    raw[100] ^= 0x01  # inside the first frame's ciphertext
    objects(mem_repo)[pack_name(pack)] = bytes(raw)
    with pytest.raises(CorruptObject, match=pack):
        mem_repo.read_blob(blob_id)


def test_a_frame_forged_with_the_key_fails_the_id_check(mem_repo: Repository) -> None:
    """Even a writer holding the key cannot swap a blob's content unnoticed."""
    blob_id, data, pack = stored_blob(mem_repo)
    loc = mem_repo.locate(blob_id)
    forged = seal_frame(mem_repo.key, os.urandom(len(data)), 3)
    assert len(forged) == loc.frame_length  # random data is stored raw: same size
    raw = objects(mem_repo)[pack_name(pack)]
    end = loc.frame_offset + loc.frame_length
    objects(mem_repo)[pack_name(pack)] = raw[: loc.frame_offset] + forged + raw[end:]
    with pytest.raises(CorruptObject, match=f"pack {pack}.*does not match its id"):
        mem_repo.read_blob(blob_id)


def test_a_truncated_pack_is_corrupt(mem_repo: Repository) -> None:
    blob_id, _, pack = stored_blob(mem_repo)
    objects(mem_repo)[pack_name(pack)] = objects(mem_repo)[pack_name(pack)][:1000]
    with pytest.raises(CorruptObject, match="truncated"):
        mem_repo.read_blob(blob_id)


def test_a_missing_pack_is_missing(mem_repo: Repository) -> None:
    blob_id, _, pack = stored_blob(mem_repo)
    del objects(mem_repo)[pack_name(pack)]
    with pytest.raises(MissingObject, match=pack):
        mem_repo.read_blob(blob_id)


def test_an_unknown_blob_is_missing(mem_repo: Repository) -> None:
    with pytest.raises(MissingObject):
        mem_repo.read_blob(b"\0" * 32)


def test_a_snapshot_whose_content_does_not_match_its_name_is_corrupt(
    mem_repo: Repository,
) -> None:
    tree = mem_repo.save_tree({"v": 1, "nodes": []})
    snap = Snapshot(mem_repo.clock(), "host", "user", ["/src"], tree.hex())
    snap_id = mem_repo.save_snapshot(snap)
    assert mem_repo.load_snapshot(snap_id).to_doc() == snap.to_doc()
    other = mem_repo.save_snapshot(Snapshot(mem_repo.clock(), "h2", "u", [], tree.hex()))
    objects(mem_repo)[f"snapshots/{snap_id}"] = objects(mem_repo)[f"snapshots/{other}"]
    reader = Repository(mem_repo.store, mem_repo.config, mem_repo.secrets)  # another process
    with reader, pytest.raises(CorruptObject, match=snap_id):
        reader.load_snapshot(snap_id)


# -- the index cache ---------------------------------------------------------------------


def two_index_files(repo: Repository) -> tuple[bytes, bytes, str]:
    """Blobs a and b, each listed by its own index file; returns (a, b, a's file)."""
    a, _, _ = stored_blob(repo, 1000)
    (a_file,) = index_names(repo)
    b, _, _ = stored_blob(repo, 1000)
    assert len(index_names(repo)) == 2
    return a, b, a_file


def test_index_cache_rebuilds_when_an_index_file_disappears(mem_repo: Repository) -> None:
    a, b, a_file = two_index_files(mem_repo)
    del objects(mem_repo)[a_file]
    mem_repo.sync_index()
    assert not mem_repo.has_blob(a)
    assert mem_repo.has_blob(b)
    assert set(mem_repo.index.known_files()) == index_names(mem_repo)


def test_persistent_index_cache_rebuilds_on_open(mem_repo: Repository, tmp_path: Path) -> None:
    a, b, a_file = two_index_files(mem_repo)
    with reopen(mem_repo, cache_dir=tmp_path) as cached:
        assert cached.has_blob(a) and cached.has_blob(b)
    del objects(mem_repo)[a_file]
    with reopen(mem_repo, cache_dir=tmp_path) as cached:
        assert not cached.has_blob(a)
        assert cached.read_blob(b)
        with pytest.raises(MissingObject):
            cached.read_blob(a)


def test_index_cache_picks_up_another_writers_index(mem_repo: Repository) -> None:
    with reopen(mem_repo) as other:
        blob_id, data, _ = stored_blob(other)
    assert not mem_repo.has_blob(blob_id)
    mem_repo.sync_index()
    assert mem_repo.read_blob(blob_id) == data


# -- keys --------------------------------------------------------------------------------


def key_names(repo: Repository) -> list[str]:
    return [name for name, _ in repo.list_keys()]


def test_an_added_key_opens_the_same_repository(mem_repo: Repository) -> None:
    blob_id, data, _ = stored_blob(mem_repo)
    new = mem_repo.add_key(b"second password", FAST_KDF)
    assert sorted(key_names(mem_repo)) == sorted([mem_repo.key_name, new])
    with reopen(mem_repo, b"second password") as other:
        assert other.key_name == new
        assert other.read_blob(blob_id) == data
    listed = dict(mem_repo.list_keys())[new]
    assert listed["kdf"] == "argon2id" and "data" in listed


def test_the_key_in_use_cannot_be_removed(mem_repo: Repository) -> None:
    mem_repo.add_key(b"second password", FAST_KDF)
    with pytest.raises(RipcordError, match="unlocked with"):
        mem_repo.remove_key(mem_repo.key_name)
    assert mem_repo.key_name in key_names(mem_repo)


def test_the_last_key_cannot_be_removed(mem_repo: Repository) -> None:
    second = mem_repo.add_key(b"second password", FAST_KDF)
    with reopen(mem_repo, b"second password") as other:
        mem_repo.remove_key(second)  # allowed: the first key remains
        with pytest.raises(RipcordError, match="last key"):
            other.remove_key(mem_repo.key_name)  # `other` still thinks it holds `second`
    assert key_names(mem_repo) == [mem_repo.key_name]
    with pytest.raises(WrongPassword):
        reopen(mem_repo, b"second password")


def test_removing_an_unknown_key_is_missing(mem_repo: Repository) -> None:
    with pytest.raises(MissingObject):
        mem_repo.remove_key("keys/" + "0" * 64)


def test_change_password_replaces_the_key(mem_repo: Repository) -> None:
    blob_id, data, _ = stored_blob(mem_repo)
    old = mem_repo.key_name
    new = mem_repo.change_password(b"new password", FAST_KDF)
    assert mem_repo.key_name == new != old
    assert key_names(mem_repo) == [new]
    with pytest.raises(WrongPassword):
        reopen(mem_repo)
    with reopen(mem_repo, b"new password") as again:
        assert again.read_blob(blob_id) == data


def test_wrong_password_is_refused(mem_repo: Repository) -> None:
    with pytest.raises(WrongPassword):
        reopen(mem_repo, b"not the password")


# -- config ------------------------------------------------------------------------------


def edit_config(repo: Repository, **changes: object) -> None:
    doc = json.loads(objects(repo)["config"])
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = doc
        for p in parents:
            target = target[p]
        target[leaf] = value
    objects(repo)["config"] = json.dumps(doc).encode()


def test_config_with_tampered_chunker_is_corrupt(mem_repo: Repository) -> None:
    """A changed chunker would silently stop dedup; the MAC catches it."""
    edit_config(mem_repo, chunker__min_size=mem_repo.config.chunker.min_size // 2)
    with pytest.raises(CorruptObject, match="MAC"):
        reopen(mem_repo)


def test_config_with_tampered_compression_is_corrupt(mem_repo: Repository) -> None:
    edit_config(mem_repo, compression__level=19)
    with pytest.raises(CorruptObject, match="MAC"):
        reopen(mem_repo)


def test_config_of_a_newer_format_is_refused_before_any_password(mem_repo: Repository) -> None:
    edit_config(mem_repo, version=2)
    with pytest.raises(UnsupportedFormat):
        reopen(mem_repo, b"not even the right password")


def test_no_config_is_no_repository() -> None:
    with pytest.raises(RepositoryNotFound):
        Repository.open(MemoryStore(), PW)


def test_init_refuses_an_existing_repository(mem_repo: Repository) -> None:
    with pytest.raises(RipcordError, match="already exists"):
        Repository.init(mem_repo.store, PW, FAST_KDF)
