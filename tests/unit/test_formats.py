"""Every on-disk format: round trips, and hostile input refused with the right error.

Nothing read from a repository is trusted, so each decoder is fed damaged and
malicious input; the only acceptable outcomes are a well-formed value or the
documented error (CorruptObject, UnsafePath, UnsupportedFormat), never a
stray TypeError or OverflowError from deep inside.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgpack
import pytest
import zstandard
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pyfastcdc import FastCDC

from ripcord.archive.node import CHAR, FILE, Node, decode_tree, encode_tree
from ripcord.errors import (
    CorruptObject,
    LockedError,
    MissingObject,
    UnsafePath,
    UnsupportedFormat,
    UsageError,
)
from ripcord.repository.config import (
    FORMAT_VERSION,
    ChunkerParams,
    Config,
    check_mac,
    parse_config,
)
from ripcord.repository.crypto import OVERHEAD, open_sealed, seal
from ripcord.repository.index import INDEX_AAD, decode_index_file, encode_index_file
from ripcord.repository.keys import MasterSecrets, make_key_file, try_unlock
from ripcord.repository.locks import LOCK_AAD, STALE, Lock
from ripcord.repository.pack import (
    FRAME_AAD,
    MAX_FRAME,
    RAW,
    TRAILER_AAD,
    ZSTD,
    Frame,
    build_trailer,
    frames_from_wire,
    frames_to_wire,
    open_frame,
    read_trailer,
    seal_frame,
)
from ripcord.repository.snapshots import (
    SNAPSHOT_AAD,
    Snapshot,
    chain_heads,
    decode_snapshot,
    encode_snapshot,
    resolve,
)
from ripcord.storage import MemoryStore
from tests.conftest import FAST_KDF
from tests.strategies import (
    blob_ids,
    flip_bit,
    frame_lists,
    hex_ids,
    id_lookalikes,
    json_junk,
    junk,
    keys,
    node_names,
    nodes,
    roundtrip,
    snapshots,
    spoil,
)

HEX_ID = re.compile(r"[0-9a-f]{64}")
AAD = b"ripcord test object"


def is_hex_id(value: object) -> bool:
    return isinstance(value, str) and HEX_ID.fullmatch(value) is not None


# -- crypto envelope ---------------------------------------------------------------------


@given(keys, st.binary(max_size=4096), st.binary(max_size=40))
def test_envelope_round_trips(key: bytes, plain: bytes, aad: bytes) -> None:
    sealed = seal(key, plain, aad)
    assert len(sealed) == len(plain) + OVERHEAD
    assert open_sealed(key, sealed, aad, "obj") == plain


@given(keys, st.binary(max_size=64))
def test_envelope_never_repeats(key: bytes, plain: bytes) -> None:
    """A fresh salt and nonce per object: the same plaintext never seals the same way."""
    assert seal(key, plain, AAD) != seal(key, plain, AAD)


@given(keys, st.binary(max_size=256), st.integers(min_value=0))
def test_envelope_detects_any_bit_flip(key: bytes, plain: bytes, bit: int) -> None:
    damaged = flip_bit(seal(key, plain, AAD), bit)
    with pytest.raises(CorruptObject, match="obj"):
        open_sealed(key, damaged, AAD, "obj")


@given(keys, st.binary(max_size=256), st.data())
def test_envelope_detects_truncation(key: bytes, plain: bytes, data: st.DataObject) -> None:
    sealed = seal(key, plain, AAD)
    cut = data.draw(st.integers(0, len(sealed) - 1))
    with pytest.raises(CorruptObject):
        open_sealed(key, sealed[:cut], AAD, "obj")


@given(keys, st.binary(max_size=64), st.binary(max_size=40), st.binary(max_size=40))
def test_envelope_refuses_wrong_aad(key: bytes, plain: bytes, aad: bytes, other: bytes) -> None:
    assume(aad != other)
    with pytest.raises(CorruptObject):
        open_sealed(key, seal(key, plain, aad), other, "obj")


@given(keys, keys, st.binary(max_size=64))
def test_envelope_refuses_wrong_key(key: bytes, other: bytes, plain: bytes) -> None:
    assume(key != other)
    with pytest.raises(CorruptObject):
        open_sealed(other, seal(key, plain, AAD), AAD, "obj")


@given(keys, st.binary(max_size=200))
def test_envelope_refuses_junk(key: bytes, data: bytes) -> None:
    with pytest.raises(CorruptObject):
        open_sealed(key, data, AAD, "obj")


# -- pack trailer and frame lists --------------------------------------------------------


@given(keys, frame_lists, st.binary(max_size=100))
def test_trailer_round_trips(key: bytes, frames: list[Frame], body: bytes) -> None:
    assert read_trailer(key, body + build_trailer(key, frames), "pack") == frames


@given(keys, frame_lists, st.integers(min_value=0))
def test_trailer_detects_any_bit_flip(key: bytes, frames: list[Frame], bit: int) -> None:
    trailer = build_trailer(key, frames)
    with pytest.raises(CorruptObject, match="pack"):
        read_trailer(key, b"frames" + flip_bit(trailer, bit), "pack")


@given(keys, frame_lists, st.data())
def test_trailer_detects_truncation(key: bytes, frames: list[Frame], data: st.DataObject) -> None:
    pack = b"frames" + build_trailer(key, frames)
    cut = data.draw(st.integers(0, len(pack) - 1))
    with pytest.raises(CorruptObject):
        read_trailer(key, pack[:cut], "pack")


@given(keys, st.binary(max_size=200), st.booleans())
def test_trailer_refuses_junk(key: bytes, data: bytes, with_magic: bool) -> None:
    with pytest.raises(CorruptObject):
        read_trailer(key, data + (b"RCP1" if with_magic else b""), "pack")


@given(keys, st.binary(max_size=2000) | st.binary(max_size=50).map(lambda b: b * 100))
def test_frame_round_trips_compressed_or_raw(key: bytes, plain: bytes) -> None:
    assert open_frame(key, seal_frame(key, plain, 3), "frame") == plain


@given(keys, st.binary(max_size=300))
def test_sealed_junk_frame_is_corrupt_or_raw(key: bytes, body: bytes) -> None:
    sealed = seal(key, body, FRAME_AAD)
    if body[:1] == bytes([RAW]):
        assert open_frame(key, sealed, "frame") == body[1:]
    else:
        with pytest.raises(CorruptObject, match="frame"):
            open_frame(key, sealed, "frame")


@pytest.mark.parametrize("content_size", [True, False])
def test_frame_that_inflates_past_the_bound_is_corrupt(content_size: bool) -> None:
    """A small frame must not make a reader allocate more than MAX_FRAME."""
    zstd = zstandard.ZstdCompressor(level=1, write_content_size=content_size)
    bomb = seal(b"k" * 32, bytes([ZSTD]) + zstd.compress(bytes(MAX_FRAME + 1)), FRAME_AAD)
    assert len(bomb) < 1 << 20
    with pytest.raises(CorruptObject):
        open_frame(b"k" * 32, bomb, "frame")


def check_frames(frames: list[Frame], wire: Any) -> None:
    """What frames_from_wire accepts is exactly what it was given, and in range."""
    assert frames_to_wire(frames) == wire
    for f in frames:
        assert type(f.offset) is int and f.offset >= 0
        assert type(f.length) is int and 0 < f.length <= MAX_FRAME
        for b in f.blobs:
            assert len(b.id) == 32 and b.type in (0, 1) and type(b.type) is int
            assert type(b.offset) is int and type(b.length) is int
            assert b.offset >= 0 and b.length >= 0 and b.offset + b.length <= MAX_FRAME


@st.composite
def hostile_frame_wire(draw: st.DrawFn) -> Any:
    """Frame lists that are right in shape but wrong in any one detail."""
    anything = junk | st.integers(-5, MAX_FRAME + 5)
    blob = st.lists(anything | blob_ids | st.sampled_from([0, 1]), min_size=3, max_size=5)
    frame = st.tuples(anything, anything, st.lists(blob, max_size=3) | junk).map(list)
    return draw(st.lists(frame | junk, max_size=4) | junk)


@given(st.one_of(junk, hostile_frame_wire()).map(roundtrip))
@example([[0, 1, [[b"\0" * 32, True, 0, 0]]]])
@example([[True, 1, []]])
@example({})
@example([[0, 1, {}]])
@example([[0, 1, [[b"\0" * 32, 0, False, 1]]]])
def test_frames_from_wire_accepts_only_well_formed_lists(wire: Any) -> None:
    try:
        frames = frames_from_wire(wire, "pack")
    except CorruptObject:
        return
    check_frames(frames, wire)


@given(keys, junk | st.binary(max_size=100))
def test_sealed_junk_trailer_is_corrupt_or_well_formed(key: bytes, doc: Any) -> None:
    """Even a writer holding the key cannot crash a reader with a bad trailer."""
    plain = doc if isinstance(doc, bytes) else msgpack.packb(doc)
    sealed = seal(key, plain, TRAILER_AAD)
    pack = sealed + len(sealed).to_bytes(4, "little") + b"RCP1"
    try:
        frames = read_trailer(key, pack, "pack")
    except CorruptObject:
        return
    check_frames(frames, msgpack.unpackb(plain))


# -- index files -------------------------------------------------------------------------

pack_lists = st.lists(st.tuples(hex_ids, frame_lists), max_size=4)


@given(keys, pack_lists)
def test_index_file_round_trips(key: bytes, packs: list[tuple[str, list[Frame]]]) -> None:
    assert decode_index_file(key, encode_index_file(key, packs), "index/x") == packs


@given(keys, pack_lists, st.integers(min_value=0))
def test_index_file_detects_any_bit_flip(key: bytes, packs: Any, bit: int) -> None:
    with pytest.raises(CorruptObject, match="index/x"):
        decode_index_file(key, flip_bit(encode_index_file(key, packs), bit), "index/x")


@given(keys, pack_lists)
def test_index_file_is_not_a_trailer(key: bytes, packs: Any) -> None:
    """The AAD names the kind of object: an index cannot pass for a trailer."""
    sealed = encode_index_file(key, packs)
    with pytest.raises(CorruptObject):
        read_trailer(key, sealed + len(sealed).to_bytes(4, "little") + b"RCP1", "pack")


@st.composite
def hostile_index_docs(draw: st.DrawFn) -> Any:
    name = hex_ids | id_lookalikes | junk
    packs = st.lists(st.tuples(name, hostile_frame_wire() | frame_lists.map(frames_to_wire)))
    doc = {"v": draw(st.just(1) | junk), "packs": draw(packs.map(roundtrip) | junk)}
    return draw(st.just(doc) | st.builds(spoil, st.data(), st.just(doc)) | junk)


@given(keys, hostile_index_docs() | st.binary(max_size=100))
@example(b"\0" * 32, {"v": 1, "packs": [["0x" + "a" * 62, []]]})
@example(b"\0" * 32, {"v": 1, "packs": [["A" * 64, []]]})
def test_sealed_junk_index_is_corrupt_or_well_formed(key: bytes, doc: Any) -> None:
    """A hostile key holder's index: pack names must be safe to turn into store names."""
    plain = doc if isinstance(doc, bytes) else msgpack.packb(doc)
    data = seal(key, plain, INDEX_AAD)
    try:
        packs = decode_index_file(key, data, "index/x")
    except CorruptObject:
        return
    for name, frames in packs:
        assert is_hex_id(name), name
        check_frames(frames, frames_to_wire(frames))


