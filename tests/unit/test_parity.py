"""Parity objects (docs/FORMAT.md §Parity): the layout, the header at both ends, and
recovery from any damage within the budget, and none beyond it; the config field."""

from __future__ import annotations

import json
import math
import os
import random
import struct
from collections.abc import Iterator

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripcord.archive.progress import NullProgress
from ripcord.errors import CorruptObject, StoreError
from ripcord.repository import DATA, Repository
from ripcord.repository.config import ChunkerParams, Config, check_mac, parse_config
from ripcord.repository.crypto import content_id, seal
from ripcord.repository.packer import pack_name
from ripcord.repository.parity import (
    MAX_DATA_SHARES,
    MAX_SHARES,
    MIN_SHARE,
    PARITY_AAD,
    Header,
    Layout,
    encode_parity,
    parity_name,
    read_header,
    recover,
)
from ripcord.storage import MemoryStore
from ripcord.verify.check import CheckOptions, CheckReport, check
from ripcord.verify.parity_heal import heal
from tests.conftest import FAST_KDF, PASSWORD

KEY = b"k" * 32
percents = st.integers(1, 100)
sizes = st.integers(1, 600_000)  # across tiny packs, the 4 KiB floor and k = 100


def _parity(size: int, percent: int, seed: int) -> tuple[bytes, str, bytes, Header, int]:
    pack = random.Random(seed).randbytes(size)
    pack_id = content_id(pack)
    obj = encode_parity(KEY, pack_id, pack, percent)
    header, start = read_header(KEY, obj, pack_id, "parity")
    return pack, pack_id, obj, header, start


