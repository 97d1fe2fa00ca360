#!/usr/bin/env python3
"""paramiko's own knobs, measured: raw SFTP put and get of 8 MiB objects against OpenSSH on
127.0.0.1, by read style, TCP_NODELAY, cipher and number of SFTP sessions on one connection.

These are the measurements behind the choices in src/ripcord/storage/sftp.py. Each setting
runs `--repeat` times and reports the best throughput with its client CPU per MiB (the
server shares the machine, so CPU per MiB is the steadier figure on a busy box). Needs the
project venv (it starts the test suite's sshd):

    .venv/bin/python bench/sftp_knobs.py
    .venv/bin/python bench/sftp_knobs.py --objects 32 --repeat 5
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import queue
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the test suite's sshd
from tests.sshserver import Sshd, SshServer  # noqa: E402

SIZE = 8 << 20  # one pack
GCM_FIRST = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")


@dataclass(frozen=True)
class Setting:
    label: str
    channels: int = 1
    split_reads: bool = True  # 32 KiB requests, as ripcord asks; else one range per object
    nodelay: bool = True
    gcm: bool = True


SETTINGS = (
    Setting("as chosen (ripcord's), 1 session"),
    Setting("as chosen, but reads as one range", split_reads=False),
    Setting("as chosen, but no TCP_NODELAY", nodelay=False),
    Setting("as chosen, but AES-CTR + HMAC-SHA2", gcm=False),
    Setting("as chosen, 2 sessions", channels=2),
    Setting("as chosen, 4 sessions", channels=4),
    Setting("paramiko's defaults, 1 session", split_reads=False, nodelay=False, gcm=False),
)


def connect(server: SshServer, setting: Setting) -> paramiko.SSHClient:
    def transport(sock: Any, /, **options: Any) -> paramiko.Transport:
        if setting.nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = paramiko.Transport(sock, **options)
        if setting.gcm:
            t.get_security_options().ciphers = GCM_FIRST
        return t

    client = paramiko.SSHClient()
    client.load_host_keys(str(server.known_hosts()))
    client.connect(
        server.host,
        server.port,
        username=server.user,
        key_filename=str(server.client_key),
        look_for_keys=False,
        allow_agent=False,
        transport_factory=transport,
    )
    return client


def read(f: paramiko.SFTPFile, split: bool) -> bytes:
    if not split:
        return b"".join(f.readv([(0, SIZE)]))
    step = f.MAX_REQUEST_SIZE
    return b"".join(f.readv([(at, min(step, SIZE - at)) for at in range(0, SIZE, step)]))


def measure(server: SshServer, setting: Setting, root: Path, objects: int, repeat: int) -> str:
    client = connect(server, setting)
    transport = client.get_transport()
    assert transport is not None
    idle: queue.Queue[paramiko.SFTPClient] = queue.Queue()
    for _ in range(setting.channels):
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        idle.put(sftp)
    data = os.urandom(SIZE)
    root.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def lent() -> Iterator[paramiko.SFTPClient]:
        sftp = idle.get()
        try:
            yield sftp
        finally:
            idle.put(sftp)

    def put(i: int) -> None:
        with lent() as sftp, sftp.open(str(root / str(i)), "wb") as f:
            f.set_pipelined(True)
            f.write(data)

    def get(i: int) -> None:
        with lent() as sftp, sftp.open(str(root / str(i)), "rb") as f:
            assert len(read(f, setting.split_reads)) == SIZE

    mib = objects * SIZE / (1 << 20)
    best: dict[str, tuple[float, float]] = {}
    with ThreadPoolExecutor(setting.channels) as pool:
        for _ in range(repeat):
            for name, op in (("put", put), ("get", get)):
                rate, cpu = timed(functools.partial(everything, pool, op, objects), mib)
                if rate > best.get(name, (0.0, 0.0))[0]:
                    best[name] = (rate, cpu)
    cipher = getattr(transport, "remote_cipher", "?")  # not in the type stubs
    client.close()
    shutil.rmtree(root)
    cells = [f"{best[n][0]:.0f} | {best[n][1]:.1f}" for n in ("put", "get")]
    return f"| {setting.label} | {' | '.join(cells)} | {cipher} |"


def everything(pool: ThreadPoolExecutor, op: Callable[[int], None], objects: int) -> None:
    list(pool.map(op, range(objects)))


def timed(work: Callable[[], object], mib: float) -> tuple[float, float]:
    """MiB/s and client CPU ms per MiB."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return mib / (time.perf_counter() - wall), (time.process_time() - cpu) / mib * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--objects", type=int, default=16, help="8 MiB objects per round")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per setting; the best shown")
    ap.add_argument("--work", type=Path, default=HERE / "work" / "sftp_knobs")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    sshd = Sshd(args.work / "sshd")
    server = sshd.start()
    try:
        print(
            f"{args.objects} objects of 8 MiB, best of {args.repeat}; load {os.getloadavg()[0]:.1f}"
        )
        print("| setting | put MiB/s | put CPU ms/MiB | get MiB/s | get CPU ms/MiB | cipher |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for setting in SETTINGS:
            print(
                measure(server, setting, args.work / "remote", args.objects, args.repeat),
                flush=True,
            )
    finally:
        sshd.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
