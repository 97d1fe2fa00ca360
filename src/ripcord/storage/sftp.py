"""A repository in a directory on an SSH server, over SFTP (paramiko).

One SSH connection is opened and reused; a lock serialises requests on it, since
paramiko's SFTP client is not safe to share between threads. Writes go to a
temporary name under `.tmp/` and are then renamed with the plain SFTP rename,
which OpenSSH's server performs as link+unlink and so refuses when the target
exists: nothing is ever overwritten (posix-rename would overwrite).

An unknown host key is refused unless the caller asked to accept a new host, as
`ssh -o StrictHostKeyChecking=accept-new` does; a changed host key is always
refused.

Temporary files older than a day (`STALE_TEMP`) are a dead writer's, and are
removed when a store opens: the server gives no other way to tell.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import os
import posixpath
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from urllib.parse import parse_qsl, unquote, urlsplit

import paramiko

from ripcord.errors import StoreError, UsageError
from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, validate_name
from ripcord.storage.errors import ObjectExists, ObjectNotFound, StoreFull

_TMP = ".tmp"
# a temporary file is one pack being uploaded: one this old was left by a writer
# that died (it has no pid or host to ask), and is removed when a store opens
STALE_TEMP = 24 * 3600


class SftpStore:
    capabilities = Capabilities()

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        path: str,
        key_filename: str | None = None,
        known_hosts: str | None = None,
        accept_new_host: bool = False,
    ) -> None:
        self.where = f"sftp://{user}@{host}:{port}{path}"
        self.root = path.rstrip("/") or "/"
        self._lock = threading.RLock()
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
                timeout=30,
            )
            self._sftp = self._ssh.open_sftp()
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
        except (paramiko.SSHException, OSError) as e:
            self._ssh.close()
            raise StoreError(f"cannot connect to {self.where}: {e}") from None
        self._sweep_stale_temps()

    def _sweep_stale_temps(self) -> None:
        tmp = posixpath.join(self.root, _TMP)
        try:
            entries = self._sftp.listdir_attr(tmp)
        except OSError:
            return  # no .tmp/ yet, or unreadable: nothing to sweep
        now = time.time()
        for e in entries:
            if e.st_mtime is not None and now - e.st_mtime > STALE_TEMP:
                self._remove_quietly(posixpath.join(tmp, e.filename))

    @classmethod
    def from_url(cls, url: str) -> SftpStore:
        """Open `sftp://[user@]host[:port]/path[?key=F&known_hosts=F&accept_new_host=1]`."""
        u = urlsplit(url)
        options = dict(parse_qsl(u.query, keep_blank_values=True))
        unknown = set(options) - {"key", "known_hosts", "accept_new_host"}
        try:
            port = u.port or 22
        except ValueError:
            port = -1
        if u.scheme != "sftp" or not u.hostname or not u.path or unknown or port < 0:
            raise UsageError(
                f"invalid SFTP location {url!r}: expected"
                " sftp://[user@]host[:port]/path[?key=FILE&known_hosts=FILE&accept_new_host=1]"
            )
        return cls(
            u.hostname,
            port,
            unquote(u.username or "") or getpass.getuser(),
            unquote(u.path),
            key_filename=os.path.expanduser(options["key"]) if "key" in options else None,
            known_hosts=options.get("known_hosts"),
            accept_new_host=options.get("accept_new_host", "0").lower() in ("1", "yes", "true"),
        )

    def _path(self, name: str) -> str:
        return posixpath.join(self.root, validate_name(name))

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        final = self._path(name)
        tmp = posixpath.join(self.root, _TMP, os.urandom(12).hex())
        with self._lock:
            try:
                self._makedirs(posixpath.join(self.root, _TMP))
                with self._sftp.open(tmp, "wbx") as f:
                    f.set_pipelined(True)
                    f.write(data)
                self._makedirs(posixpath.dirname(final))
                try:
                    self._sftp.rename(tmp, final)
                except OSError:
                    if self._exists(final):
                        raise ObjectExists(f"{name} already exists") from None
                    raise
            except StoreError:
                raise
            except OSError as e:
                raise self._error("write", name, e) from e
            finally:
                self._remove_quietly(tmp)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self._path(name)
        with self._lock:
            try:
                with self._sftp.open(path, "rb") as f:
                    st = f.stat()
                    if st.st_mode is None or not S_ISREG(st.st_mode):
                        raise ObjectNotFound(f"{name} not found")
                    size = st.st_size or 0
                    end = size if length is None else min(size, offset + length)
                    if end <= offset:
                        return b""
                    return b"".join(f.readv([(offset, end - offset)]))
            except FileNotFoundError:
                raise ObjectNotFound(f"{name} not found") from None
            except StoreError:
                raise
            except OSError as e:
                raise self._error("read", name, e) from e

    def stat(self, name: str) -> ObjectInfo:
        path = self._path(name)
        with self._lock:
            try:
                st = self._sftp.stat(path)
            except FileNotFoundError:
                raise ObjectNotFound(f"{name} not found") from None
            except OSError as e:
                raise self._error("stat", name, e) from e
        if st.st_mode is None or not S_ISREG(st.st_mode):  # a directory is a prefix
            raise ObjectNotFound(f"{name} not found")
        return ObjectInfo(name, st.st_size or 0)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        pending = [validate_name(prefix)]
        while pending:
            rel = pending.pop()
            with self._lock:
                try:
                    entries = self._sftp.listdir_attr(posixpath.join(self.root, rel))
                except FileNotFoundError:
                    continue
                except OSError as e:
                    if e.errno is None and self._is_file(rel):  # a prefix naming an object
                        continue
                    raise self._error("list", rel, e) from e
            for entry in entries:
                mode = entry.st_mode or 0
                if S_ISDIR(mode):
                    pending.append(f"{rel}/{entry.filename}")
                elif S_ISREG(mode):
                    yield ObjectInfo(f"{rel}/{entry.filename}", entry.st_size or 0)

    def delete(self, name: str) -> None:
        path = self._path(name)
        with self._lock:
            try:
                self._sftp.remove(path)
            except FileNotFoundError:
                raise ObjectNotFound(f"{name} not found") from None
            except OSError as e:
                if not self._is_file(name):  # a directory: a prefix, not an object
                    raise ObjectNotFound(f"{name} not found") from None
                raise self._error("delete", name, e) from e

    def close(self) -> None:
        with self._lock:
            self._sftp.close()
            self._ssh.close()

    # -- helpers ---------------------------------------------------------------------------

    def _makedirs(self, path: str) -> None:
        """Create `path` and its parents; most already exist, so try the deepest first."""
        missing: list[str] = []
        while path not in ("/", "") and not self._exists(path):
            missing.append(path)
            path = posixpath.dirname(path)
        for d in reversed(missing):
            try:
                self._sftp.mkdir(d)
            except OSError:
                if not self._exists(d):  # made by another writer meanwhile is fine
                    raise

    def _exists(self, path: str) -> bool:
        try:
            self._sftp.stat(path)
        except FileNotFoundError:
            return False
        return True

    def _is_file(self, name: str) -> bool:
        try:
            st = self._sftp.stat(posixpath.join(self.root, name))
        except OSError:
            return False
        return st.st_mode is not None and S_ISREG(st.st_mode)

    def _remove_quietly(self, path: str) -> None:
        with contextlib.suppress(OSError):  # renamed into place, or never written
            self._sftp.remove(path)

    def _error(self, doing: str, name: str, e: OSError) -> StoreError:
        if e.errno == errno.ENOSPC:
            return StoreFull(f"no space left writing {name} to {self.where}")
        reason = e.strerror or str(e) or type(e).__name__
        return StoreError(f"cannot {doing} {name} on {self.where}: {reason}")


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