def _flip_share(pack: bytearray, obj: bytearray, lay: Layout, start: int, share: int) -> None:
    """Flip one byte inside share number `share` (a data share: in the pack's own bytes)."""
    s = lay.share
    if share < lay.k:
        real = min(s, lay.size - share * s)  # the last data share may be mostly padding
        pack[share * s + real // 2] ^= 0x10
    else:
        obj[start + (share - lay.k) * s + s // 2] ^= 0x10


@given(sizes, percents)
def test_layout_covers_the_pack_with_at_least_the_asked_parity(size: int, percent: int) -> None:
    lay = Layout.of(size, percent)
    assert lay.share * (lay.k - 1) < size <= lay.share * lay.k
    assert 1 <= lay.k <= MAX_DATA_SHARES and lay.m <= MAX_SHARES
    assert lay.parity >= max(1, lay.k * percent / 100)
    assert lay.parity == math.ceil(lay.k * percent / 100)
    if size >= MAX_DATA_SHARES * MIN_SHARE:
        assert lay.k == MAX_DATA_SHARES  # large packs: 100 data shares of a sector or more


def test_an_8_mib_pack_at_5_and_10_percent() -> None:
    """The figures FORMAT.md quotes."""
    assert Layout.of(8 << 20, 5) == Layout(8 << 20, 100, 105, 83887)
    assert Layout.of(8 << 20, 10) == Layout(8 << 20, 100, 110, 83887)


@settings(max_examples=40, deadline=None)
@given(sizes, percents, st.randoms(use_true_random=False))
def test_any_damage_within_the_budget_is_undone(
    size: int, percent: int, rnd: random.Random
) -> None:
    pack, pack_id, obj, header, start = _parity(size, percent, rnd.randrange(1 << 30))
    lay = header.layout
    hit = rnd.sample(range(lay.m), rnd.randint(0, lay.parity))
    bad_pack, bad_obj = bytearray(pack), bytearray(obj)
    for share in hit:
        _flip_share(bad_pack, bad_obj, lay, start, share)
    rec = recover(header, bytes(bad_pack), bytes(bad_obj), start)
    assert rec.data == pack and rec.damaged == tuple(sorted(hit))
    assert content_id(rec.data) == pack_id


@settings(max_examples=40, deadline=None)
@given(sizes, percents, st.randoms(use_true_random=False))
def test_damage_beyond_the_budget_is_refused_and_says_so(
    size: int, percent: int, rnd: random.Random
) -> None:
    pack, _, obj, header, start = _parity(size, percent, rnd.randrange(1 << 30))
    lay = header.layout
    hit = rnd.sample(range(lay.m), rnd.randint(lay.parity + 1, lay.m))
    bad_pack, bad_obj = bytearray(pack), bytearray(obj)
    for share in hit:
        _flip_share(bad_pack, bad_obj, lay, start, share)
    rec = recover(header, bytes(bad_pack), bytes(bad_obj), start)
    assert rec.data is None
    assert rec.reason == (
        f"{len(hit)} of its {lay.m} shares are damaged; parity restores at most {lay.parity}"
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(MIN_SHARE, 600_000), percents, st.randoms(use_true_random=False))
def test_a_cut_tail_is_undone_when_it_spans_no_more_shares_than_the_parity(
    size: int, percent: int, rnd: random.Random
) -> None:
    pack, _, obj, header, start = _parity(size, percent, rnd.randrange(1 << 30))
    lay = header.layout
    cut = rnd.randrange(0, size)
    spanned = lay.k - cut // lay.share  # data shares from the one the cut falls in
    rec = recover(header, pack[:cut], obj, start)
    assert len(rec.damaged) <= spanned  # fewer when the bytes cut were zeros anyway
    assert (rec.data == pack) == (len(rec.damaged) <= lay.parity)
    if spanned <= lay.parity:
        assert rec.data == pack


def test_a_pack_that_grew_a_tail_is_given_back_at_its_size() -> None:
    pack, _, obj, header, start = _parity(50_000, 5, 1)
    assert recover(header, pack + b"junk", obj, start).data == pack


def test_either_header_copy_suffices() -> None:
    _, pack_id, obj, header, start = _parity(300_000, 10, 2)
    front = bytearray(obj)
    front[20] ^= 1
    assert read_header(KEY, bytes(front), pack_id, "p") == (header, start)
    back = bytearray(obj)
    back[-20] ^= 1
    assert read_header(KEY, bytes(back), pack_id, "p") == (header, start)
    cut = obj[: len(obj) // 2]  # a torn parity write keeps the front copy and some shares
    assert read_header(KEY, cut, pack_id, "p") == (header, start)
    both = bytearray(front)
    both[-20] ^= 1
    with pytest.raises(CorruptObject, match="both copies of its header"):
        read_header(KEY, bytes(both), pack_id, "p")


def test_parity_of_another_pack_is_refused() -> None:
    _, _, obj, _, _ = _parity(10_000, 10, 3)
    with pytest.raises(CorruptObject, match="belongs to pack"):
        read_header(KEY, obj, "0" * 64, "p")


def test_another_key_cannot_read_the_header() -> None:
    _, pack_id, obj, _, _ = _parity(10_000, 10, 4)
    with pytest.raises(CorruptObject):
        read_header(b"x" * 32, obj, pack_id, "p")


def _sealed(doc: dict[str, object]) -> bytes:
    """A parity object whose (authentic) header says `doc`."""
    header = seal(KEY, bytes(msgpack.packb(doc)), PARITY_AAD)
    n = struct.pack("<I", len(header))
    return b"RCR1" + n + header + header + n + b"RCR1"


GOOD = {"v": 1, "pack": "a" * 64, "size": 1000, "k": 10, "m": 11, "share": 100}


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"k": 0},
        {"m": 10},  # no parity share
        {"m": 300},  # beyond zfec
        {"share": 99},  # 10 shares of 99 do not cover 1000 bytes
        {"share": 200},  # 10 shares of 200: the last ones would be empty
        {"size": 0},
        {"size": True},
        {"hashes": [b"x" * 32] * 10},  # one short
        {"hashes": [b"x" * 31] * 11},
        {"pack": "A" * 64},
    ],
)
def test_a_hostile_header_is_refused(change: dict[str, object]) -> None:
    doc = {**GOOD, "hashes": [os.urandom(32) for _ in range(11)], **change}
    with pytest.raises(CorruptObject, match="parity"):
        read_header(KEY, _sealed(doc), "a" * 64, "parity")


def test_the_sane_header_those_are_made_from_is_accepted() -> None:
    doc = {**GOOD, "hashes": [os.urandom(32) for _ in range(11)]}
    header, _ = read_header(KEY, _sealed(doc), "a" * 64, "parity")
    assert header.layout == Layout(1000, 10, 11, 100)


# -- the config field -------------------------------------------------------------------


