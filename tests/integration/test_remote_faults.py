"""Remote stores failing under a running command: a SeaweedFS or an sshd killed mid-backup and
started again, an S3 server away (connections reset) for a restore's first requests, an SFTP
server gone silent, and endpoints nobody listens on.

Every server here is this module's own (tests/s3server.Seaweed, tests/sshserver.Sshd), killed
with SIGKILL as a crash would, and started again on the same ports and data; the session's
shared servers are never touched. Commands run as subprocesses, as a user runs them, so their
exit code and stderr are what a user sees. Whatever a command does when its server dies (S3
retries with backoff; SFTP gives up), it must end with a clear message and a documented exit
code, never a traceback; a rerun must succeed, `check --read-data` must find nothing wrong,
and the latest snapshot must restore byte for byte.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ripcord.errors import StoreError
from tests.conftest import PASSWORD, Result
from tests.crash.boot import KILL_AT, SIGNAL
from tests.faults import assert_clean_failure
from tests.s3server import S3Server, Seaweed
from tests.sshserver import Sshd, children
from tests.trees import assert_same, restored, tree_state

_MAIN = "from ripcord.cli.main import main; main()"
_ROOT = Path(__file__).resolve().parents[2]  # where `python -m tests.crash.boot` is found
_NEVER = 120.0  # a failure guard only: a command still running after this has hung


class Ripcord:
    """`ripcord -r URL ...` in a subprocess with its own cache and config directories."""

    def __init__(self, url: str, home: Path, env: dict[str, str] | None = None) -> None:
        self.url = url
        self.env = {
            **os.environ,
            **(env or {}),
            "RIPCORD_PASSWORD": PASSWORD,
            "RIPCORD_CACHE_DIR": str(home / "cache"),
            "RIPCORD_DATA_DIR": str(home / "data"),
            "RIPCORD_CONFIG_DIR": str(home / "config"),
            "RIPCORD_NO_PROGRESS": "1",
        }
        self.env.pop("RIPCORD_REPO", None)

    def start(self, *args: str, stop_at: str | None = None) -> subprocess.Popen[str]:
        """Run `ripcord ARGS`; with `stop_at` (a store call, as tests/crash/boot.py reads
        it: "put:2+"), through the crash boot, which freezes the process there."""
        main, env = ["-c", _MAIN], self.env
        if stop_at is not None:
            main, env = ["-m", "tests.crash.boot"], {**env, KILL_AT: stop_at, SIGNAL: "STOP"}
        return subprocess.Popen(
            [sys.executable, *main, "-r", self.url, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=_ROOT,
        )

    @staticmethod
    def finish(proc: subprocess.Popen[str]) -> Result:
        try:
            out, err = proc.communicate(timeout=_NEVER)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"ripcord {proc.args!r} hung:\n{err}")
        return Result(proc.returncode, out, err)

    def __call__(self, *args: str) -> Result:
        return self.finish(self.start(*args))

    def ok(self, *args: str) -> Result:
        r = self(*args)
        assert r.code == 0, f"ripcord {' '.join(args)} exited {r.code}: {r.err}{r.out}"
        return r


@pytest.fixture(scope="module")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    weed = Seaweed(tmp_path_factory.mktemp("seaweedfs"))
    weed.start()
    try:
        yield weed
    finally:
        weed.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    sshd = Sshd(tmp_path_factory.mktemp("sshd"))
    sshd.start()
    try:
        yield sshd
    finally:
        sshd.stop()


# put 1 is the backup's lock, put 2 its first pack: frozen once that pack is stored, the
# backup has more to upload (the tree pack, the index, the snapshot) however fast it runs
AFTER_FIRST_PACK = "put:2+"


def _frozen_mid_backup(rc: Ripcord, src: Path) -> subprocess.Popen[str]:
    """A backup frozen (SIGSTOP, by itself) right after its first pack is stored."""
    backup = rc.start("backup", str(src), stop_at=AFTER_FIRST_PACK)
    deadline = time.monotonic() + _NEVER
    while _state(backup.pid) != "T":
        assert backup.poll() is None, f"backup ended before its stop point: {rc.finish(backup)}"
        assert time.monotonic() < deadline, "the backup never reached its stop point"
        time.sleep(0.01)
    return backup


def _state(pid: int) -> str:
    """The process state letter of /proc/PID/stat: "T" when stopped."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _afterwards(rc: Ripcord, src: Path, out: Path) -> None:
    """A rerun succeeds, nothing is damaged, and the latest snapshot is the source."""
    rc.ok("backup", str(src))
    rc.ok("check", "--read-data")
    rc.ok("restore", "latest", "--target", str(out))
    assert_same(tree_state(src), tree_state(restored(out, src)))


def _ended_cleanly(r: Result) -> None:
    """Either the command got through, or it failed with a message and exit code 1."""
    if r.code != 0:
        assert_clean_failure(r, "cannot", code=1)


def _s3(weed: Seaweed, tmp_path: Path) -> tuple[Ripcord, str]:
    bucket = weed.server.new_bucket()
    rc = Ripcord(weed.server.url(bucket, "repo"), tmp_path / "home", weed.server.env())
    rc.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
    return rc, bucket


