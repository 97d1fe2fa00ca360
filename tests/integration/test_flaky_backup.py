"""Whole backups, restores and checks through a flaky store (tests/flaky.py) behind
the retry wrapper: transient faults cost nothing, a store that goes for good fails
the backup cleanly, and no snapshot ever names data that is not there."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.restore import RestoreOptions, Restorer
from ripcord.errors import StoreError
from ripcord.repository import Repository
from ripcord.storage import LocalStore, Store
from ripcord.verify.check import CheckOptions, check
from tests.conftest import FAST_KDF, PASSWORD
from tests.flaky import Flaky, flaky
from tests.integration.test_roundtrip import same_tree
from tests.s3server import new_s3_store
from tests.sshserver import sftp_store

SEEDS = (1, 2, 3)  # CI; the soak runs take more (bench/resources.py --flaky-seeds)


def make_source(root: Path, rng: random.Random) -> Path:
    """Files of many sizes, some sharing content, so packs, dedup and trees all matter."""
    shared = rng.randbytes(300_000)
    for i in range(12):
        d = root / f"d{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.bin").write_bytes(
            rng.randbytes(rng.randrange(0, 200_000)) + shared[: i * 20_000]
        )
    (root / "big.bin").write_bytes(rng.randbytes(3 << 20))
    return root


def change(root: Path, rng: random.Random) -> None:
    (root / "d0" / "f0.bin").write_bytes(rng.randbytes(50_000))
    (root / "d1" / "new.bin").write_bytes(rng.randbytes(120_000))
    (root / "d2" / "f2.bin").unlink()


def backup(repo: Repository, path: Path) -> str:
    report = Backup(repo, BackupOptions(paths=[str(path)])).run()
    assert report.snapshot_id and not report.errors
    return report.snapshot_id


def restore(repo: Repository, snap_id: str, target: Path) -> Path:
    snap = repo.load_snapshot(snap_id)
    report = Restorer(repo, snap, RestoreOptions(target=str(target))).run()
    assert not report.incomplete, report.errors
    return target / Path(snap.paths[0]).relative_to("/")


def assert_checks_clean(store: Store) -> None:
    """`check --read-data` through a store without faults finds no damage at all."""
    repo = Repository.open(store, PASSWORD.encode())
    try:
        report, _ = check(repo, CheckOptions(read_packs=lambda packs: packs))
        assert not report.errors, [p.message for p in report.errors]
    finally:
        repo.close()


def round_trip(real: Store, seed: int, tmp: Path) -> Flaky:
    """Init, two backups and their restores, all through faults; then check without."""
    rng = random.Random(seed)
    store, faulty = flaky(real, seed, rate=0.15)
    src = make_source(tmp / "src", rng)
    repo = Repository.init(store, PASSWORD.encode(), FAST_KDF)
    try:
        first = backup(repo, src)
        kept = tmp / "kept"
        shutil.copytree(src, kept, symlinks=True)
        change(src, rng)
        second = backup(repo, src)
        assert same_tree(restore(repo, first, tmp / "r1"), kept)
        assert same_tree(restore(repo, second, tmp / "r2"), src)
    finally:
        repo.close()
    assert sum(faulty.injected.values()) > 0
    assert_checks_clean(real)
    return faulty


@pytest.mark.parametrize("seed", SEEDS)
def test_backups_through_faults_restore_and_check_clean_local(tmp_path: Path, seed: int) -> None:
    round_trip(LocalStore(tmp_path / "repo", create=True), seed, tmp_path)


def test_backups_through_faults_restore_and_check_clean_s3(tmp_path: Path) -> None:
    round_trip(new_s3_store(), 4, tmp_path)


def test_backups_through_faults_restore_and_check_clean_sftp(tmp_path: Path) -> None:
    round_trip(sftp_store(tmp_path), 5, tmp_path)


@pytest.fixture
def repo_with_one_snapshot(tmp_path: Path) -> Iterator[tuple[LocalStore, str, Path]]:
    real = LocalStore(tmp_path / "repo", create=True)
    src = make_source(tmp_path / "src", random.Random(6))
    repo = Repository.init(real, PASSWORD.encode(), FAST_KDF)
    try:
        first = backup(repo, src)
    finally:
        repo.close()
    yield real, first, src


@pytest.mark.parametrize("after", [0, 2, 4, 6, 8, 10])
def test_a_store_gone_for_good_fails_the_backup_and_leaves_no_snapshot(
    repo_with_one_snapshot: tuple[LocalStore, str, Path], tmp_path: Path, after: int
) -> None:
    real, first, src = repo_with_one_snapshot
    change(src, random.Random(after))
    (src / "more.bin").write_bytes(random.Random(after).randbytes(2 << 20))
    store, faulty = flaky(real, after, rate=0.1)
    repo = Repository.open(store, PASSWORD.encode())
    faulty.down("the server went away", after=after)
    with pytest.raises(StoreError, match="the server went away"):
        try:
            backup(repo, src)
        finally:
            repo.close()
    assert faulty.calls > after  # it went away before the backup was done
    names = {i.name for i in real.list("snapshots")}
    assert names == {f"snapshots/{first}"}  # no new snapshot, and the old one is there
    assert_checks_clean(real)  # unreferenced packs at most: not damage
    repo = Repository.open(real, PASSWORD.encode())
    try:
        second = backup(repo, src)  # the next run, with the store back, finishes the job
        assert same_tree(restore(repo, second, tmp_path / "r"), src)
    finally:
        repo.close()