# -- snapshots ---------------------------------------------------------------------------


def snap_named(snap_id: str, chain: list[str]) -> Snapshot:
    return Snapshot(datetime.now().astimezone(), "h", "u", [], "0" * 64, chain=chain, id=snap_id)


@given(keys, snapshots())
def test_snapshot_round_trips(key: bytes, snap: Snapshot) -> None:
    back = decode_snapshot(key, encode_snapshot(key, snap), "f" * 64)
    assert back.to_doc() == snap.to_doc()
    assert back.id == "f" * 64


@given(keys, snapshots(), st.integers(min_value=0))
def test_snapshot_detects_any_bit_flip(key: bytes, snap: Snapshot, bit: int) -> None:
    with pytest.raises(CorruptObject, match="snapshot"):
        decode_snapshot(key, flip_bit(encode_snapshot(key, snap), bit), "f" * 64)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("summary", {"files": float("inf")}),
        ("tree", "0x" + "a" * 62),
        ("chain", [" " + "a" * 63]),
        ("parent", "A" * 64),
        ("time", "2026-11-20T10:00"),
        ("paths", 7),
        ("origin", "A" * 64),
        ("origin", ""),
    ],
)
def test_snapshot_with_a_bad_field_is_corrupt(field: str, value: object) -> None:
    doc = {**snap_named("a" * 64, []).to_doc(), field: value}
    with pytest.raises(CorruptObject):
        decode_snapshot(b"k" * 32, seal(b"k" * 32, msgpack.packb(doc), SNAPSHOT_AAD), "a" * 64)