@given(st.integers(0, 100))
def test_config_parity_round_trips_under_the_mac(percent: int) -> None:
    config = Config.new(ChunkerParams(), parity=percent)
    raw = config.dump(KEY)
    back, mac = parse_config(raw)
    assert back == config
    check_mac(back, mac, KEY)
    assert ("parity" in json.loads(raw)) == bool(percent)


def test_a_config_without_parity_keeps_its_old_mac_and_means_none() -> None:
    doc = json.loads(Config.new().dump(KEY))
    assert "parity" not in doc
    back, mac = parse_config(json.dumps(doc).encode())
    assert back.parity == 0
    check_mac(back, mac, KEY)


@pytest.mark.parametrize("edit", [None, {"percent": 50}, {"percent": 0}])
def test_the_mac_covers_parity(edit: dict[str, int] | None) -> None:
    doc = json.loads(Config.new(parity=10).dump(KEY))
    if edit is None:
        del doc["parity"]  # stripping parity so that new packs go unprotected
    else:
        doc["parity"] = edit
    back, mac = parse_config(json.dumps(doc).encode())
    with pytest.raises(CorruptObject, match="MAC"):
        check_mac(back, mac, KEY)


@pytest.mark.parametrize("value", [101, -1, "5%", 5.0, True, None, [5]])
def test_a_parity_out_of_range_is_malformed(value: object) -> None:
    doc = json.loads(Config.new(parity=10).dump(KEY))
    doc["parity"] = {"percent": value}
    with pytest.raises(CorruptObject, match="malformed"):
        parse_config(json.dumps(doc).encode())


# -- healing where the storage cannot read part of a pack ---------------------------------


class BadSectors(MemoryStore):
    """Reads that touch a bad range of an object fail, as EIO does on a local disk."""

    def __init__(self) -> None:
        super().__init__()
        self.bad: dict[str, range] = {}

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        bad = self.bad.get(name)
        end = self.stat(name).size if length is None else offset + length
        if bad is not None and offset < bad.stop and bad.start < end:
            raise StoreError(f"cannot read {name}: Input/output error")
        return super().get(name, offset, length)


@pytest.fixture
def bad_sectors() -> Iterator[tuple[Repository, BadSectors, set[bytes], str]]:
    """A repository with 10 % parity on a store with bad sectors, holding one pack."""
    store = BadSectors()
    repo = Repository.init(store, PASSWORD.encode(), FAST_KDF, parity=10)
    try:
        blobs = {repo.add_blob(DATA, os.urandom(300_000))[0] for _ in range(4)}
        repo.flush()
        [pack] = repo.pack_sizes()
        yield repo, store, blobs, pack
    finally:
        repo.close()


def test_a_pack_with_unreadable_sectors_is_healed_from_what_can_be_read(
    bad_sectors: tuple[Repository, BadSectors, set[bytes], str],
) -> None:
    repo, store, blobs, pack = bad_sectors
    lay = Layout.of(repo.pack_sizes()[pack], 10)
    store.bad[pack_name(pack)] = range(lay.share, lay.share + 8192)  # two sectors
    store.bad[parity_name(pack)] = range(10, 20)  # the front copy of its header
    options = CheckOptions(read_packs=lambda packs: packs)
    with repo.lock():
        report, verified = check(repo, options)
        assert report.damaged_packs == {pack} and report.errors
        report, _, healing = heal(repo, report, verified, options, NullProgress())
    assert [h.pack for h in healing.healed] == [pack] and healing.unhealable == []
    # the data share, and the first parity share: it begins in the same lost sector
    # of the parity object as the front header
    assert healing.healed[0].shares == 2 and not report.errors
    assert {b: repo.read_blob(b) for b in blobs}  # from the new pack
    assert all(repo.locate(b).pack != pack for b in blobs)


def test_an_intact_pack_is_not_healed_but_said_to_be_as_written(
    bad_sectors: tuple[Repository, BadSectors, set[bytes], str],
) -> None:
    """Damage that every share's hash agrees with was there before the parity (or is
    the index's): storing the same blobs again would prove nothing."""
    repo, _, _, pack = bad_sectors
    options = CheckOptions(read_packs=lambda packs: packs)
    with repo.lock():
        _, _, healing = heal(repo, CheckReport(damaged_packs={pack}), [], options, NullProgress())
    assert healing.healed == [] and len(healing.unhealable) == 1
    assert "is as it was written" in healing.unhealable[0].reason
    assert repo.pending() == []
