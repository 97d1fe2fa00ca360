"""A real `ripcord serve` for the tests: the CLI in a subprocess on 127.0.0.1.

The server binds a free port itself (`--listen 127.0.0.1:0`) and says which in
its log, so no port is guessed. One plain-HTTP server serves the whole session
(contract suite and most integration tests); tests that need TLS, --append-only,
a small size limit or a server they may kill start their own. A server that does
not come up fails the run with its log; it is never a skip. Each is stopped by
its PID.

Test users get bcrypt hashes of cost 4 (a millisecond each; `serve user add`
writes cost 12), so the contract suite can have a fresh user, and so a fresh
repository, for every store it makes.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import gc
import ipaddress
import itertools
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ripcord.server.users import set_user
from ripcord.storage.rest import RestLocation, RestStore

_START_TIMEOUT = 30.0
_LISTENING = re.compile(r"listening on (https?)://127\.0\.0\.1:(\d+)")
_users = itertools.count()


@dataclass
class RestServer:
    base: Path  # the server's own files: root/, users.txt, serve.log
    extra: tuple[str, ...] = ()  # serve options beyond --root, --users, --listen
    cacert: Path | None = None
    port: int = 0
    scheme: str = "http"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def users(self) -> Path:
        return self.base / "users.txt"

    @property
    def log(self) -> Path:
        return self.base / "serve.log"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> RestServer:
        """Start (or, after stop/kill, start again on the same port)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.users.touch(mode=0o600)
        listen = f"127.0.0.1:{self.port}"
        args = ["serve", "--root", str(self.root), "--users", str(self.users)]
        code = "from ripcord.cli.main import main; main()"
        with open(self.log, "ab") as log:
            start = log.tell()
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, *args, "--listen", listen, *self.extra],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            m = _LISTENING.search(self.log.read_bytes()[start:].decode(errors="replace"))
            if m:
                self.scheme, self.port = m.group(1), int(m.group(2))
                return self
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"ripcord serve did not start:\n{self.log.read_text()[-4000:]}", pytrace=False)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: the server dies mid-request, as in a crash."""
        self.stop(signal.SIGKILL)

    def add_user(self, name: str) -> str:
        """A user (and so a repository) of this name, with a fresh token; returns the token."""
        token = f"token-{name}-{next(_users)}"
        set_user(self.users, name, token, rounds=4)
        return token

    def url(self, user: str, token: str, repository: str | None = None) -> str:
        """The location a user would give: rest+http(s)://user:token@127.0.0.1:port/repo."""
        query = f"?cacert={self.cacert}" if self.cacert else ""
        repo = repository or user
        return f"rest+{self.scheme}://{user}:{token}@127.0.0.1:{self.port}/{repo}{query}"

    def location(self, user: str, token: str) -> RestLocation:
        cacert = str(self.cacert) if self.cacert else None
        return RestLocation(self.endpoint, user, user, token, cacert)

    def new_store(self, **options: Any) -> RestStore:
        """A store in a fresh, empty repository of a fresh user."""
        name = f"u{next(_users)}"
        return RestStore(self.location(name, self.add_user(name)), **options)


@contextlib.contextmanager
def running_rest_server(*extra: str, tls: bool = False) -> Iterator[RestServer]:
    """A private server with `extra` serve options, stopped and removed at the end."""
    base = Path(tempfile.mkdtemp(prefix="ripcord-serve-"))
    server = RestServer(base, extra)
    if tls:
        cert, key = self_signed_cert(base)
        server.extra += ("--tls-cert", str(cert), "--tls-key", str(key))
        server.cacert = cert
    try:
        yield server.start()
    finally:
        # The in-process CLI runner leaves its stores to the garbage collector (a command
        # exits there), and uvicorn waits for an idle TLS client to answer its close:
        # collect them, so their connections close now.
        gc.collect()
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def self_signed_cert(where: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ripcord test server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = where / "cert.pem", where / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


_session = contextlib.ExitStack()
_shared: list[RestServer] = []


def shared_rest_server() -> RestServer:
    """The session's plain-HTTP server, started on first use, stopped when the process exits."""
    if not _shared:
        atexit.register(_session.close)
        _shared.append(_session.enter_context(running_rest_server()))
    return _shared[0]


@pytest.fixture(scope="session")
def rest_server() -> Iterator[RestServer]:
    yield shared_rest_server()
    _session.close()
    _shared.clear()


def rest_store(_tmp: Path) -> RestStore:
    """A RestStore in a fresh repository of the session's server (the contract factory)."""
    return shared_rest_server().new_store()