@given(keys, snapshots(), st.data())
def test_sealed_junk_snapshot_is_corrupt_or_well_formed(
    key: bytes, snap: Snapshot, data: st.DataObject
) -> None:
    doc = snap.to_doc()
    doc = data.draw(st.just(doc) | st.builds(spoil, st.just(data), st.just(doc)) | junk)
    sealed = seal(key, msgpack.packb(doc), SNAPSHOT_AAD)
    try:
        back = decode_snapshot(key, sealed, "f" * 64)
    except CorruptObject:
        return
    assert back.time.tzinfo is not None
    assert all(is_hex_id(i) for i in [back.tree, *back.chain])
    assert back.parent is None or is_hex_id(back.parent)
    assert all(type(v) is int for v in back.summary.values())
    assert back.origin is None or is_hex_id(back.origin)


@given(keys, snapshots())
def test_only_a_copy_stores_an_origin_and_an_older_snapshot_reads_as_no_copy(
    key: bytes, snap: Snapshot
) -> None:
    stored = msgpack.unpackb(
        open_sealed(key, encode_snapshot(key, snap), SNAPSHOT_AAD, "s"),
        unicode_errors="surrogateescape",
    )
    assert ("origin" in stored) == (snap.origin is not None)
    assert stored.get("origin") == snap.origin
    older = {k: v for k, v in snap.to_doc().items() if k != "origin"}  # before `ripcord copy`
    sealed = seal(key, msgpack.packb(older, unicode_errors="surrogateescape"), SNAPSHOT_AAD)
    back = decode_snapshot(key, sealed, "f" * 64)
    assert back.origin is None
    assert back.to_doc() == {**snap.to_doc(), "origin": None}


