"""A repository in a directory on an SSH server, over SFTP (paramiko).

One SSH connection is opened and reused. On it run up to `CHANNELS` SFTP sessions
(channels), each lent to one thread at a time since paramiko's SFTP client is not
safe to share between threads, so that uploads, downloads and listings from
several threads go on at once. Writes go to a
temporary name under `.tmp/` and are then renamed with the plain SFTP rename,
which OpenSSH's server performs as link+unlink and so refuses when the target
exists: nothing is ever overwritten (posix-rename would overwrite). Before the
rename the server is asked to fsync the file (OpenSSH's fsync@openssh.com; paramiko
has no call for it, so the extended request is sent by hand); a server without the
extension, or refusing it, is remembered and not asked again. No SFTP request syncs
a folder: the rename's own durability is the server file system's (docs/GUARANTEES.md).

Measured against OpenSSH on loopback (bench/RESULTS.md): reads are asked for in
32 KiB requests, all sent at once, rather than as one range (paramiko then glues
its buffer together piece by piece, quadratic in the size read: 3x the CPU);
TCP_NODELAY is set (without it, read requests wait on delayed ACKs: ~1.7x slower
reads); AES-GCM is preferred when the server offers it (a third less client CPU
per byte than AES-CTR with HMAC-SHA2). Writes are pipelined.

A connection that drops fails the operation with StoreUnavailable; a reply that
does not come in `REPLY_TIMEOUT` counts as a dropped connection, so a vanished
server ends a command instead of hanging it. `open_sftp` puts the store behind
the retry wrapper, which connects anew and tries again.

An unknown host key is refused unless the caller asked to accept a new host, as
`ssh -o StrictHostKeyChecking=accept-new` does; a changed host key is always
refused.

Temporary files older than a day (`STALE_TEMP`) are a dead writer's, and are
removed when a store opens: the server gives no other way to tell.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import posixpath
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Any

import paramiko

from ripcord.errors import StoreError
from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, Store, validate_name
from ripcord.storage.errors import ObjectExists, ObjectNotFound, StoreFull, StoreUnavailable
from ripcord.storage.retry import Retrying
from ripcord.storage.urls import parse_sftp_url

_TMP = ".tmp"
# a temporary file is one pack being uploaded: one this old was left by a writer
# that died (it has no pid or host to ask), and is removed when a store opens
STALE_TEMP = 24 * 3600
CHANNELS = 4  # SFTP sessions on the one connection; OpenSSH allows 10 (MaxSessions)
CONNECT_TIMEOUT = 30  # seconds for TCP, the SSH banner and logging in
REPLY_TIMEOUT = 120  # seconds without a byte of a reply before the connection counts as lost
# paramiko's failures of the connection itself (a server's refusal is an OSError with errno)
_LOST = (EOFError, TimeoutError, paramiko.SSHException)
# paramiko logs what its transport thread sees go wrong (with tracebacks, at times) to
# stderr when nothing else takes its records; the operation's StoreError says it for us
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class SftpStore:
    capabilities: Capabilities

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        path: str,
        key_filename: str | None = None,
        known_hosts: str | None = None,
        accept_new_host: bool = False,
        channels: int = CHANNELS,
        reply_timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.where = f"sftp://{user}@{host}:{port}{path}"
        self.root = path.rstrip("/") or "/"
        self.capabilities = Capabilities(transfers=channels)
        self._dirs: set[str] = set()  # directories known to exist (ripcord never removes one)
        self._fsync = True  # False once the server said it has no fsync@openssh.com
        self._ssh = paramiko.SSHClient()
        known = Path(os.path.expanduser(known_hosts or "~/.ssh/known_hosts"))
        if known.exists():
            self._ssh.load_host_keys(str(known))
        self._ssh.set_missing_host_key_policy(_HostKeyPolicy(port, known, accept_new_host))
        try:
            self._ssh.connect(
                host,
                port,
                username=user,
                key_filename=key_filename,
                look_for_keys=key_filename is None,
                allow_agent=key_filename is None,
                timeout=CONNECT_TIMEOUT,
                banner_timeout=CONNECT_TIMEOUT,
                auth_timeout=CONNECT_TIMEOUT,
                channel_timeout=CONNECT_TIMEOUT,
                transport_factory=_transport,
            )
            transport = self._ssh.get_transport()
            assert transport is not None  # connect() made it
            self._channels = _Channels(transport, channels, reply_timeout)
            self._channels.give(self._channels.take(), True)  # the server speaks SFTP
        except paramiko.BadHostKeyException as e:
            self._ssh.close()
            raise StoreError(
                f"the host key of {host}:{port} has changed (now {_fingerprint(e.key)});"
                f" if that is expected, remove the old key from {known}"
            ) from None
        except paramiko.AuthenticationException as e:
            self._ssh.close()
            raise StoreError(f"cannot log in to {self.where} as {user}: {e}") from None
        except StoreError:
            self._ssh.close()
            raise
        except (paramiko.SSHException, OSError, EOFError) as e:
            self._ssh.close()
            raise StoreError(f"cannot connect to {self.where}: {e or type(e).__name__}") from None
        self._sweep_stale_temps()

    def _sweep_stale_temps(self) -> None:
        tmp = posixpath.join(self.root, _TMP)
        with self._session("list", _TMP) as sftp:
            try:
                entries = sftp.listdir_attr(tmp)
            except OSError:
                return  # no .tmp/ yet, or unreadable: nothing to sweep
            now = time.time()
            for e in entries:
                if e.st_mtime is not None and now - e.st_mtime > STALE_TEMP:
                    _remove_quietly(sftp, posixpath.join(tmp, e.filename))

    @classmethod
    def from_url(cls, url: str) -> SftpStore:
        """Open `sftp://[user@]host[:port]/path[?key=F&known_hosts=F&accept_new_host=1]`."""
        loc = parse_sftp_url(url)
        return cls(
            loc.host,
            loc.port,
            loc.user,
            loc.path,
            key_filename=loc.key_filename,
            known_hosts=loc.known_hosts,
            accept_new_host=loc.accept_new_host,
        )

    def _path(self, name: str) -> str:
        return posixpath.join(self.root, validate_name(name))

    @contextlib.contextmanager
    def _session(self, doing: str, name: str) -> Iterator[paramiko.SFTPClient]:
        """An SFTP session of this thread's own for one operation; a server's refusal
        that the operation does not handle, or a lost connection, becomes a StoreError."""
        try:
            sftp = self._channels.take()
        except (*_LOST, OSError) as e:
            raise self._lost(doing, name, e) from None
        healthy = True
        try:
            yield sftp
        except (*_LOST, OSError) as e:
            if isinstance(e, _LOST) or sftp.sock.closed:
                healthy = False  # never lent again: replies may still be on their way
                raise self._lost(doing, name, e) from None
            assert isinstance(e, OSError)
            raise self._error(doing, name, e) from e
        finally:
            self._channels.give(sftp, healthy)

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        final = self._path(name)
        tmp = posixpath.join(self.root, _TMP, os.urandom(12).hex())
        with self._session("write", name) as sftp:
            self._makedirs(sftp, posixpath.dirname(tmp))
            try:
                with sftp.open(tmp, "wbx") as f:
                    f.set_pipelined(True)
                    f.write(data)
                    f.flush()
                    self._fsync = self._fsync and _server_fsync(sftp, f)
                self._makedirs(sftp, posixpath.dirname(final))
                try:
                    sftp.rename(tmp, final)
                except OSError:
                    if _exists(sftp, final):
                        raise ObjectExists(f"{name} already exists") from None
                    raise
            except BaseException:
                _remove_quietly(sftp, tmp)
                raise

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self._path(name)
        with self._session("read", name) as sftp:
            try:
                with sftp.open(path, "rb") as f:
                    st = f.stat()
                    if st.st_mode is None or not S_ISREG(st.st_mode):
                        raise ObjectNotFound(f"{name} not found")
                    size = st.st_size or 0
                    end = size if length is None else min(size, offset + length)
                    if end <= offset:
                        return b""
                    step = f.MAX_REQUEST_SIZE  # one request per piece, all sent at once
                    pieces = [(at, min(step, end - at)) for at in range(offset, end, step)]
                    return b"".join(f.readv(pieces))
            except FileNotFoundError:
                raise ObjectNotFound(f"{name} not found") from None

    def stat(self, name: str) -> ObjectInfo:
        path = self._path(name)
        with self._session("stat", name) as sftp:
            try:
                st = sftp.stat(path)
            except FileNotFoundError:
                raise ObjectNotFound(f"{name} not found") from None
        if st.st_mode is None or not S_ISREG(st.st_mode):  # a directory is a prefix
            raise ObjectNotFound(f"{name} not found")
        return ObjectInfo(name, st.st_size or 0)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        pending = [validate_name(prefix)]
        while pending:
            rel = pending.pop()
            with self._session("list", rel) as sftp:  # not held while the caller works
                try:
                    entries = sftp.listdir_attr(posixpath.join(self.root, rel))
                except FileNotFoundError:
                    continue
                except OSError as e:
                    if e.errno is None and _is_file(sftp, posixpath.join(self.root, rel)):
                        continue  # a prefix naming an object
                    raise
            for entry in entries:
                mode = entry.st_mode or 0
                if S_ISDIR(mode):
                    pending.append(f"{rel}/{entry.filename}")
                elif S_ISREG(mode):
                    yield ObjectInfo(f"{rel}/{entry.filename}", entry.st_size or 0)

    def delete(self, name: str) -> None:
        path = self._path(name)
        with self._session("delete", name) as sftp:
            try:
                sftp.remove(path)
            except FileNotFoundError:
                raise ObjectNotFound(f"{name} not found") from None
            except OSError:
                if not _is_file(sftp, path):  # a directory: a prefix, not an object
                    raise ObjectNotFound(f"{name} not found") from None
                raise

    def close(self) -> None:
        self._channels.close()
        self._ssh.close()

    # -- helpers ---------------------------------------------------------------------------

    def _makedirs(self, sftp: paramiko.SFTPClient, path: str) -> None:
        """Create `path` and its parents; most already exist, so try the deepest first."""
        if path in self._dirs:
            return
        missing: list[str] = []
        top = path
        while top not in ("/", "") and not _exists(sftp, top):
            missing.append(top)
            top = posixpath.dirname(top)
        for d in reversed(missing):
            try:
                sftp.mkdir(d)
            except OSError:
                if not _exists(sftp, d):  # made by another writer meanwhile is fine
                    raise
        self._dirs.add(path)

    def _lost(self, doing: str, name: str, e: BaseException) -> StoreError:
        reason = str(e) or type(e).__name__
        return StoreUnavailable(
            f"cannot {doing} {name} on {self.where}: connection lost ({reason})"
        )

    def _error(self, doing: str, name: str, e: OSError) -> StoreError:
        if e.errno == errno.ENOSPC:
            return StoreFull(f"no space left writing {name} to {self.where}")
        reason = e.strerror or str(e) or type(e).__name__
        return StoreError(f"cannot {doing} {name} on {self.where}: {reason}")


def open_sftp(url: str) -> Store:
    """The store at `url`, behind the retry wrapper: a dropped connection is opened
    again and the operation retried (with backoff) instead of failing the command."""
    return Retrying(SftpStore.from_url(url), reopen=lambda: SftpStore.from_url(url))


class _Channels:
    """SFTP sessions on one SSH connection, each lent to one thread at a time; a new one
    is opened only when every open one is busy, up to `limit`."""

    def __init__(self, transport: paramiko.Transport, limit: int, reply_timeout: float) -> None:
        self._transport = transport
        self._reply_timeout = reply_timeout
        self._limit = max(1, limit)
        self._idle: list[paramiko.SFTPClient] = []
        self._open = 0
        self._changed = threading.Condition()

    def take(self) -> paramiko.SFTPClient:
        with self._changed:
            while not self._idle and self._open >= self._limit:
                self._changed.wait()
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            sftp = paramiko.SFTPClient.from_transport(self._transport)
            if sftp is None:
                raise paramiko.SSHException("the server opened no SFTP session")
            sftp.sock.settimeout(self._reply_timeout)
            return sftp
        except BaseException:
            self.give(None, False)
            raise

    def give(self, sftp: paramiko.SFTPClient | None, healthy: bool) -> None:
        with self._changed:
            if healthy and sftp is not None:
                self._idle.append(sftp)
            else:
                self._open -= 1
            self._changed.notify()
        if sftp is not None and not healthy:
            with contextlib.suppress(OSError, *_LOST):  # its connection is gone already
                sftp.close()

    def close(self) -> None:
        with self._changed:
            idle, self._idle = self._idle, []
        for sftp in idle:
            with contextlib.suppress(OSError, *_LOST):  # its connection is gone already
                sftp.close()


def _transport(sock: Any, /, **options: Any) -> paramiko.Transport:
    """paramiko's transport with the two settings that measurably speed it up."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock, **options)
    security = transport.get_security_options()
    security.ciphers = tuple(sorted(security.ciphers, key=lambda c: "-gcm@" not in c))
    return transport


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


