"""Durability order: what a power cut could lose, read from the syscalls a real backup makes.

SIGKILL keeps the page cache, so the crash tests say nothing of a power cut. What does
is the order of the calls that make data durable: these tests wrap them (each still
does its real work) and check the order afterwards. A local store: every object's data
is fsynced before its name is linked, the name's folder (and the parent of any folder
made on the way) is fsynced before put() returns, and the snapshot is put only after
every pack and index file it needs was. Over SFTP: the server is asked to fsync each
object's file (fsync@openssh.com) before it is renamed into place.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
import pytest

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.repository import Repository
from ripcord.storage import LocalStore
from tests.conftest import FAST_KDF, PASSWORD
from tests.sshserver import Sshd, SshServer, sftp_store, sshd_fixture  # noqa: F401 (the fixture)


@dataclass(frozen=True)
class Call:
    what: str  # fsync, link, mkdir, rename, replace, put, done (put returned)
    path: str  # fsync: the file or folder synced; link, rename, replace: the new name
    source: str = ""  # link, rename, replace: the old name


class Trace:
    """The calls made so far, in the order they returned (put: in the order it began)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[Call] = []
        for name in ("link", "rename", "replace"):
            monkeypatch.setattr(os, name, self._moved(name, getattr(os, name)))
        real_fsync, real_mkdir = os.fsync, os.mkdir

        def fsync(fd: Any) -> None:
            real_fsync(fd)
            self.calls.append(Call("fsync", os.readlink(f"/proc/self/fd/{_fd(fd)}")))

        def mkdir(path: Any, *a: Any, **kw: Any) -> None:
            real_mkdir(path, *a, **kw)
            self.calls.append(Call("mkdir", os.path.abspath(os.fsdecode(path))))

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "mkdir", mkdir)
        real_put = LocalStore.put

        def put(store: LocalStore, name: str, *a: Any, **kw: Any) -> None:
            self.calls.append(Call("put", name))
            real_put(store, name, *a, **kw)
            self.calls.append(Call("done", name))

        monkeypatch.setattr(LocalStore, "put", put)

    def _moved(self, what: str, real: Callable[..., None]) -> Callable[..., None]:
        def moved(src: Any, dst: Any, *a: Any, **kw: Any) -> None:
            real(src, dst, *a, **kw)
            self.calls.append(Call(what, _abs(dst), _abs(src)))

        return moved

    def index(self, what: str, path: str, after: int = -1, before: int | None = None) -> int:
        """Where the first such call after `after` (and before `before`) is; -1 if none."""
        end = len(self.calls) if before is None else before
        for i in range(after + 1, end):
            if self.calls[i].what == what and self.calls[i].path == path:
                return i
        return -1


def _fd(fd: Any) -> int:
    return fd if isinstance(fd, int) else int(fd.fileno())


def _text(arg: Any) -> Any:
    """An SFTP request's argument as paramiko sent it, paths as str."""
    return arg.decode(errors="replace") if isinstance(arg, bytes) else arg


def _abs(path: Any) -> str:
    return os.path.abspath(os.fsdecode(path))


def sources(root: Path) -> Path:
    """Enough to fill several packs, many data/xx/ folders and a few trees."""
    rng = random.Random(5)
    for i in range(40):
        d = root / f"d{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.bin").write_bytes(rng.randbytes(rng.randrange(1000, 600_000)))
    return root