def test_chain_heads_of_a_line_fork_and_join() -> None:
    a, b, c, d = (ch * 64 for ch in "abcd")
    line = [snap_named(a, []), snap_named(b, [a])]
    assert chain_heads(line) == [b]
    forked = [*line, snap_named(c, [a])]  # c started before b was written
    assert chain_heads(forked) == [b, c]
    joined = [*forked, snap_named(d, [b, c])]
    assert chain_heads(joined) == [d]


@given(st.lists(st.lists(st.integers(0, 50), max_size=3), max_size=12))
def test_chain_heads_are_exactly_the_unnamed_and_a_writer_who_saw_them_joins_them(
    picks: list[list[int]],
) -> None:
    snaps: list[Snapshot] = []
    for i, seen in enumerate(picks):
        chain = sorted({snaps[j % i].id for j in seen}) if i else []
        snaps.append(snap_named(f"{i:064x}", chain))
    heads = chain_heads(snaps)
    named = {c for s in snaps for c in s.chain}
    assert heads == sorted(s.id for s in snaps if s.id not in named)
    assert bool(heads) == bool(snaps)
    joiner = snap_named("f" * 64, heads)
    assert chain_heads([*snaps, joiner]) == [joiner.id]


# -- snapshot specs ----------------------------------------------------------------------


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at).astimezone()


def snaps_at(times: list[datetime]) -> list[Snapshot]:
    return [
        Snapshot(t, "h", "u", [], "0" * 64, id=f"{i:02x}" + "e" * 62) for i, t in enumerate(times)
    ]


DAY = date(2026, 11, 20)
DAY_SNAPS = snaps_at(
    [
        local(DAY, time(10, 0)),
        local(DAY, time(23, 59, 59, 999_999)),
        local(DAY + timedelta(days=1), time(0, 0)),
    ]
)


def test_latest_is_the_newest() -> None:
    assert resolve(DAY_SNAPS, "latest") is DAY_SNAPS[-1]


