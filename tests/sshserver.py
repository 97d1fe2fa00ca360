"""A real OpenSSH sshd on 127.0.0.1 for the SFTP store's tests.

One server per test session (up in ~0.2 s), with its own host key, one
authorized client key and temporary directories; see /work/shared/TEST-SERVERS.md.
It is never skipped: if sshd cannot start, the tests fail with its log.

Fault tests and the remote benchmark start their own `Sshd`, which can be killed
(with every session it serves) and started again on the same port and keys.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ripcord.storage.sftp import SftpStore

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class SshServer:
    host: str
    port: int
    user: str
    client_key: Path
    host_public_key: str  # "type base64", as a known_hosts line wants it
    base: Path  # the server's own files

    def known_hosts(self) -> Path:
        """A known_hosts file that trusts this server."""
        path = self.base / "known_hosts"
        if not path.exists():
            path.write_text(f"[{self.host}]:{self.port} {self.host_public_key}\n")
        return path

    def store(self, path: Path, **options: Any) -> SftpStore:
        """An SFTP store in `path` on this server, trusting it (`options`: SftpStore's)."""
        options.setdefault("key_filename", str(self.client_key))
        options.setdefault("known_hosts", str(self.known_hosts()))
        return SftpStore(self.host, self.port, self.user, str(path), **options)

    def url(self, path: Path) -> str:
        """The sftp:// location of a repository in `path` on this server, trusting it."""
        return (
            f"sftp://{self.user}@{self.host}:{self.port}{quote(str(path))}"
            f"?key={self.client_key}&known_hosts={self.known_hosts()}"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """Every process descended from `pid` (sshd puts each session in a session of its own,
    so its process group does not hold them)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        for child in parents.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


class Sshd:
    """An sshd with its own keys, config and port in `base`; start, stop, kill, start again."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        _keygen(base / "host_key")
        _keygen(base / "client_key")
        (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
        port = _free_port()
        self.config = base / "sshd_config"
        self.config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\n"
            f"PidFile {base / 'sshd.pid'}\nAuthorizedKeysFile {base / 'authorized_keys'}\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "Subsystem sftp internal-sftp\n"
        )
        self.log = base / "sshd.log"
        host_key = (base / "host_key.pub").read_text().split()
        self.server = SshServer(
            host="127.0.0.1",
            port=port,
            user=pwd.getpwuid(os.getuid()).pw_name,
            client_key=base / "client_key",
            host_public_key=f"{host_key[0]} {host_key[1]}",
            base=base,
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SshServer:
        """Start listening (again); raises RuntimeError with the log if sshd does not."""
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config)], stdout=out, stderr=out
            )
        deadline = time.monotonic() + 10
        while not _listening(self.server.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sshd did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self.server

    def kill(self) -> None:
        """SIGKILL the listener and every session it serves, as a crash of the host would."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGSTOP)  # accepts no connection while its sessions die
        for pid in [self.proc.pid, *children(self.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):  # ended on its own meanwhile
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        """End the listener (sessions end as their clients leave)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


class _SessionSshd:
    """The one server of this test run, started on first use."""

    def __init__(self) -> None:
        self.sshd: Sshd | None = None

    def start(self) -> SshServer:
        if self.sshd is not None:
            return self.sshd.server
        self.sshd = Sshd(Path(tempfile.mkdtemp(prefix="ripcord-sshd-")))
        atexit.register(self.stop)  # also when only the contract factory started it
        try:
            return self.sshd.start()
        except RuntimeError as e:
            self.stop()
            pytest.fail(str(e), pytrace=False)

    def stop(self) -> None:
        if self.sshd is not None:
            self.sshd.stop()
            shutil.rmtree(self.sshd.server.base, ignore_errors=True)
        self.sshd = None


_SSHD = _SessionSshd()


@pytest.fixture(scope="session", name="sshd")
def sshd_fixture() -> Iterator[SshServer]:
    """The test run's sshd; stopped at the end of the session."""
    yield _SSHD.start()
    _SSHD.stop()


def sftp_store(tmp: Path, **options: Any) -> SftpStore:
    """A store in `tmp` (the server runs here, as this user) over SFTP, trusting the server."""
    if "known_hosts" in options:
        options["known_hosts"] = str(options["known_hosts"])
    return _SSHD.start().store(tmp / "sftp-store", **options)