def test_s3_server_killed_mid_backup_and_back(weed: Seaweed, src: Path, tmp_path: Path) -> None:
    """Restarted at once, the server is back within the S3 retries' backoff: the backup
    goes on (or, had it not, it fails cleanly); nothing it stored is lost either way."""
    rc, bucket = _s3(weed, tmp_path)
    backup = _frozen_mid_backup(rc, src)
    client: Any = weed.server.client()
    try:
        packs = client.list_objects_v2(Bucket=bucket, Prefix="repo/data/").get("Contents", [])
        assert len(packs) == 1  # the first pack is stored, the rest of the backup is not
    finally:
        client.close()
    try:
        weed.kill()
        weed.start()
    finally:
        backup.send_signal(signal.SIGCONT)
    _ended_cleanly(rc.finish(backup))
    _serving(weed.server, bucket, "repo/config")
    _afterwards(rc, src, tmp_path / "out")


def _serving(server: S3Server, bucket: str, key: str) -> None:
    """Wait until a restarted SeaweedFS reads what it stored before: for up to ~5 s after it
    listens it answers 500 (its volumes are not yet known to its master again)."""
    client: Any = server.client()
    deadline = time.monotonic() + _NEVER
    try:
        while True:
            try:
                client.get_object(Bucket=bucket, Key=key)["Body"].read()
                return
            except Exception:  # the 500s of a server still coming up
                assert time.monotonic() < deadline, f"{key} never became readable again"
                time.sleep(0.1)
    finally:
        client.close()


def _sftp(sshd: Sshd, tmp_path: Path) -> tuple[Ripcord, Path]:
    remote = tmp_path / "remote"
    rc = Ripcord(sshd.server.url(remote), tmp_path / "home")
    rc.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
    return rc, remote


def test_sshd_killed_mid_backup_with_its_sessions(sshd: Sshd, src: Path, tmp_path: Path) -> None:
    """The connection is gone: the backup stops with a clear error (it does not reconnect),
    and once the server is back a rerun completes it."""
    rc, remote = _sftp(sshd, tmp_path)
    backup = _frozen_mid_backup(rc, src)
    assert len(list((remote / "data").glob("*/*"))) == 1  # the first pack, no more
    try:
        sshd.kill()
    finally:
        backup.send_signal(signal.SIGCONT)
    r = rc.finish(backup)
    sshd.start()
    assert_clean_failure(r, "connection lost", code=1)
    assert r.err.count("\n") == 1, r.err  # one line, ripcord's: no paramiko log records
    assert rc.ok("snapshots", "--json").json == []  # nothing was claimed saved
    _afterwards(rc, src, tmp_path / "out")


class _Gate:
    """A TCP relay to a server that resets the first `refuse` connections made through it
    (the server away, as its client sees it), then relays; it counts what it reset."""

    def __init__(self, target: int, refuse: int) -> None:
        self.target, self.refuse, self.refused = target, refuse, 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.refused < self.refuse:
                self.refused += 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # a reset, not a goodbye
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((conn, server), (server, conn)):
                threading.Thread(target=_relay, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._listener.close()


def _relay(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(1 << 16):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def test_s3_requests_meeting_a_reset_connection_are_retried(
    weed: Seaweed, tmp_path: Path, src: Path
) -> None:
    """botocore's standard retries (with backoff) carry a restore over a server that is away
    for its first requests. Not shown with a real restart of SeaweedFS: after one it answers
    reads of existing objects with 500 for up to ~5 s more (its volumes are not yet known to
    its master), while the retries wait ~6 s in all on average (8 retries, jittered backoff
    from 50 ms, 12.75 s at most), so a restore across a restart only sometimes gets through."""
    rc, bucket = _s3(weed, tmp_path)
    rc.ok("backup", str(src))
    gate = _Gate(int(weed.server.endpoint.rsplit(":", 1)[1]), refuse=3)
    try:
        gated = dataclasses.replace(weed.server, endpoint=f"http://127.0.0.1:{gate.port}")
        through = Ripcord(gated.url(bucket, "repo"), tmp_path / "home", weed.server.env())
        r = through("restore", "latest", "--target", str(tmp_path / "out"))
    finally:
        gate.close()
    assert r.code == 0, r.err
    assert gate.refused == 3  # the restore met every reset, and went on
    assert_same(tree_state(src), tree_state(restored(tmp_path / "out", src)))


def test_an_sftp_server_that_stops_answering_is_an_error_not_a_hang(
    sshd: Sshd, tmp_path: Path
) -> None:
    """A server that is there but silent (stopped, or a link that went dark) must not hang a
    command: a reply that does not come in time counts as a lost connection."""
    server = sshd.server
    store = server.store(tmp_path / "remote", reply_timeout=1)
    store.put("config", b"settings")
    assert sshd.proc is not None
    sessions = children(sshd.proc.pid)  # its sessions: this store's
    try:
        for pid in sessions:
            os.kill(pid, signal.SIGSTOP)
        with pytest.raises(StoreError, match="connection lost"):
            store.get("config")
    finally:
        for pid in sessions:
            os.kill(pid, signal.SIGCONT)
        store.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nobody listens there


def test_an_s3_endpoint_nobody_listens_on(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"s3://bucket/repo?endpoint=http://127.0.0.1:{port}&region=us-east-1"
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    r = Ripcord(url, tmp_path, env)("snapshots")
    assert_clean_failure(r, "Could not connect to the endpoint URL", f"127.0.0.1:{port}", code=1)


def test_an_sftp_host_nobody_listens_on(sshd: Sshd, tmp_path: Path) -> None:
    port = _closed_port()
    server = sshd.server
    url = f"sftp://{server.user}@127.0.0.1:{port}/srv/repo?key={server.client_key}"
    r = Ripcord(url, tmp_path)("snapshots")
    assert_clean_failure(r, "cannot connect to", f"127.0.0.1:{port}", code=1)