@pytest.mark.parametrize("spec", ["@2026-11-20", "@20261120"])
def test_a_date_means_the_end_of_that_day(spec: str) -> None:
    assert resolve(DAY_SNAPS, spec) is DAY_SNAPS[1]


@pytest.mark.parametrize(
    ("spec", "index"),
    [
        ("@2026-11-20T10:00", 0),
        ("@2026-11-20T09:59:59.999999", None),
        ("@2026-11-20T23:59:59.999999", 1),
        ("@2026-11-21T00:00", 2),
        ("@2027-01-01", 2),
        ("@2026-11-19", None),
    ],
)
def test_a_date_time_means_the_newest_at_or_before(spec: str, index: int | None) -> None:
    if index is None:
        with pytest.raises(MissingObject):
            resolve(DAY_SNAPS, spec)
    else:
        assert resolve(DAY_SNAPS, spec) is DAY_SNAPS[index]


def test_a_date_time_with_a_zone_is_taken_in_that_zone() -> None:
    snaps = snaps_at([datetime.fromisoformat("2026-11-20T12:00+00:00")])
    assert resolve(snaps, "@2026-11-20T13:00+01:00") is snaps[0]
    with pytest.raises(MissingObject):
        resolve(snaps, "@2026-11-20T12:59+01:00")


@given(
    st.lists(st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30)), min_size=1).map(sorted),
    st.data(),
    st.booleans(),
)
def test_date_spec_picks_the_last_snapshot_of_that_day_or_before(
    naive: list[datetime], data: st.DataObject, basic: bool
) -> None:
    on_a_snapshot_day = st.sampled_from([t.date() for t in naive])
    day = data.draw(on_a_snapshot_day | st.dates(date(2000, 1, 1), date(2099, 12, 31)))
    snaps = snaps_at([t.astimezone() for t in naive])
    spec = "@" + (day.strftime("%Y%m%d") if basic else day.isoformat())
    before = [s for s, t in zip(snaps, naive, strict=True) if t.date() <= day]
    if before:
        assert resolve(snaps, spec) is before[-1]
    else:
        with pytest.raises(MissingObject):
            resolve(snaps, spec)


@given(st.lists(hex_ids, min_size=1, max_size=20, unique=True), st.data())
def test_an_id_prefix_finds_its_snapshot_only_when_unique(
    ids: list[str], data: st.DataObject
) -> None:
    snaps = [snap_named(i, []) for i in ids]
    target = data.draw(st.sampled_from(snaps))
    prefix = target.id[: data.draw(st.integers(1, 64))]
    spec = data.draw(st.sampled_from([prefix, prefix.upper()]))
    if sum(s.id.startswith(prefix) for s in snaps) == 1:
        assert resolve(snaps, spec) is target
    else:
        with pytest.raises(UsageError, match="ambiguous"):
            resolve(snaps, spec)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("0", UsageError),  # ambiguous: both ids start with it
        ("ff", MissingObject),
        ("xyz", UsageError),
        ("", UsageError),
        ("@yesterday", UsageError),
    ],
)
def test_bad_specs(spec: str, error: type[Exception]) -> None:
    snaps = snaps_at([local(DAY, time(1)), local(DAY, time(2))])
    with pytest.raises(error):
        resolve(snaps, spec)


def test_no_snapshots_at_all() -> None:
    with pytest.raises(MissingObject):
        resolve([], "latest")


# -- config ------------------------------------------------------------------------------


@st.composite
def configs(draw: st.DrawFn) -> Config:
    min_size = draw(st.integers(64, 1 << 20))
    avg_size = draw(st.integers(max(min_size, 256), 4 << 20))
    max_size = draw(st.integers(max(avg_size, 1024), 16 << 20))
    return Config(
        id=draw(st.text("0123456789abcdef", min_size=32, max_size=32)),
        chunker=ChunkerParams(min_size, avg_size, max_size),
        compression_level=draw(st.integers(-7, 22)),
    )


@given(configs(), keys)
def test_config_round_trips_and_its_mac_checks(config: Config, id_key: bytes) -> None:
    back, mac = parse_config(config.dump(id_key))
    assert back == config
    check_mac(back, mac, id_key)


