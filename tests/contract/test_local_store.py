"""What LocalStore promises beyond the shared contract: files on a real disk."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ripcord.errors import RepositoryNotFound, StoreError
from ripcord.storage import LocalStore, ObjectExists, ObjectNotFound, StoreFull


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "repo", create=True)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), so that writes hit ENOSPC."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def remount_read_only(mnt: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)


def temp_files(store: LocalStore) -> list[str]:
    tmpdir = store.root / ".tmp"
    return sorted(os.listdir(tmpdir)) if tmpdir.exists() else []


@pytest.mark.usefixtures("umask_022")
def test_written_objects_are_read_only(local: LocalStore) -> None:
    local.put("data/ab/abcd", b"pack")
    local.put("config", b"{}")
    for name in ("data/ab/abcd", "config"):
        assert stat.S_IMODE((local.root / name).stat().st_mode) == 0o444


def test_no_temp_files_after_put(local: LocalStore) -> None:
    local.put("index/one", b"x" * 10_000)
    assert temp_files(local) == []


def test_no_temp_files_after_a_refused_put(local: LocalStore) -> None:
    local.put("index/one", b"first")
    with pytest.raises(ObjectExists):
        local.put("index/one", b"second")
    assert temp_files(local) == []
    assert local.get("index/one") == b"first"


def test_objects_are_on_disk_for_the_next_process(local: LocalStore) -> None:
    local.put("keys/k", b"secret")
    again = LocalStore(local.root)
    assert again.get("keys/k") == b"secret"
    assert [i.name for i in again.list("keys")] == ["keys/k"]


def test_missing_root_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFound):
        LocalStore(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_root_that_is_a_file_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(RepositoryNotFound):
        LocalStore(tmp_path / "file")


def test_full_disk_raises_store_full_and_leaves_nothing(tiny_disk: Path) -> None:
    store = LocalStore(tiny_disk / "repo", create=True)
    with pytest.raises(StoreFull):
        store.put("data/ab/big", os.urandom(2 << 20))
    with pytest.raises(ObjectNotFound):
        store.stat("data/ab/big")
    assert temp_files(store) == []
    store.put("data/ab/small", b"still room for this")
    assert store.get("data/ab/small") == b"still room for this"


@pytest.mark.parametrize("first_put", [True, False], ids=["fresh", "used"])
def test_read_only_file_system_is_a_store_error(tiny_disk: Path, first_put: bool) -> None:
    store = LocalStore(tiny_disk / "repo", create=True)
    if not first_put:
        store.put("keys/k", b"key")
    remount_read_only(tiny_disk)
    with pytest.raises(StoreError, match="snapshots/s"):
        store.put("snapshots/s", b"snapshot")
    with pytest.raises(ObjectNotFound):
        store.get("snapshots/s")


def test_temp_files_of_dead_writers_on_this_host_are_swept(tmp_path: Path) -> None:
    """What a `kill -9` mid-put leaves in .tmp goes at the next open; nothing else does."""
    LocalStore(tmp_path / "repo", create=True).put("keys/k", b"x")
    tmp = tmp_path / "repo" / ".tmp"
    host = socket.gethostname()
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = tmp / f"{host}-{gone.pid}-00"
    live = tmp / f"{host}-{os.getpid()}-01"
    other = tmp / f"another-host-{gone.pid}-02"
    for f in (stale, live, other):
        f.write_bytes(b"half a pack")
    LocalStore(tmp_path / "repo")
    assert not stale.exists()
    assert live.exists() and other.exists()
