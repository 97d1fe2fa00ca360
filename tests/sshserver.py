"""A real OpenSSH sshd on 127.0.0.1 for the SFTP store's tests.

One server per test session (up in ~0.2 s), with its own host key, one
authorized client key and temporary directories; see /work/shared/TEST-SERVERS.md.
It is never skipped: if sshd cannot start, the tests fail with its log.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class _Sshd:
    """The one server of this test run, started on first use."""

    def __init__(self) -> None:
        self.server: SshServer | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SshServer:
        if self.server is not None:
            return self.server
        base = Path(tempfile.mkdtemp(prefix="ripcord-sshd-"))
        _keygen(base / "host_key")
        _keygen(base / "client_key")
        (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
        port = _free_port()
        config = base / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\n"
            f"PidFile {base / 'sshd.pid'}\nAuthorizedKeysFile {base / 'authorized_keys'}\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "Subsystem sftp internal-sftp\n"
        )
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
        log = base / "sshd.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)], stdout=out, stderr=out
            )
        atexit.register(self.stop)  # also when only the contract factory started it
        deadline = time.monotonic() + 10
        while not _listening(port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"sshd did not start:\n{log.read_text()}", pytrace=False)
            time.sleep(0.05)
        host_key = (base / "host_key.pub").read_text().split()
        self.server = SshServer(
            host="127.0.0.1",
            port=port,
            user=pwd.getpwuid(os.getuid()).pw_name,
            client_key=base / "client_key",
            host_public_key=f"{host_key[0]} {host_key[1]}",
            base=base,
        )
        return self.server

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None
        if self.server is not None:
            shutil.rmtree(self.server.base, ignore_errors=True)
        self.server = None


_SSHD = _Sshd()


@pytest.fixture(scope="session", name="sshd")
def sshd_fixture() -> Iterator[SshServer]:
    """The test run's sshd; stopped at the end of the session."""
    yield _SSHD.start()
    _SSHD.stop()


def sftp_store(tmp: Path, **options: Any) -> SftpStore:
    """A store in `tmp` (the server runs here, as this user) over SFTP, trusting the server."""
    server = _SSHD.start()
    options.setdefault("key_filename", str(server.client_key))
    options.setdefault("known_hosts", server.known_hosts())
    options["known_hosts"] = str(options["known_hosts"])
    return SftpStore(server.host, server.port, server.user, str(tmp / "sftp-store"), **options)