@given(configs(), keys, keys)
def test_config_mac_refuses_another_key(config: Config, id_key: bytes, other: bytes) -> None:
    assume(id_key != other)
    back, mac = parse_config(config.dump(id_key))
    with pytest.raises(CorruptObject):
        check_mac(back, mac, other)


@given(configs(), keys, st.text())
@example(Config("0" * 32, ChunkerParams(1 << 18, 1 << 20, 1 << 22), 3), bytes(32), "é" * 64)
@example(Config("0" * 32, ChunkerParams(1 << 18, 1 << 20, 1 << 22), 3), bytes(32), "\ud800")
def test_any_claimed_mac_is_checked_never_a_crash(config: Config, id_key: bytes, mac: str) -> None:
    """A hostile config's MAC may be any JSON string: non-ASCII, a lone surrogate
    (compare_digest raised TypeError on a str with non-ASCII; the soak fuzz found it)."""
    doc = {**json.loads(config.dump(id_key)), "mac": mac}
    back, claimed = parse_config(json.dumps(doc).encode())
    assert claimed == mac
    with pytest.raises(CorruptObject, match="MAC mismatch"):
        check_mac(back, claimed, id_key)


@given(configs(), configs(), keys)
def test_config_with_other_chunker_sizes_fails_its_mac(
    config: Config, other: Config, id_key: bytes
) -> None:
    assume(config.chunker != other.chunker)
    doc = json.loads(config.dump(id_key))
    doc["chunker"] = asdict(other.chunker)
    back, mac = parse_config(json.dumps(doc).encode())
    with pytest.raises(CorruptObject):
        check_mac(back, mac, id_key)


@given(configs(), st.integers(FORMAT_VERSION + 1, 2**63))
def test_config_of_a_newer_version_is_unsupported(config: Config, version: int) -> None:
    doc = json.loads(config.dump(b"k" * 32))
    doc["version"] = version
    doc["chunker"] = "a future format may change anything else too"
    with pytest.raises(UnsupportedFormat):
        parse_config(json.dumps(doc).encode())


@st.composite
def hostile_config_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc = json.loads(draw(configs()).dump(b"k" * 32))
    doc["chunker"] = draw(st.just(doc["chunker"]) | json_junk)
    doc["compression"] = draw(st.just(doc["compression"]) | json_junk)
    return dict(draw(st.just(doc) | st.builds(spoil, st.data(), st.just(doc), st.just(json_junk))))


@given(st.binary(max_size=300))
@example(b"[" * 100_000)
@example(b'{"format": "ripcord", "version": 1}')
@example(
    b'{"format":"ripcord","version":1,"id":"x","mac":"y","compression":{"algorithm":"zstd",'
    b'"level":3},"chunker":{"min_size":1e999,"avg_size":1e999,"max_size":1e999}}'
)
def test_config_junk_is_corrupt(raw: bytes) -> None:
    with pytest.raises(CorruptObject):
        parse_config(raw)


@given(hostile_config_docs())
def test_config_hostile_doc_is_refused_or_sane(doc: dict[str, Any]) -> None:
    try:
        config, _ = parse_config(json.dumps(doc).encode())
    except UnsupportedFormat:
        assert doc.get("version") != FORMAT_VERSION
        return
    except CorruptObject:
        return
    c = config.chunker
    FastCDC(c.avg_size, min_size=c.min_size, max_size=c.max_size, seed=1)  # backup can chunk
    assert c.min_size <= c.avg_size <= c.max_size
    assert -7 <= config.compression_level <= 22


@pytest.mark.parametrize(
    "sizes",
    [(64, 64, 64), (64, 255, 1024), (64, 256, 1023), ((1 << 20) + 1,) * 3, (64, 8 << 20, 8 << 20)],
)
def test_config_chunker_sizes_the_chunker_cannot_take_are_corrupt(
    sizes: tuple[int, int, int],
) -> None:
    raw = Config.new(ChunkerParams(*sizes)).dump(b"k" * 32)
    with pytest.raises(CorruptObject, match="chunker"):
        parse_config(raw)


# -- key files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secrets() -> MasterSecrets:
    return MasterSecrets.generate()


@pytest.fixture(scope="module")
def key_file(secrets: MasterSecrets) -> bytes:
    return make_key_file(b"right", secrets, FAST_KDF)


