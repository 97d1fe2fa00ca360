"""A repository in a local directory.

Writes are exclusive-create of a temporary file, fsync, then a link to the
final name (which fails if the name exists), so a reader never sees a torn
object and nothing is ever overwritten. Finished objects are made read-only.
Before put() returns, the object's folder is fsynced, and so is the parent of
every folder on its way that this process has not yet seen made durable: a new
`data/xx/` is itself only a directory entry until its parent is synced, so a
power cut could otherwise lose every object inside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISREG

from ripcord.errors import RepositoryNotFound, StoreError
from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, validate_name
from ripcord.storage.errors import ObjectExists, ObjectNotFound, StoreFull

_TMP = ".tmp"
# what the OS says when a name is missing, or runs into a file or directory on the way
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalStore:
    capabilities = Capabilities(local=True)

    def __init__(self, root: str | os.PathLike[str], create: bool = False) -> None:
        self.root = Path(root)
        if create:
            try:
                self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # key files inside
            except OSError as e:
                raise StoreError(f"cannot create {self.root}: {e.strerror}") from None
        elif not self.root.is_dir():
            raise RepositoryNotFound(f"no repository at {self.root}")
        self._durable: set[Path] = set()  # folders whose entry in their parent is synced
        if create:
            with contextlib.suppress(PermissionError):  # a parent we may not open: its owner's
                self._make_durable(self.root.parent, self.root)
        self._sweep_temp()

    def _sweep_temp(self) -> None:
        """Remove temporary files a killed writer on this host left behind.

        A temp file is named host-pid-random; one whose process is gone can never
        become an object. Other hosts' temp files (a shared mount) are left alone.
        """
        prefix = f"{_host()}-"
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root / _TMP):
                if not entry.name.startswith(prefix):
                    continue
                pid = entry.name[len(prefix) :].split("-", 1)[0]
                if pid.isdigit() and not _alive(int(pid)):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _path(self, name: str) -> Path:
        return self.root / validate_name(name)

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        final = self._path(name)
        tmpdir = self.root / _TMP
        tmp = tmpdir / f"{_host()}-{os.getpid()}-{os.urandom(8).hex()}"
        try:
            tmpdir.mkdir(exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            self._make_durable(self.root, final.parent)
            try:
                os.link(tmp, final)
            except FileExistsError:
                raise ObjectExists(f"{name} already exists") from None
            _fsync_dir(final.parent)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise StoreFull(f"no space left writing {name} to {self.root}") from e
            raise StoreError(f"cannot write {name}: {e.strerror}") from e
        finally:
            with contextlib.suppress(OSError):  # gone already, or a read-only disk: keep the error
                tmp.unlink()

    def _make_durable(self, top: Path, folder: Path) -> None:
        """Create the folders below `top` down to `folder` as needed, and fsync the parent
        of each one not known durable yet: made by this call, by another thread that may
        not have synced it yet, or by a process that died before it did."""
        way = []
        while folder != top and folder != folder.parent:
            way.append(folder)
            folder = folder.parent
        for d in reversed(way):
            if d not in self._durable:
                d.mkdir(exist_ok=True)
                _fsync_dir(d.parent)
                self._durable.add(d)  # a set's add is atomic: threads may race, each syncs

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            with open(self._path(name), "rb") as f:
                if offset:
                    f.seek(offset)
                return f.read() if length is None else f.read(length)
        except _MISSING:
            raise ObjectNotFound(f"{name} not found") from None
        except OSError as e:
            raise StoreError(f"cannot read {name}: {e.strerror}") from e

    def stat(self, name: str) -> ObjectInfo:
        try:
            st = self._path(name).stat()
        except _MISSING:
            raise ObjectNotFound(f"{name} not found") from None
        if not S_ISREG(st.st_mode):  # a directory is a prefix, not an object
            raise ObjectNotFound(f"{name} not found")
        return ObjectInfo(name, st.st_size)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self._path(prefix)
        for dirpath, _dirs, files in os.walk(base):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for f in files:
                try:
                    st = os.stat(os.path.join(dirpath, f))
                except FileNotFoundError:  # deleted since the directory was read
                    continue
                yield ObjectInfo(f"{rel}/{f}", st.st_size)

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except _MISSING:
            raise ObjectNotFound(f"{name} not found") from None

    def close(self) -> None:
        pass


def _host() -> str:
    return socket.gethostname().replace("/", "_")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's, but alive
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