def test_a_local_backup_makes_each_object_durable_before_the_snapshot_that_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = sources(tmp_path / "src")
    trace = Trace(monkeypatch)  # from the start: the folders init makes count too
    root = tmp_path / "repo"
    repo = Repository.init(LocalStore(root, create=True), PASSWORD.encode(), FAST_KDF)
    with repo:
        report = Backup(repo, BackupOptions([str(src)])).run()
    assert report.snapshot_id and not report.errors
    calls = trace.calls
    made = {c.path: i for i, c in enumerate(calls) if c.what == "mkdir"}
    puts = [(i, c.path) for i, c in enumerate(calls) if c.what == "put"]
    kinds = {name.split("/")[0] for _, name in puts}
    assert {"keys", "config", "locks", "data", "index", "snapshots"} <= kinds
    assert [c for c in calls if c.what in ("rename", "replace")] == []  # write-once: links
    for begun, name in puts:
        returned = trace.index("done", name, after=begun)
        final = str(root / name)
        linked = trace.index("link", final, after=begun, before=returned)
        assert linked > 0, f"{name}: not linked into place while put() ran"
        tmp = calls[linked].source
        assert trace.index("fsync", tmp, after=begun, before=linked) > 0, (
            f"{name}: linked before its data was fsynced"
        )
        folder = os.path.dirname(final)
        assert trace.index("fsync", folder, after=linked, before=returned) > 0, (
            f"{name}: put() returned before its folder was fsynced"
        )
        # every folder on the way that was made: its entry synced before put() returned
        while folder != str(tmp_path):
            if folder in made:
                parent = os.path.dirname(folder)
                assert trace.index("fsync", parent, after=made[folder], before=returned) > 0, (
                    f"{name}: put() returned before {folder}'s entry in {parent} was fsynced"
                )
            folder = os.path.dirname(folder)
    (snap_at, _snap), *more = [(i, n) for i, n in puts if n.startswith("snapshots/")]
    assert more == []
    for begun, name in puts:
        if name.split("/")[0] in ("data", "index"):
            assert 0 < trace.index("done", name, after=begun) < snap_at, (
                f"the snapshot was put before {name} was durable"
            )


Request = tuple[int, int, tuple[Any, ...]]  # (session, SFTP request type, its arguments)


def sftp_requests(monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    """The requests paramiko sends and waits for from now on, as each is sent."""
    requests: list[Request] = []
    real = paramiko.SFTPClient._request  # type: ignore[attr-defined]

    def traced(client: paramiko.SFTPClient, t: int, *args: Any) -> Any:
        requests.append((id(client), t, tuple(_text(a) for a in args)))
        return real(client, t, *args)

    monkeypatch.setattr(paramiko.SFTPClient, "_request", traced)
    return requests


def test_an_sftp_put_has_the_server_fsync_the_file_before_renaming_it(
    sshd: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenSSH's sftp-server offers fsync@openssh.com (a file handle's fsync). No SFTP
    request syncs a folder, so the rename's own durability is the server file system's."""
    requests = sftp_requests(monkeypatch)
    store = sftp_store(tmp_path)
    try:
        names = [f"data/{i:02x}/{os.urandom(32).hex()}" for i in range(6)]
        for name in names:
            store.put(name, os.urandom(300_000))
        assert [store.get(n) != b"" for n in names] == [True] * len(names)
    finally:
        store.close()
    ext = paramiko.sftp.CMD_EXTENDED
    for name in names:
        renamed = [
            i for i, (_, t, a) in enumerate(requests)
            if t == paramiko.sftp.CMD_RENAME and a[1].endswith(name)
        ]  # fmt: skip
        assert len(renamed) == 1, name
        session, _, (tmp, _final) = requests[renamed[0]]
        opened = [
            i for i, (s, t, a) in enumerate(requests[: renamed[0]])
            if s == session and t == paramiko.sftp.CMD_OPEN and a[0] == tmp
        ]  # fmt: skip
        assert len(opened) == 1, name
        synced = [
            i for i, (s, t, a) in enumerate(requests)
            if opened[0] < i < renamed[0] and s == session and t == ext
            and a[0] == "fsync@openssh.com"
        ]  # fmt: skip
        assert synced, f"{name}: renamed into place without the server fsyncing it"


def test_a_server_that_refuses_fsync_still_takes_writes_and_is_asked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An administrator may deny the request (`sftp-server -P fsync`): the write stands
    as durable as the server keeps it, rather than no backup over SFTP at all."""
    sshd = Sshd(tmp_path / "sshd")
    config = sshd.config.read_text()
    assert "Subsystem sftp internal-sftp\n" in config
    sshd.config.write_text(config.replace("internal-sftp\n", "internal-sftp -P fsync\n"))
    server = sshd.start()
    requests = sftp_requests(monkeypatch)
    try:
        store = server.store(tmp_path / "store")
        try:
            objects = {f"data/00/{os.urandom(32).hex()}": os.urandom(1000) for _ in range(3)}
            for name, data in objects.items():
                store.put(name, data)
            assert all(store.get(name) == data for name, data in objects.items())
        finally:
            store.close()
    finally:
        sshd.stop()
    asked = [
        a for _, t, a in requests if t == paramiko.sftp.CMD_EXTENDED and a[0] == "fsync@openssh.com"
    ]
    assert len(asked) == 1  # refused once: not asked again