def test_key_file_opens_with_its_password(key_file: bytes, secrets: MasterSecrets) -> None:
    assert try_unlock(key_file, "keys/k", b"right") == secrets


@settings(deadline=None, max_examples=30)
@given(st.binary(max_size=30))
def test_key_file_refuses_a_wrong_password(key_file: bytes, password: bytes) -> None:
    assume(password != b"right")
    assert try_unlock(key_file, "keys/k", password) is None


def edit_key_doc(raw: bytes, **changes: object) -> bytes:
    return json.dumps({**json.loads(raw), **changes}).encode()


@settings(deadline=None, max_examples=50)
@given(st.sampled_from(["salt", "data"]), st.integers(min_value=0))
def test_key_file_with_tampered_secrets_does_not_open(
    key_file: bytes, field: str, bit: int
) -> None:
    value = base64.b64decode(json.loads(key_file)[field])
    tampered = edit_key_doc(key_file, **{field: base64.b64encode(flip_bit(value, bit)).decode()})
    assert try_unlock(tampered, "keys/k", b"right") is None


@pytest.mark.parametrize(
    "changes",
    [
        {"iterations": 2},  # weaker or stronger KDF: another key, so it cannot open
        {"memory_kib": 16},
        {"lanes": 2, "memory_kib": 16},
        {"iterations": 0},
        {"iterations": 10**6},
        {"memory_kib": 1 << 40},
        {"lanes": 9},  # Argon2 needs 8 KiB per lane
        {"iterations": float("inf")},
        {"salt": "not base64!"},
        {"data": 17},
        {"salt": None},
        {"salt": "AAAA"},  # 3 bytes: Argon2 would raise its own ValueError
        {"salt": base64.b64encode(bytes(65)).decode()},
    ],
)
def test_key_file_with_tampered_parameters_does_not_open(
    key_file: bytes, changes: dict[str, object]
) -> None:
    tampered = edit_key_doc(key_file, **changes)
    try:
        opened = try_unlock(tampered, "keys/k", b"right")
    except CorruptObject:
        return
    assert opened is None


@settings(deadline=None, max_examples=200)
@given(st.integers(min_value=0))
def test_key_file_bit_flip_never_yields_other_secrets(
    key_file: bytes, secrets: MasterSecrets, bit: int
) -> None:
    """Metadata (host, created) is not secret; the master secrets cannot be altered."""
    try:
        got = try_unlock(flip_bit(key_file, bit), "keys/k", b"right")
    except (CorruptObject, UnsupportedFormat):
        return
    assert got in (None, secrets)


@pytest.mark.parametrize("seed", [0, -1, 2**63, 2**64 - 1])
def test_key_file_with_a_seed_the_chunker_cannot_take_is_corrupt(seed: int) -> None:
    """Seed 0 is FastCDC's public gear table; out of range, chunking fails mid-backup."""
    raw = make_key_file(b"right", MasterSecrets(b"e" * 32, b"i" * 32, seed), FAST_KDF)
    with pytest.raises(CorruptObject, match="seed"):
        try_unlock(raw, "keys/k", b"right")


@given(st.binary(max_size=200) | json_junk.map(lambda d: json.dumps(d).encode()))
def test_key_file_junk_is_refused(raw: bytes) -> None:
    with pytest.raises((CorruptObject, UnsupportedFormat)):
        try_unlock(raw, "keys/k", b"right")


# -- tree nodes --------------------------------------------------------------------------


@given(nodes())
def test_node_round_trips(node: Node) -> None:
    assert Node.from_wire(roundtrip(node.to_wire())) == node


@given(st.lists(nodes(), max_size=8, unique_by=lambda n: n.name))
def test_tree_round_trips_sorted_by_name(tree: list[Node]) -> None:
    back = decode_tree(roundtrip(encode_tree(tree)), "tree")
    assert back == sorted(tree, key=lambda n: n.name)


unsafe_names = st.sampled_from([b"", b".", b".."]) | st.builds(
    lambda a, sep, b: a + sep + b,
    st.binary(max_size=10),
    st.sampled_from([b"/", b"\0"]),
    st.binary(max_size=10),
)


