"""A file or a folder of a snapshot written out as a stream: the file's bytes, a tar
or a zip, one chunk at a time into any writable object (never a whole file in memory).

Every member name is checked component by component as restore checks names (no
'..', no absolute path, no empty component) even though trees were checked when
decoded: an archive a user unpacks must never reach outside its folder.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

import blake3

from ripcord.archive.node import BLOCK, CHAR, DIR, FIFO, FILE, SYMLINK, Node, check_name
from ripcord.archive.trees import walk
from ripcord.errors import CorruptObject
from ripcord.mount.content import layout
from ripcord.repository import Repository

FORMATS = ("tar", "tar.gz", "zip")
COPY = 1 << 20  # bytes tarfile copies at once
_ZIP_TIMES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1980, 1, 1, 0, 0, 0),
    (2107, 12, 31, 23, 59, 58),
)  # what a zip entry can hold


def chunks(repo: Repository, node: Node) -> Iterator[bytes]:
    """A file's content chunk by chunk; its whole-file BLAKE3 checked at the end, so a
    wrong chunk list ends the stream in an error instead of a quietly wrong file."""
    file = layout(repo, node)
    h = blake3.blake3()
    for blob_id, loc in zip(file.ids, file.locs, strict=True):
        data = repo.read_at(blob_id, loc)
        h.update(data)
        yield data
    if h.digest() != node.hash:
        raise CorruptObject(f"{os.fsdecode(node.name)}: its content does not match its BLAKE3")


class _Reader(io.RawIOBase):
    """A file's content as a readable file object (what tarfile copies from)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._left:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._left = memoryview(piece)
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def member(path: bytes) -> bytes:
    """`path` as an archive member name: relative, every component a plain name
    (UnsafePath otherwise: '..', '.', '', '/' at the start, NUL)."""
    for part in path.split(b"/"):
        check_name(part)
    return path


def write_file(out: BinaryIO, repo: Repository, node: Node) -> None:
    for piece in chunks(repo, node):
        out.write(piece)


def write_tar(out: BinaryIO, repo: Repository, top: Node, name: bytes, gzip: bool) -> None:
    """The folder `top` and everything below it as a tar (pax) stream whose members
    all start with `name/`; names that are not UTF-8 keep their bytes."""
    with tarfile.open(
        fileobj=out,
        mode="w|gz" if gzip else "w|",
        format=tarfile.PAX_FORMAT,
        errors="surrogateescape",
    ) as tar:
        for path, node in walk(repo, top, name):
            info = _tar_info(member(path), node)
            if info is None:
                continue
            if node.type == FILE:  # buffered: tarfile wants read(n) to give all n bytes
                tar.addfile(info, io.BufferedReader(_Reader(chunks(repo, node)), COPY))
            else:
                tar.addfile(info)


def _tar_info(path: bytes, node: Node) -> tarfile.TarInfo | None:
    info = tarfile.TarInfo(os.fsdecode(path))
    info.mode = node.mode
    info.uid, info.gid = node.uid, node.gid
    info.uname, info.gname = node.user, node.group
    info.mtime = node.mtime_ns / 1e9
    if node.type == DIR:
        info.type = tarfile.DIRTYPE
    elif node.type == FILE:
        info.type, info.size = tarfile.REGTYPE, node.size
    elif node.type == SYMLINK:
        info.type, info.linkname = tarfile.SYMTYPE, os.fsdecode(node.target)
    elif node.type == FIFO:
        info.type = tarfile.FIFOTYPE
    elif node.type in (CHAR, BLOCK):
        info.type = tarfile.CHRTYPE if node.type == CHAR else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(node.rdev), os.minor(node.rdev)
    else:  # a socket: nothing an archive can hold
        return None
    return info


def write_zip(out: BinaryIO, repo: Repository, top: Node, name: bytes) -> None:
    """The folder as a zip written straight to `out` (zipfile writes data descriptors
    when it cannot seek). Zip names are UTF-8 only: bytes that are not are written
    as \\xNN escapes. Devices, FIFOs and sockets have no zip form and are left out."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for path, node in walk(repo, top, name):
            text = member(path).decode("utf-8", "backslashreplace")
            if node.type == DIR:
                info = _zip_info(text + "/", node, stat.S_IFDIR)
                info.external_attr |= 0x10  # MS-DOS directory flag
                z.writestr(info, b"")
            elif node.type == SYMLINK:
                z.writestr(_zip_info(text, node, stat.S_IFLNK), node.target)
            elif node.type == FILE:
                info = _zip_info(text, node, stat.S_IFREG)
                info.file_size = node.size  # picks zip64 for big files before writing
                with z.open(info, "w") as w:
                    for piece in chunks(repo, node):
                        w.write(piece)


def _zip_info(name: str, node: Node, kind: int) -> zipfile.ZipInfo:
    t = time.localtime(node.mtime_ns // 1_000_000_000)
    when = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    first, last = _ZIP_TIMES
    info = zipfile.ZipInfo(name, min(max(when, first), last))
    info.external_attr = (kind | node.mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info
