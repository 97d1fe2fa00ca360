"""A big directory's listing (scan.Names): sorted names, lstat'ed a batch at a time as
they are taken, the same entries a small listing gives, and a name gone before its
batch is stat'ed is an entry with its error, not a crash."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ripcord.archive import scan
from ripcord.archive.scan import Entry, Names, list_dir


def fill(root: Path, count: int) -> None:
    for i in range(count):
        (root / f"n{(i * 7919) % count:05}").write_bytes(b"x" * (i % 3))
    (root / "sub").mkdir()


def entries(listing: object) -> list[tuple[bytes, bytes, int | None]]:
    assert isinstance(listing, (list, Names))
    out: list[Entry] = list(listing)
    return [(e.name, e.path, e.st.st_size if e.st else None) for e in out]


@pytest.mark.parametrize("pooled", [False, True])
def test_a_big_listing_gives_what_a_small_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pooled: bool
) -> None:
    fill(tmp_path, 50)
    small = list_dir(os.fsencode(tmp_path))
    monkeypatch.setattr(scan, "BIG", 4)
    monkeypatch.setattr(scan, "STAT_BATCH", 8)
    with ThreadPoolExecutor(2) as pool:
        big = list_dir(os.fsencode(tmp_path), pool if pooled else None)
        assert isinstance(big, Names) and len(big) == 51
        assert entries(big) == entries(small)
        assert [name for name, _, _ in entries(big)] == sorted(os.listdir(os.fsencode(tmp_path)))


def test_a_name_gone_before_its_batch_is_an_entry_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(tmp_path, 30)
    monkeypatch.setattr(scan, "BIG", 4)
    monkeypatch.setattr(scan, "STAT_BATCH", 8)
    big = list_dir(os.fsencode(tmp_path))
    assert isinstance(big, Names)
    (tmp_path / "n00029").unlink()  # in the last batch, not stat'ed yet
    gone = [e for e in big if e.error is not None]
    assert [e.name for e in gone] == [b"n00029"] and gone[0].st is None
