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
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import msgpack

from ripcord.errors import CorruptObject
from ripcord.repository.crypto import is_content_id, open_msgpack, seal
from ripcord.repository.pack import Frame, frames_from_wire, frames_to_wire

INDEX_AAD = b"ripcord v1 index"
INDEX_VERSION = 1
MAX_INDEX = 256 << 20

CACHE_VERSION = 3  # bumped whenever the tables change: an older cache is rebuilt
# `fallback` rows come only from index files a pending plan condemned: read last (they
# may even be wrong: repair condemns index files that disagree with a trailer), and
# never deduplicated against
_SCHEMA = """
CREATE TABLE IF NOT EXISTS packs (n INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    id BLOB, type INT, pack INT, frame_off INT, frame_len INT, blob_off INT, blob_len INT,
    fallback INT, PRIMARY KEY (id, pack)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_files (name TEXT PRIMARY KEY, fallback INT);
CREATE TEMP TABLE IF NOT EXISTS condemned (name TEXT PRIMARY KEY);
"""
# pack numbers are per cache file and may be handed out anew when another process
# rebuilds it: condemned packs are kept by name, and numbers never outlive a query
_CONDEMNED = "SELECT p.n FROM packs p JOIN condemned c ON c.name = p.name"
_USABLE = f"fallback = 0 AND pack NOT IN ({_CONDEMNED})"  # a backup may reuse the blob
# the locations readers try last come first in a query, so the rest overwrite them
_LAST = f"b.fallback DESC, b.pack IN ({_CONDEMNED}) DESC"
_LOCATION = "p.name, b.type, b.frame_off, b.frame_len, b.blob_off, b.blob_len"


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
    # one thread at a time, but not always the one that opened it: the dashboard keeps a
    # repository open and hands it from one request's thread to the next (ui/site.py)
    db = sqlite3.connect(
        str(path) if path else ":memory:", isolation_level=None, check_same_thread=False
    )
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        if db.execute("PRAGMA user_version").fetchone()[0] != CACHE_VERSION:
            db.executescript(
                "DROP TABLE IF EXISTS blobs; DROP TABLE IF EXISTS packs;"
                f" DROP TABLE IF EXISTS index_files; PRAGMA user_version={CACHE_VERSION};"
            )
        db.executescript(_SCHEMA)
    except BaseException:
        db.close()
        raise
    return db