@given(nodes(name=unsafe_names | st.binary(min_size=256, max_size=300)))
def test_tree_with_an_unsafe_name_is_refused(node: Node) -> None:
    with pytest.raises(UnsafePath):
        decode_tree(roundtrip(encode_tree([node])), "tree")


@given(node_names, st.lists(nodes(), max_size=3))
def test_tree_with_duplicate_names_is_corrupt(name: bytes, others: list[Node]) -> None:
    twins = [Node(name=name, type=FILE), Node(name=name, type=FILE, size=1)]
    with pytest.raises((CorruptObject, UnsafePath)):
        decode_tree(roundtrip(encode_tree([*twins, *others])), "tree")


@given(st.data(), nodes())
def test_tree_junk_is_corrupt_or_well_formed(data: st.DataObject, node: Node) -> None:
    wire = node.to_wire()
    wire = data.draw(st.just(wire) | st.builds(spoil, st.just(data), st.just(wire)))
    doc = data.draw(st.just({"v": 1, "nodes": [wire]}) | junk)
    try:
        tree = decode_tree(roundtrip(doc), "tree")
    except (CorruptObject, UnsafePath):
        return
    for n in tree:
        assert Node.from_wire(roundtrip(n.to_wire())) == n
        check_fits_the_os(n)


def check_fits_the_os(n: Node) -> None:
    """Restore hands these to chown and mknod, which raise OverflowError, not OSError."""
    assert 0 <= n.uid < 2**32 - 1 and 0 <= n.gid < 2**32 - 1
    assert 0 <= n.rdev < 2**64


@pytest.mark.parametrize(
    ("field", "value"),
    [("uid", 2**40), ("uid", -2), ("gid", 2**32 - 1), ("gid", -1), ("rdev", -1)],
)
def test_node_owner_or_device_out_of_range_is_corrupt(field: str, value: int) -> None:
    wire = {**Node(name=b"dev", type=CHAR).to_wire(), field: value}
    with pytest.raises(CorruptObject):
        decode_tree(roundtrip({"v": 1, "nodes": [wire]}), "tree")


# -- locks -------------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def lock_doc(**changes: object) -> dict[str, Any]:
    """A fresh exclusive lock held by a process on another host."""
    doc = {"host": "elsewhere", "pid": 4242, "time": NOW.isoformat(), "exclusive": True}
    return {**doc, **changes}


def store_with_lock(key: bytes, doc: Any) -> MemoryStore:
    plain = doc if isinstance(doc, bytes) else msgpack.packb(doc)
    store = MemoryStore()
    store.put("locks/" + "a" * 32, seal(key, plain, LOCK_AAD))
    return store


def test_a_fresh_lock_from_another_host_is_honoured() -> None:
    store = store_with_lock(b"k" * 32, lock_doc())
    with pytest.raises(LockedError, match="elsewhere"):
        Lock(store, b"k" * 32, exclusive=False, clock=lambda: NOW).acquire()
    assert [i.name for i in store.list("locks")] == ["locks/" + "a" * 32]  # ours is gone


def test_a_stale_lock_is_ignored() -> None:
    old = (NOW - STALE - timedelta(seconds=1)).isoformat()
    store = store_with_lock(b"k" * 32, lock_doc(time=old))
    lock = Lock(store, b"k" * 32, exclusive=True, clock=lambda: NOW)
    lock.acquire()
    lock.release()


@given(keys, st.data())
@example(b"k" * 32, lock_doc(time="2026-11-20T12:00:00"))  # no zone
@example(b"k" * 32, lock_doc(pid=float("inf")))
@example(b"k" * 32, lock_doc(host=socket.gethostname(), pid=2**40))
@example(b"k" * 32, lock_doc(host=socket.gethostname(), pid=-1))
def test_a_hostile_lock_is_honoured_or_ignored_never_a_crash(
    key: bytes, data: st.DataObject | dict[str, Any]
) -> None:
    """One bad object under locks/ must not stop every backup with a traceback."""
    if isinstance(data, dict):
        doc: Any = data
    else:
        doc = data.draw(
            st.builds(spoil, st.just(data), st.just(lock_doc())) | junk | st.binary(max_size=50)
        )
    lock = Lock(store_with_lock(key, doc), key, exclusive=True, clock=lambda: NOW)
    try:
        lock.acquire()
    except LockedError:
        return
    lock.release()
