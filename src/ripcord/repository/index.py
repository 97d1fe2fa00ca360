"""The blob index: blob id -> (pack, frame, offset in frame), kept in SQLite.

The repository's index files (sealed msgpack, written once each) are the
truth; this local SQLite database is a cache of their union, so index memory
does not grow with a Python object per blob. It records which index files it
has absorbed and rebuilds itself if any of them disappeared.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgpack

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import is_content_id, open_msgpack, seal
from ripcord.repository.pack import Frame, frames_from_wire, frames_to_wire

INDEX_AAD = b"ripcord v1 index"
INDEX_VERSION = 1
MAX_INDEX = 256 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS packs (n INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    id BLOB PRIMARY KEY, type INT, pack INT, frame_off INT, frame_len INT,
    blob_off INT, blob_len INT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_files (name TEXT PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS condemned (pack INT PRIMARY KEY);
"""
# blobs a backup may deduplicate against: not in a pack a prune has condemned
_USABLE = "pack NOT IN (SELECT pack FROM condemned)"


@dataclass(frozen=True, slots=True)
class Location:
    pack: str
    type: int
    frame_offset: int
    frame_length: int
    offset: int
    length: int


PackFrames = tuple[str, list[Frame]]


def encode_index_file(key: bytes, packs: Iterable[PackFrames]) -> bytes:
    doc = {"v": INDEX_VERSION, "packs": [[name, frames_to_wire(f)] for name, f in packs]}
    return seal(key, bytes(msgpack.packb(doc)), INDEX_AAD)


def decode_index_file(key: bytes, data: bytes, what: str) -> list[PackFrames]:
    doc = open_msgpack(key, data, INDEX_AAD, what, MAX_INDEX)
    try:
        if doc["v"] != INDEX_VERSION:
            raise ValueError(f"index version {doc['v']}")
        out = []
        for name, frames in doc["packs"]:
            if not is_content_id(name):
                raise ValueError("bad pack name")
            out.append((name, frames_from_wire(frames, what)))
        return out
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptObject(f"{what}: index malformed ({e})") from None


def _connect(path: Path | None) -> sqlite3.Connection:
    db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(_SCHEMA)
    except BaseException:
        db.close()
        raise
    return db


def _open_cache(path: Path | None) -> sqlite3.Connection:
    """The cache at `path`; rebuilt if damaged (a crash, a full disk), and kept in memory
    if it cannot be written there (a read-only home): it is only a cache."""
    if path is None:
        return _connect(None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _connect(path)
        except sqlite3.OperationalError:
            raise  # cannot be opened or written: no use deleting it
        except sqlite3.DatabaseError:  # not a database, or malformed
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            return _connect(path)
    except (OSError, sqlite3.DatabaseError):
        return _connect(None)


def _read_ahead(path: Path) -> None:
    """Ask the kernel to read the cache file in the background: one sequential read
    instead of a page fault per lookup makes a cold-cache backup seconds faster."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)


class IndexCache:
    """SQLite-backed map of every blob the repository's index files list."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            _read_ahead(path)
        self.db = _open_cache(path)
        self._pack_ids: dict[str, int] = {}
        self._condemned = False

    def condemn(self, packs: Iterable[str]) -> None:
        """Packs a pending prune will delete: still readable, never deduplicated against."""
        self.db.execute("DELETE FROM condemned")
        rows = [(self._pack_n(p),) for p in packs]
        self.db.executemany("INSERT OR IGNORE INTO condemned VALUES (?)", rows)
        self._condemned = bool(rows)

    def known_files(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM index_files")}

    def reset(self) -> None:
        self.db.executescript(
            "DELETE FROM blobs; DELETE FROM packs; DELETE FROM index_files; DELETE FROM condemned;"
        )
        self._condemned = False
        self._pack_ids.clear()

    def _pack_n(self, name: str) -> int:
        n = self._pack_ids.get(name)
        if n is None:
            self.db.execute("INSERT OR IGNORE INTO packs(name) VALUES (?)", (name,))
            row = self.db.execute("SELECT n FROM packs WHERE name=?", (name,)).fetchone()
            n = self._pack_ids[name] = int(row[0])
        return n

    def add(self, packs: Iterable[PackFrames], index_file: str | None = None) -> None:
        """Record blobs (first location wins) and, optionally, the file they came from."""
        self.db.execute("BEGIN")
        try:
            rows = [
                (b.id, b.type, self._pack_n(name), f.offset, f.length, b.offset, b.length)
                for name, frames in packs
                for f in frames
                for b in f.blobs
            ]
            # in key order the B-tree is appended to rather than split at random places;
            # the sort is stable, so the first location of a duplicate still comes first
            rows.sort(key=lambda r: r[0])
            self.db.executemany("INSERT OR IGNORE INTO blobs VALUES (?,?,?,?,?,?,?)", rows)
            if index_file is not None:
                self.db.execute("INSERT OR IGNORE INTO index_files VALUES (?)", (index_file,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def has(self, blob_id: bytes) -> bool:
        """Whether a backup may reuse the blob (not only in a condemned pack)."""
        return bool(self.known_many([blob_id]))

    def lookup(self, blob_id: bytes) -> Location | None:
        row = self.db.execute(
            "SELECT p.name, b.type, b.frame_off, b.frame_len, b.blob_off, b.blob_len"
            " FROM blobs b JOIN packs p ON p.n = b.pack WHERE b.id=?",
            (blob_id,),
        ).fetchone()
        return Location(*row) if row else None

    def known_many(self, blob_ids: list[bytes]) -> set[bytes]:
        """Which of these blobs a backup may reuse, in few queries."""
        usable = f" AND {_USABLE}" if self._condemned else ""
        out: set[bytes] = set()
        for i in range(0, len(blob_ids), 500):
            batch = blob_ids[i : i + 500]
            marks = ",".join("?" * len(batch))
            query = f"SELECT id FROM blobs WHERE id IN ({marks}){usable}"
            out.update(r[0] for r in self.db.execute(query, batch))
        return out

    def lookup_many(self, blob_ids: list[bytes]) -> dict[bytes, Location]:
        """Locations of many blobs in few queries (each query is a GIL hand-off)."""
        out: dict[bytes, Location] = {}
        for i in range(0, len(blob_ids), 500):
            batch = blob_ids[i : i + 500]
            rows = self.db.execute(
                "SELECT b.id, p.name, b.type, b.frame_off, b.frame_len, b.blob_off, b.blob_len"
                " FROM blobs b JOIN packs p ON p.n = b.pack"
                f" WHERE b.id IN ({','.join('?' * len(batch))})",
                batch,
            ).fetchall()
            for row in rows:
                out[row[0]] = Location(*row[1:])
        return out

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM blobs").fetchone()[0])

    def sizes(self) -> Iterator[tuple[int, int]]:
        """(type, length) of every indexed blob."""
        yield from self.db.execute("SELECT type, blob_len FROM blobs")

    def frame_bytes(self, blob_type: int) -> int:
        """Stored bytes of the frames holding blobs of one type (what they cost)."""
        row = self.db.execute(
            "SELECT sum(frame_len) FROM"
            " (SELECT DISTINCT pack, frame_off, frame_len FROM blobs WHERE type=?)",
            (blob_type,),
        ).fetchone()
        return int(row[0] or 0)

    def pack_names(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM packs")}

    def close(self) -> None:
        self.db.close()