def _private(path: Path) -> None:
    """The cache file made 0600 in folders made 0700 before SQLite opens it (its journal
    files take the same mode): it names every pack and blob of the repository."""
    for folder in reversed([path.parent, *path.parent.parents]):
        if not folder.exists():
            folder.mkdir(mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _open_cache(path: Path | None) -> sqlite3.Connection:
    """The cache at `path`; rebuilt if damaged (a crash, a full disk), and kept in memory
    if it cannot be written there (a read-only home): it is only a cache."""
    if path is None:
        return _connect(None)
    try:
        _private(path)
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
    """SQLite-backed map of every location of every blob the index files list.

    A blob stored twice (two clients at once, or stored again beside a copy a
    prune condemned) has a row per pack, so no copy is forgotten.
    """

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            _read_ahead(path)
        self.db = _open_cache(path)
        self._seen = self._data_version()

    def _data_version(self) -> int:
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def settled(self) -> None:
        """Mark the cache as just brought up to the repository's index files."""
        self._seen = self._data_version()

    def others_wrote(self) -> bool:
        """Whether another process sharing this cache committed to it since `settled`:
        one rebuilding it from a listing older than our index files drops them."""
        return self._data_version() != self._seen

    def condemn(self, packs: Iterable[str]) -> None:
        """Packs a pending prune will delete: still readable, never deduplicated against."""
        rows = [(p,) for p in set(packs)]
        self.db.execute("DELETE FROM condemned")
        self.db.executemany("INSERT INTO condemned VALUES (?)", rows)

    def known_files(self) -> dict[str, bool]:
        """Index files absorbed: name -> absorbed as a fallback (condemned) or not."""
        rows = self.db.execute("SELECT name, fallback FROM index_files")
        return {name: bool(fallback) for name, fallback in rows}

    def reset(self) -> None:
        self.absorb([], fresh=True)

    def add(self, packs: Iterable[PackFrames], index_file: str | None = None) -> None:
        """Record blobs and, optionally, the file they came from (one transaction)."""
        self.absorb([(index_file, list(packs))])

    def absorb(
        self,
        files: list[tuple[str | None, list[PackFrames]]],
        fresh: bool = False,
        fallback: AbstractSet[str] = frozenset(),
    ) -> None:
        """Record index files in one transaction; `fresh` forgets everything before;
        files named in `fallback` (condemned) are read last and never reused.

        One transaction, so that another process reading the shared cache sees
        the old view or the new one, never an empty cache half rebuilt.
        """
        self.db.execute("BEGIN IMMEDIATE")  # pack numbers stay ours until COMMIT
        try:
            if fresh:
                self.db.execute("DELETE FROM blobs")
                self.db.execute("DELETE FROM packs")
                self.db.execute("DELETE FROM index_files")
            # lasting files first: where both list a blob in a pack, the lasting row stays
            for index_file, packs in sorted(files, key=lambda f: f[0] in fallback):
                last = index_file in fallback
                self._insert(packs, last)
                if index_file is not None:
                    self.db.execute(
                        "INSERT OR IGNORE INTO index_files VALUES (?, ?)", (index_file, last)
                    )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _insert(self, packs: list[PackFrames], fallback: bool) -> None:
        numbers: dict[str, int] = {}
        rows: list[tuple[bytes, int, int, int, int, int, int, bool]] = []
        for name, frames in packs:
            n = numbers.get(name)
            if n is None:
                n = numbers[name] = self._pack_n(name)
            rows.extend(
                (b.id, b.type, n, f.offset, f.length, b.offset, b.length, fallback)
                for f in frames
                for b in f.blobs
            )
        # in key order the B-tree is appended to rather than split at random places
        rows.sort(key=lambda r: (r[0], r[2]))
        self.db.executemany("INSERT OR IGNORE INTO blobs VALUES (?,?,?,?,?,?,?,?)", rows)

    def _pack_n(self, name: str) -> int:
        self.db.execute("INSERT OR IGNORE INTO packs(name) VALUES (?)", (name,))
        return int(self.db.execute("SELECT n FROM packs WHERE name=?", (name,)).fetchone()[0])

    def has(self, blob_id: bytes) -> bool:
        """Whether a backup may reuse the blob (not only in a condemned pack)."""
        return bool(self.known_many([blob_id]))

    def lookup(self, blob_id: bytes) -> Location | None:
        return self.lookup_many([blob_id]).get(blob_id)

    def known_many(self, blob_ids: list[bytes]) -> set[bytes]:
        """Which of these blobs a backup may reuse, in few queries."""
        out: set[bytes] = set()
        for batch in _batches(blob_ids):
            marks = ",".join("?" * len(batch))
            query = f"SELECT id FROM blobs WHERE id IN ({marks}) AND {_USABLE}"
            out.update(r[0] for r in self.db.execute(query, batch))
        return out

    def lookup_many(self, blob_ids: list[bytes]) -> dict[bytes, Location]:
        """A location of each blob in few queries (each query is a GIL hand-off); one
        outside condemned packs where there is one."""
        out: dict[bytes, Location] = {}
        for batch in _batches(blob_ids):
            rows = self.db.execute(
                f"SELECT b.id, {_LOCATION} FROM blobs b JOIN packs p ON p.n = b.pack"
                f" WHERE b.id IN ({','.join('?' * len(batch))}) ORDER BY {_LAST}",
                batch,
            ).fetchall()
            for row in rows:  # condemned first, so a lasting location overwrites it
                out[row[0]] = Location(*row[1:])
        return out

    def packs_holding(self, blob_ids: list[bytes]) -> set[str]:
        """The packs a reader may need for these blobs: every pack outside condemned
        ones that holds a copy, and for a blob with no such copy, the condemned ones."""
        out: set[str] = set()
        for batch in _batches(blob_ids):
            rows = self.db.execute(
                f"SELECT b.id, p.name, b.fallback = 0 AND b.pack NOT IN ({_CONDEMNED})"
                " FROM blobs b JOIN packs p ON p.n = b.pack"
                f" WHERE b.id IN ({','.join('?' * len(batch))})",
                batch,
            ).fetchall()
            lasting = {blob for blob, _, usable in rows if usable}
            out.update(pack for blob, pack, usable in rows if usable or blob not in lasting)
        return out

    def count(self) -> int:
        return int(self.db.execute("SELECT count(DISTINCT id) FROM blobs").fetchone()[0])

    def sizes(self) -> Iterator[tuple[int, int]]:
        """(type, length) of every indexed blob, once however many copies it has."""
        yield from self.db.execute("SELECT type, blob_len FROM blobs GROUP BY id")

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


def _batches(ids: list[bytes], size: int = 500) -> Iterator[list[bytes]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