def _is_file(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        st = sftp.stat(path)
    except OSError:
        return False
    return st.st_mode is not None and S_ISREG(st.st_mode)


def _server_fsync(sftp: paramiko.SFTPClient, f: paramiko.SFTPFile) -> bool:
    """Have the server fsync an open file (after the writes before it: a server answers
    requests in order); False if it does not know the extension or refuses it (OpenSSH's
    `sftp-server -P fsync`): the write stands, as durable as the server keeps it."""
    try:
        sftp._request(paramiko.sftp.CMD_EXTENDED, "fsync@openssh.com", f.handle)  # type: ignore[attr-defined]
    except OSError as e:
        if e.errno == errno.EACCES or "unsupported" in str(e).lower():  # SSH_FX_OP_UNSUPPORTED
            return False
        raise
    return True


def _remove_quietly(sftp: paramiko.SFTPClient, path: str) -> None:
    with contextlib.suppress(OSError, *_LOST):  # never written, or the connection is gone
        sftp.remove(path)


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Refuse an unknown host with a message saying how to accept it, or accept and record it."""

    def __init__(self, port: int, known_hosts: Path, accept_new: bool) -> None:
        self.port = port
        self.known_hosts = known_hosts
        self.accept_new = accept_new

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        if not self.accept_new:
            host = hostname.split("]")[0].lstrip("[")
            raise StoreError(
                f"unknown host key for {host}:{self.port} ({_fingerprint(key)});"
                f" check it, then add it to {self.known_hosts}"
                f" (ssh-keyscan -p {self.port} {host} >> {self.known_hosts})"
                " or accept it once (?accept_new_host=1 on the sftp:// location)"
            )
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.known_hosts, "a") as f:
            f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"
