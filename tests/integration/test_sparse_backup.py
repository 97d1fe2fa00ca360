"""Backup does not read a sparse file's holes (archive/holes.py): long holes become
chunks of zeros without a read, and the file still comes back byte for byte, with its
holes, its hash right, whatever the layout of data and holes, and a file that grows
while it is read is still caught."""

from __future__ import annotations

import os
import random
from pathlib import Path

import blake3
import pytest

from ripcord.archive import backup as backup_module
from ripcord.archive import holes
from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.holes import data_ranges
from ripcord.archive.trees import find
from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import FAST_KDF, PASSWORD, Cli
from tests.trees import allocated, file_digest

MiB = 1 << 20
Layout = list[tuple[str, int]]  # ("data" | "hole", length)


def make(path: Path, layout: Layout, seed: int = 0) -> None:
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        for kind, length in layout:
            if kind == "data":
                f.write(rnd.randbytes(length))
            else:
                f.seek(length, os.SEEK_CUR)
        f.truncate()


def rchar() -> int:
    """Bytes this process has read through read(2) and its kin, page cache or not."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_ranges_of_data_skip_only_long_holes(tmp_path: Path) -> None:
    f = tmp_path / "f"
    make(f, [("hole", 8 * MiB), ("data", MiB), ("hole", 64 * 1024), ("data", 4096),
             ("hole", 20 * MiB), ("data", 8192), ("hole", 30 * MiB)])  # fmt: skip
    fd = os.open(f, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        got = data_ranges(fd, size, 16 * MiB)
        assert got == [(0, 9 * MiB + 64 * 1024 + 4096), (29 * MiB + 69632, 29 * MiB + 77824)]
        assert data_ranges(fd, size, 64 * MiB) is None  # no hole that long: read it all
    finally:
        os.close(fd)


def test_a_sparse_file_is_backed_up_without_reading_its_holes(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    image = src / "disk.img"
    make(image, [("data", MiB), ("hole", 256 * MiB), ("data", 3 * MiB), ("hole", 256 * MiB),
                 ("data", 100)])  # fmt: skip
    before = rchar()
    cli.ok("backup", str(src))
    assert rchar() - before < 64 * MiB  # 512 MiB of holes were not read
    out = tmp_path / "out"
    before = rchar()
    cli.ok("restore", "latest", "--target", str(out), "--verify")
    assert rchar() - before < 64 * MiB  # nor read back to verify them
    back = out / image.relative_to("/")
    assert back.stat().st_size == image.stat().st_size
    assert file_digest(back) == file_digest(image)
    assert allocated(back) < 64 * MiB  # written back as holes
    cli.ok("check", "--read-data")


LAYOUTS: list[Layout] = [
    [("hole", 40 * MiB)],  # nothing but hole
    [("hole", 17 * MiB), ("data", 1)],  # data only in the last byte
    [("data", 5 * MiB + 3), ("hole", 16 * MiB)],  # ends in a hole just long enough
    [("data", 10), ("hole", 16 * MiB - 4096), ("data", 10)],  # a hole just too short
    [("hole", 20 * MiB), ("data", 9 * MiB), ("hole", 33 * MiB + 5), ("data", 4097)],
]


@pytest.mark.parametrize("seed", range(6))
def test_a_file_hashed_without_reading_its_holes_hashes_as_read_whole(
    tmp_path: Path, seed: int
) -> None:
    rnd = random.Random(seed)
    layout: Layout = [
        (rnd.choice(["data", "hole"]), rnd.choice([1, 4096, rnd.randint(1, 3 * MiB)]))
        for _ in range(rnd.randint(1, 8))
    ]
    f = tmp_path / "f"
    make(f, layout, seed)
    fd = os.open(f, os.O_RDONLY)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        assert holes.file_digest(fd) == blake3.blake3(f.read_bytes()).digest()
    finally:
        os.close(fd)


def random_layout(rnd: random.Random) -> Layout:
    out: Layout = []
    for _ in range(rnd.randint(1, 6)):
        if rnd.random() < 0.5:
            out.append(("data", rnd.choice([1, 4096, rnd.randint(1, 6 * MiB)])))
        else:
            out.append(("hole", rnd.choice([16 * MiB, rnd.randint(4096, 48 * MiB)])))
    return out


@pytest.mark.parametrize(
    "layout", LAYOUTS + [random_layout(random.Random(seed)) for seed in range(8)], ids=str
)
def test_any_layout_of_data_and_holes_comes_back_with_its_hash(
    tmp_path: Path, layout: Layout
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    image = src / "f"
    make(image, layout, seed=len(layout))
    with Repository.init(
        LocalStore(tmp_path / "repo", create=True), PASSWORD.encode(), FAST_KDF
    ) as repo:
        report = Backup(repo, BackupOptions([str(src)])).run()
        assert not report.incomplete
        node = find(repo, bytes.fromhex(repo.snapshots()[0].tree), os.fsencode(image))
        content = b"".join(repo.read_blob(b) for b in node.content)
    data = image.read_bytes()
    assert node.size == len(data) and content == data
    assert node.hash == blake3.blake3(data).digest()


def test_a_sparse_file_that_grows_while_read_is_marked_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holes are planned from the size at the stat; what is written after is read
    on to the end as ever, and the stat after the read sees the change."""
    src = tmp_path / "src"
    src.mkdir()
    image = src / "f"
    make(image, [("data", 10), ("hole", 40 * MiB)])

    def grow(fd: int, size: int, min_hole: int) -> list[tuple[int, int]] | None:
        with open(image, "ab") as f:
            f.write(b"grown")
        return data_ranges(fd, size, min_hole)

    monkeypatch.setattr(backup_module, "data_ranges", grow)
    with Repository.init(
        LocalStore(tmp_path / "repo", create=True), PASSWORD.encode(), FAST_KDF
    ) as repo:
        report = Backup(repo, BackupOptions([str(src)])).run()
        node = find(repo, bytes.fromhex(repo.snapshots()[0].tree), os.fsencode(image))
        content = b"".join(repo.read_blob(b) for b in node.content)
    assert report.changed_while_read == [str(image)] and node.changed
    assert content == image.read_bytes()  # the last read, whole: growth included


def test_a_hole_of_many_chunks_is_restored_reading_its_zero_chunk_once(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make(src / "f", [("data", 100), ("hole", 128 * MiB), ("data", 100)])
    cli.ok("backup", str(src))
    reads: list[bytes] = []
    real = Repository.read_at

    def counting(repo: Repository, blob_id: bytes, loc: object) -> bytes:
        reads.append(blob_id)
        return real(repo, blob_id, loc)  # type: ignore[arg-type]

    monkeypatch.setattr(Repository, "read_at", counting)
    out = tmp_path / "out"
    cli.ok("restore", "latest", "--target", str(out), "--verify")
    back = out / (src / "f").relative_to("/")
    assert file_digest(back) == file_digest(src / "f") and allocated(back) < 8 * MiB
    assert len(reads) == len(set(reads))  # 32 chunks of zeros: their one blob read once
