"""The repository: encrypted, compressed, deduplicated blobs over a Store.

It knows nothing of files or paths. Write order keeps a crash harmless:
packs, then the index files that list them, then (by the caller) the
snapshot; a crash leaves at most packs nothing refers to.
"""

from __future__ import annotations

import getpass
import hmac
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast

import blake3
import msgpack

from ripcord.errors import (
    CorruptObject,
    MissingObject,
    RepositoryNotFound,
    RipcordError,
    StoreError,
    UnsupportedFormat,
    WrongPassword,
)
from ripcord.repository import keys
from ripcord.repository.bounds import read_bounded
from ripcord.repository.checks import MAX_CHECK, CheckRecord, decode_check, encode_check
from ripcord.repository.config import MAX_CONFIG, Config, ObjectLock, check_mac, parse_config
from ripcord.repository.crypto import content_id
from ripcord.repository.drills import MAX_DRILL, DrillRecord, decode_drill, encode_drill
from ripcord.repository.index import (
    MAX_INDEX,
    IndexCache,
    Location,
    PackFrames,
    decode_index_file,
    encode_index_file,
)
from ripcord.repository.keys import KdfParams, MasterSecrets
from ripcord.repository.locks import Clock, Lock, utcnow
from ripcord.repository.marks import MAX_MARK, Mark, Standing, decode_mark, encode_mark, fold
from ripcord.repository.pack import (
    DATA,
    MAX_FRAME,
    TREE,
    Frame,
    open_frame,
    open_trailer,
    trailer_length,
)
from ripcord.repository.packer import Packer, default_workers, pack_name
from ripcord.repository.pending import (
    MAX_PENDING,
    Barrier,
    Plan,
    decode_pending,
    encode_barrier,
    encode_plan,
    in_force,
)
from ripcord.repository.snapshots import (
    MAX_SNAPSHOT,
    Snapshot,
    decode_snapshot,
    encode_snapshot,
    unexplained_gaps,
)
from ripcord.repository.unpack import unpack
from ripcord.storage import ObjectLocked, ObjectNotFound, Store
from ripcord.storage.base import Retaining

T = TypeVar("T")
INDEX_EVERY = 64  # packs between index files, bounding unindexed state
INDEX_MAX_BLOBS = 100_000  # blobs per index file, bounding what one decode holds in memory
FRAME_CACHE_BYTES = 16 << 20  # per blob type


class TreeTooLarge(RipcordError):
    """a tree over the bound on a frame: a folder entry too big to store"""


class Repository:
    def __init__(
        self,
        store: Store,
        config: Config,
        secrets: MasterSecrets,
        cache_dir: Path | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.store, self.config, self.secrets, self.clock = store, config, secrets, clock
        _retain(store, config)
        self.key = secrets.encryption_key
        self.key_name = ""  # the key file this process unlocked with
        self.cache_dir = cache_dir  # this repository's own local cache, if any
        self.index = IndexCache(cache_dir / "index.sqlite" if cache_dir else None)
        self._unindexed: list[PackFrames] = []
        self._unindexed_blobs = 0
        self._primed: dict[bytes, bool] = {}  # index answers for the batch being added
        self._unflushed: dict[bytes, int] = {}  # blob id -> type, not yet in an index file
        # one LRU per blob type, so that walking trees never evicts the data being
        # restored and a stream of data frames never evicts the trees being walked
        self._frames = {t: _FrameCache(FRAME_CACHE_BYTES) for t in (DATA, TREE)}
        self._cache_lock = threading.Lock()
        self._loading: dict[tuple[str, int], Future[bytes]] = {}  # frames being read now
        self.stored_bytes = 0  # pack bytes written by this process
        self.left_out: list[str] = []  # damaged snapshots and index files skipped, and why
        self.held: Lock | None = None  # the lock this process holds, if any
        self.written_index: list[str] = []  # index files this process wrote
        self._decoded: dict[str, object] = {}  # content-addressed records already read
        workers = default_workers()
        self._cpu = ThreadPoolExecutor(workers, thread_name_prefix="ripcord-cpu")
        # as many uploads at once as the store says it runs well (a remote one: several)
        transfers = max(1, store.capabilities.transfers)
        self._io = ThreadPoolExecutor(transfers, thread_name_prefix="ripcord-io")
        self._packers = {
            t: Packer(
                store,
                self.key,
                config.compression_level,
                self._cpu,
                self._io,
                self._stored,
                config.parity,
                in_flight=max(1, transfers - 1),  # and the pack being submitted
            )
            for t in (DATA, TREE)
        }
        self.sync_index()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        store: Store,
        password: bytes,
        kdf: KdfParams | None = None,
        copy_from: Repository | None = None,
        cache_dir: Path | None = None,
        parity: int = 0,
        object_lock: ObjectLock | None = None,
    ) -> Repository:
        """A new repository; with `parity` (percent), every pack gets a parity object;
        with `object_lock`, every object but locks is written under S3 Object Lock."""
        try:
            store.stat("config")
        except ObjectNotFound:
            pass
        else:
            raise RipcordError("a repository already exists there")
        secrets = MasterSecrets.generate(copy_from.secrets if copy_from else None)
        config = Config.new(copy_from.config.chunker if copy_from else None, parity, object_lock)
        _retain(store, config)  # the key file and config are locked too
        key_raw = keys.make_key_file(password, secrets, kdf or KdfParams())
        key_name = f"keys/{keys.key_id(key_raw)}"
        store.put(key_name, key_raw)
        store.put("config", config.dump(secrets.id_key))  # last: marks the repository usable
        repo = cls(store, config, secrets, _scoped(cache_dir, config))
        repo.key_name = key_name
        return repo

    @classmethod
    def open(cls, store: Store, password: bytes, cache_dir: Path | None = None) -> Repository:
        config, mac = read_config(store)
        secrets, key_name = unlock(store, password, (config, mac))
        repo = cls(store, config, secrets, _scoped(cache_dir, config))
        repo.key_name = key_name
        # only storage that locks objects keeps a removed slot: elsewhere no listing
        if config.object_lock is not None and key_name in repo.removed_keys():
            repo.close()
            raise WrongPassword(
                f"the key slot this password opens ({key_name}) was removed; storage locks"
                " keep it until prune can delete it, but ripcord opens nothing with it"
            )
        return repo

    def close(self) -> None:
        self._cpu.shutdown(wait=True, cancel_futures=True)
        self._io.shutdown(wait=True, cancel_futures=True)
        self.index.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def lock(self, exclusive: bool = False, prune: bool = False) -> Iterator[Lock]:
        """Hold a lock while the body runs, refreshed in the background.

        The index is read again once the lock is held: a prune that condemned
        data before this lock existed does not wait for us, so we must see its
        plan and stop deduplicating against what it condemned.
        """
        lock = Lock(self.store, self.key, exclusive, self.clock, prune=prune)
        lock.acquire()
        self.held = lock
        try:
            self.sync_index()
            with lock.kept_fresh():
                yield lock
        finally:
            self.held = None
            lock.release()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A shared lock for a long read, so that no prune deletes a pack this reader
        located before the prune's plan. On storage that cannot be written (read-only
        media) the read goes on without one: nothing can prune there either."""
        with ExitStack() as stack:
            with suppress(StoreError):
                stack.enter_context(self.lock())
            yield

    # -- key slots -----------------------------------------------------------------------

    def add_key(self, password: bytes, kdf: KdfParams | None = None) -> str:
        raw = keys.make_key_file(password, self.secrets, kdf or KdfParams())
        name = f"keys/{keys.key_id(raw)}"
        self.store.put(name, raw)
        return name

    def list_keys(self) -> list[tuple[str, dict[str, object]]]:
        """The key slots, but those removed and kept only by their storage lock."""
        out = []
        removed = self.removed_keys()
        for info in sorted(self.store.list("keys"), key=lambda i: i.name):
            if info.name not in removed:
                raw = self._read(info.name, keys.MAX_KEY_FILE, info.size)
                out.append((info.name, keys.parse_key_file(raw, info.name)))
        return out

    def removed_keys(self) -> set[str]:
        """Key slots removed while their storage lock (Object Lock) kept them: condemned
        by a plan for prune to delete once the lock ends, and never opened meanwhile."""
        return {n for plan in self.plans() for n in plan.names if n.startswith("keys/")}

    def remove_key(self, name: str) -> datetime | None:
        """Delete a key slot; never the last one, never the one in use.

        On storage whose lock keeps the slot, it is condemned instead, and this
        returns when the lock ends: ripcord opens nothing with it from now on, and
        a prune after that deletes it."""
        names = [n for n, _ in self.list_keys()]
        if name not in names:
            raise MissingObject(f"no key {name}")
        if name == self.key_name:
            raise RipcordError("refusing to remove the key this command unlocked with")
        if len(names) < 2:
            raise RipcordError("refusing to remove the last key")
        return self._drop_key(name)

    def _drop_key(self, name: str) -> datetime | None:
        try:
            self.store.delete(name)
        except ObjectLocked as e:
            self.write_plan([], [], [], [], sync=False, names=[name])
            return e.until
        return None

    def change_password(self, password: bytes, kdf: KdfParams | None = None) -> str:
        """New key slot first, then the old one goes: a crash leaves both, never none."""
        old, new = self.key_name, self.add_key(password, kdf)
        self.key_name = new
        if old:
            self._drop_key(old)
        return new

    # -- index ---------------------------------------------------------------------------

    def sync_index(self) -> None:
        """Bring the local index cache up to the repository's index files, and learn
        what pending prunes condemned (readable still, never deduplicated against)."""
        plans = self.plans()
        doomed = {f"index/{i}" for p in plans for i in p.indexes}
        sizes = {i.name: i.size for i in self.store.list("index")}
        names = set(sizes)
        known = self.index.known_files()
        # rebuild (in one transaction) when a file went away or changed standing
        fresh = bool(set(known) - names) or any(known[n] != (n in doomed) for n in known)
        files: list[tuple[str | None, list[PackFrames]]] = []
        for name in sorted(names if fresh else names - set(known)):
            try:
                files.append((name, self.read_index_file(name, sizes[name])))
            except (CorruptObject, MissingObject) as e:
                self.left_out.append(str(e))  # only the blobs it lists go missing
            if not fresh and len(files) >= 16:  # bounded memory when catching up
                self.index.absorb(files, fallback=doomed)
                files = []
        self.index.absorb(files, fresh, fallback=doomed)
        self.index.condemn({pack for p in plans for pack in p.packs})
        self.index.settled()

    def write_plan(
        self,
        packs: list[str],
        indexes: list[str],
        snapshots: list[str],
        seen: list[str],
        sync: bool = True,
        replaces: list[str] | None = None,
        names: list[str] | None = None,
    ) -> Plan:
        """Condemn objects for deletion by the next prune once running clients finish
        (docs/FORMAT.md §Pruning beside backups). Whatever the condemned packs hold
        that is still needed must be stored elsewhere, and indexed, before this."""
        plan = Plan(
            self.clock(),
            socket.gethostname(),
            sorted(packs),
            indexes,
            snapshots,
            seen,
            replaces=replaces or [],
            names=names or [],
        )
        data = encode_plan(self.key, plan)
        plan.id = content_id(data)
        self.store.put(f"pending/{plan.id}", data)
        if sync:  # stop deduplicating against what it condemns (prune does it later)
            self.sync_index()
        return plan

    def write_barrier(self, plan: Plan, holders: list[str]) -> Barrier:
        """Name the lock holders that may have started before `plan` was durable."""
        barrier = Barrier(plan.id, self.clock(), sorted(holders))
        data = encode_barrier(self.key, barrier)
        barrier.id = content_id(data)
        self.store.put(f"pending/{barrier.id}", data)
        return barrier

    def pending(self) -> list[Plan | Barrier]:
        """Every readable pending-deletion record; a damaged one is named in `left_out`."""
        return self._records("pending", decode_pending, MAX_PENDING)

    def plans(self) -> list[Plan]:
        """The pending plans in force (no other replaces them), oldest first."""
        return in_force(self.pending())[0]

    def _records(
        self, prefix: str, decode: Callable[[bytes, bytes, str], T], limit: int
    ) -> list[T]:
        """Every readable object under `prefix`/ (at most `limit` bytes each), each named
        by the hash of its bytes; a damaged one is left out and named in `left_out`, never
        hiding the others."""
        out = []
        for info in self.store.list(prefix):
            try:
                out.append(self._record(info.name, decode, limit, info.size))
            except (CorruptObject, MissingObject) as e:
                if str(e) not in self.left_out:
                    self.left_out.append(str(e))
        return out

    def _record(
        self,
        name: str,
        decode: Callable[[bytes, bytes, str], T],
        limit: int,
        size: int | None = None,
    ) -> T:
        """One record, read once per process: named by its hash, it cannot change."""
        known = self._decoded.get(name)
        if known is not None:
            return cast(T, known)
        data = self._read(name, limit, size)
        object_id = name.split("/", 1)[1]
        if content_id(data) != object_id:
            raise CorruptObject(f"{name}: content does not match its name (damaged or altered)")
        record = self._decoded[name] = decode(self.key, data, object_id)
        return record

    def write_index_file(self, packs: list[PackFrames]) -> str:
        """Store one index file listing `packs` and absorb it; returns its name."""
        data = encode_index_file(self.key, packs)
        name = f"index/{content_id(data)}"
        self.store.put(name, data)
        self.index.add(packs, name)
        self.written_index.append(name)
        return name

    def write_index_files(self, packs: list[PackFrames]) -> list[str]:
        """Index files listing `packs`, at most INDEX_MAX_BLOBS blobs each."""
        names: list[str] = []
        chunk: list[PackFrames] = []
        count = 0
        for pack, frames in packs:
            n = sum(len(f.blobs) for f in frames)
            if chunk and count + n > INDEX_MAX_BLOBS:
                names.append(self.write_index_file(chunk))
                chunk, count = [], 0
            chunk.append((pack, frames))
            count += n
        if chunk:
            names.append(self.write_index_file(chunk))
        return names

    def read_index_file(self, name: str, size: int | None = None) -> list[PackFrames]:
        """An index file's packs and frames (`size`: as a listing gave it)."""
        return decode_index_file(self.key, self._read(name, MAX_INDEX, size), name)

    def read_pack_frames(self, pack_id: str, size: int | None = None) -> list[Frame]:
        """A pack's frame list from its own trailer, in two ranged reads (its size is
        listed, or asked of the store)."""
        name = pack_name(pack_id)
        if size is None:
            try:
                size = self.store.stat(name).size
            except ObjectNotFound:
                raise MissingObject(f"{name} is missing from the repository") from None
        n = trailer_length(self._get(name, max(size - 8, 0), 8), size, name)
        sealed = self._get(name, size - 8 - n, n)
        if len(sealed) != n:
            raise CorruptObject(f"{name}: truncated (trailer cut short)")
        return open_trailer(self.key, sealed, name)

    def _stored(self, pack: PackFrames, size: int) -> None:
        self._unindexed.append(pack)
        self._unindexed_blobs += sum(len(f.blobs) for f in pack[1])
        self.stored_bytes += size
        if len(self._unindexed) >= INDEX_EVERY or self._unindexed_blobs >= INDEX_MAX_BLOBS:
            self._write_index()

    def _write_index(self) -> None:
        if not self._unindexed:
            return
        packs, self._unindexed, self._unindexed_blobs = self._unindexed, [], 0
        self._primed = {}  # blobs move from pending to the index: answers may be stale
        self.write_index_file(packs)
        for _, frames in packs:
            for f in frames:
                for b in f.blobs:
                    self._unflushed.pop(b.id, None)

    def flush(self) -> None:
        """Make every blob added so far durable and indexed."""
        for packer in self._packers.values():
            packer.flush()
        self._write_index()

    # -- blobs ---------------------------------------------------------------------------

    def blob_id(self, data: bytes | memoryview) -> bytes:
        """Keyed BLAKE3 over the chunk's plain BLAKE3 (docs/FORMAT.md §Blob ids)."""
        return self.id_from_digest(blake3.blake3(data).digest())

    def id_from_digest(self, digest: bytes) -> bytes:
        """The blob id of a chunk whose plain BLAKE3 is `digest`.

        A file stored as one chunk needs no content list: its whole-file hash
        gives its blob id, which saves 32 bytes per small file in every tree.
        """
        return blake3.blake3(digest, key=self.secrets.id_key).digest()

    def shares_chunk_ids(self, other: Repository) -> bool:
        """Whether the same data gets the same chunks and blob ids in `other` (a replica
        made with `init --copy-params-from`); the id keys are compared in constant time."""
        mine, theirs = self.secrets, other.secrets
        return (
            hmac.compare_digest(mine.id_key, theirs.id_key)
            and mine.chunker_seed == theirs.chunker_seed
            and self.config.chunker == other.config.chunker
        )

    def has_blob(self, blob_id: bytes) -> bool:
        if blob_id in self._unflushed:
            return True
        primed = self._primed.get(blob_id)
        return primed if primed is not None else self.index.has(blob_id)

    def prime(self, blob_ids: list[bytes]) -> None:
        """Look up a batch of blobs about to be added in one index query.

        Each query hands the GIL to other threads and waits to get it back;
        one per batch instead of one per blob. Replaces the previous batch.
        """
        known = self.index.known_many(blob_ids)
        self._primed = {b: b in known for b in blob_ids}

    def add_blob(
        self, blob_type: int, data: bytes, blob_id: bytes | None = None, again: bool = False
    ) -> tuple[bytes, bool]:
        """Store a blob unless already present (with `again`, even then: prune moving it
        out of a pack it will delete); returns (id, newly stored)."""
        if blob_id is None:
            blob_id = self.blob_id(data)
        if blob_id in self._unflushed or (not again and self.has_blob(blob_id)):
            return blob_id, False
        self._unflushed[blob_id] = blob_type
        self._packers[blob_type].add(blob_id, blob_type, bytes(data))
        return blob_id, True

    def locate(self, blob_id: bytes) -> Location:
        loc = self.index.lookup(blob_id)
        if loc is None and blob_id not in self._unflushed and self.index.others_wrote():
            # the cache is shared: another process may have rebuilt it from a listing of
            # index files older than ours and dropped them. The repository is the truth.
            self.sync_index()
            loc = self.index.lookup(blob_id)
        if loc is None:
            if blob_id in self._unflushed:
                self.flush()
                return self.locate(blob_id)
            raise MissingObject(f"blob {blob_id.hex()} is not in the index")
        return loc

    def locate_many(self, blob_ids: list[bytes]) -> dict[bytes, Location]:
        """Where each blob is; blobs not in the index are simply absent."""
        if any(b in self._unflushed for b in blob_ids):
            self.flush()
        return self.index.lookup_many(blob_ids)

    def read_blob(self, blob_id: bytes) -> bytes:
        return self.read_at(blob_id, self.locate(blob_id))

    def read_at(self, blob_id: bytes, loc: Location) -> bytes:
        """Read a blob already located; safe from any thread (no index access)."""
        frame = self._frame(loc)
        data = frame[loc.offset : loc.offset + loc.length]
        if len(data) != loc.length or self.blob_id(data) != blob_id:
            raise CorruptObject(
                f"pack {loc.pack}: blob {blob_id.hex()} does not match its id (damaged pack)"
            )
        return data

    def _frame(self, loc: Location) -> bytes:
        """A frame's plaintext, from the cache, from a thread already loading it, or loaded."""
        key = (loc.pack, loc.frame_offset)
        with self._cache_lock:
            cached = self._frames[loc.type].get(key)
            if cached is not None:
                return cached
            loading = self._loading.get(key)
            if loading is None:
                loading = self._loading[key] = Future()
                mine = True
            else:
                mine = False
        if not mine:
            return loading.result()
        try:
            plain = self._load_frame(loc)
        except BaseException as e:
            loading.set_exception(e)
            raise
        finally:
            with self._cache_lock:
                self._loading.pop(key, None)
        loading.set_result(plain)
        return plain

    def _load_frame(self, loc: Location) -> bytes:
        key = (loc.pack, loc.frame_offset)
        name = pack_name(loc.pack)
        raw = self._get(name, loc.frame_offset, loc.frame_length)
        if len(raw) != loc.frame_length:
            raise CorruptObject(f"{name}: truncated (frame at {loc.frame_offset} is cut short)")
        plain = open_frame(self.key, raw, f"{name} frame at {loc.frame_offset}")
        with self._cache_lock:
            self._frames[loc.type].put(key, plain)
        return plain

    def _get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            return self.store.get(name, offset, length)
        except ObjectNotFound:
            raise MissingObject(f"{name} is missing from the repository") from None

    def _read(self, name: str, limit: int, size: int | None = None) -> bytes:
        """A whole object of at most `limit` bytes (`size`: as listed), never more read."""
        try:
            return read_bounded(self.store, name, limit, size)
        except ObjectNotFound:
            raise MissingObject(f"{name} is missing from the repository") from None

    # -- trees ---------------------------------------------------------------------------

    def save_tree(self, doc: object) -> bytes:
        """Store a tree; TreeTooLarge when it is over MAX_FRAME encoded, which no reader
        would read back (backup cuts a big folder's tree into parts long before that)."""
        data = bytes(msgpack.packb(doc))
        if len(data) > MAX_FRAME:
            raise TreeTooLarge(f"a tree of {len(data)} bytes is over the {MAX_FRAME} one may hold")
        blob_id, _ = self.add_blob(TREE, data)
        return blob_id

    def load_tree(self, tree_id: bytes) -> object:
        return self.parse_tree(tree_id, self.read_blob(tree_id))

    @staticmethod
    def parse_tree(tree_id: bytes, data: bytes) -> object:
        """A tree blob's document from its bytes, wherever they were read (a replica)."""
        return unpack(data, f"tree {tree_id.hex()}", raw=False, strict_map_key=False)

    # -- snapshots -----------------------------------------------------------------------

    def save_snapshot(self, snap: Snapshot) -> str:
        """Write a snapshot; everything it references must already be flushed.

        Refused when this process's lock may look stale to others by now: a prune
        may have deleted data the snapshot would reference."""
        self.flush()
        if self.held is not None:
            self.held.ensure_fresh()
        data = encode_snapshot(self.key, snap)
        snap.id = content_id(data)
        self.store.put(f"snapshots/{snap.id}", data)
        return snap.id

    def add_mark(self, kind: str, snapshot_ids: list[str], reason: str = "") -> Mark:
        """Record that snapshots are protected, released or forgotten (a new object;
        nothing else changes)."""
        mark = Mark(
            kind,
            tuple(snapshot_ids),
            self.clock(),
            socket.gethostname(),
            getpass.getuser(),
            reason,
        )
        data = encode_mark(self.key, mark)
        mark_id = content_id(data)
        self.store.put(f"marks/{mark_id}", data)
        return replace(mark, id=mark_id)

    def marks(self) -> list[Mark]:
        """Every readable mark; a damaged one is left out and named in `left_out`."""
        return self._records("marks", decode_mark, MAX_MARK)

    def standing(self) -> Standing:
        """The marks folded at the real clock; a mark dated in the future that would
        weaken a snapshot's standing is not applied and is named in `left_out`."""
        out = fold(self.marks(), self.clock())
        for m in out.ignored:
            why = (
                f"marks/{m.id}: a {m.kind} mark dated {m.time:%Y-%m-%d %H:%M %Z},"
                " in the future, is not applied"
            )
            if why not in self.left_out:
                self.left_out.append(why)
        return out

    def add_drill(self, record: DrillRecord) -> DrillRecord:
        """Keep a restore drill's result: a new object, never rewritten."""
        return replace(record, id=self._append("drills", encode_drill(self.key, record)))

    def drills(self) -> list[DrillRecord]:
        """Every readable drill record, oldest first; a damaged one is named in `left_out`."""
        return sorted(
            self._records("drills", decode_drill, MAX_DRILL), key=lambda d: (d.time, d.id)
        )

    def add_check(self, record: CheckRecord) -> CheckRecord:
        """Keep what a check read and found: a new object, never rewritten."""
        return replace(record, id=self._append("checks", encode_check(self.key, record)))

    def checks(self) -> list[CheckRecord]:
        """Every readable check record, oldest first; a damaged one is named in `left_out`."""
        return sorted(
            self._records("checks", decode_check, MAX_CHECK), key=lambda c: (c.time, c.id)
        )

    def _append(self, prefix: str, data: bytes) -> str:
        """Write a record named by the hash of its bytes; returns its id."""
        record_id = content_id(data)
        self.store.put(f"{prefix}/{record_id}", data)
        return record_id

    def chain_gaps(self) -> dict[str, list[str]]:
        """Snapshots the chain names that are gone without a forget record (tampering,
        or deletion behind ripcord's back): {missing id: the snapshots naming it}."""
        forgets = {s for m in self.marks() if m.kind == "forget" for s in m.snapshots}
        return unexplained_gaps(self.snapshots(forgotten=True), forgets)

    def protected(self) -> set[str]:
        """Ids of the snapshots retention must never drop."""
        return self.standing().protected

    def snapshot_ids(self) -> list[str]:
        return sorted(i.name.split("/", 1)[1] for i in self.store.list("snapshots"))

    def load_snapshot(self, snap_id: str) -> Snapshot:
        return self._record(f"snapshots/{snap_id}", decode_snapshot, MAX_SNAPSHOT)

    def snapshots(self, forgotten: bool = False) -> list[Snapshot]:
        """All readable snapshots not forgotten (with `forgotten`, those too), oldest
        first. A damaged one is left out, its error kept in `left_out`: one bad object
        must not hide every other snapshot (a forgotten one is not worth a warning)."""
        gone = self.standing().forgotten
        snaps = []
        for info in sorted(self.store.list("snapshots"), key=lambda i: i.name):
            snap_id = info.name.split("/", 1)[1]
            if snap_id in gone and not forgotten:
                continue
            try:
                snaps.append(self._record(info.name, decode_snapshot, MAX_SNAPSHOT, info.size))
            except (CorruptObject, MissingObject) as e:
                if snap_id not in gone and str(e) not in self.left_out:
                    self.left_out.append(str(e))
        return sorted(snaps, key=lambda s: (s.time, s.id))

    def pack_sizes(self) -> dict[str, int]:
        return {i.name.rsplit("/", 1)[1]: i.size for i in self.store.list("data")}


def read_config(store: Store) -> tuple[Config, str]:
    try:
        raw = read_bounded(store, "config", MAX_CONFIG)
    except ObjectNotFound:
        raise RepositoryNotFound("no repository there (no config object)") from None
    return parse_config(raw)


def unlock(
    store: Store, password: bytes, config: tuple[Config, str] | None = None
) -> tuple[MasterSecrets, str]:
    """The master secrets and the name of the key file the password opens; with `config`
    (and its MAC), only secrets that fit it: a slot left by an init that crashed before its
    config, then init again with the same password, must not be taken for the real one."""
    sizes = {i.name: i.size for i in store.list("keys")}
    names = sorted(sizes)
    if not names:
        raise CorruptObject("repository has no key files")
    unusable: list[RipcordError] = []  # a damaged slot must not lock out the others
    for name in names:
        try:
            raw = read_bounded(store, name, keys.MAX_KEY_FILE, sizes[name])
            secrets = keys.try_unlock(raw, name, password)
            if secrets is not None and config is not None:
                check_mac(*config, secrets.id_key)
        except (CorruptObject, UnsupportedFormat) as e:
            unusable.append(e)
            continue
        if secrets is not None:
            return secrets, name
    if unusable:
        raise unusable[0]
    raise WrongPassword("wrong password: no key in this repository opens with it")


def _retain(store: Store, config: Config) -> None:
    """Have the store lock what it writes, as the config asks. A store that cannot (a
    local copy of an S3 repository, say) still reads the repository and writes unlocked."""
    lock = config.object_lock
    if lock is not None and isinstance(store, Retaining):
        store.retain_new_objects(lock.mode, timedelta(seconds=lock.retention_seconds))


def _scoped(cache_dir: Path | None, config: Config) -> Path | None:
    return cache_dir / config.id if cache_dir else None


class _FrameCache:
    """Decrypted frames, least recently used first out; callers hold the lock."""

    def __init__(self, budget: int) -> None:
        self.budget, self.size = budget, 0
        self.frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    def get(self, key: tuple[str, int]) -> bytes | None:
        frame = self.frames.get(key)
        if frame is not None:
            self.frames.move_to_end(key)
        return frame

    def put(self, key: tuple[str, int], frame: bytes) -> None:
        if key in self.frames:
            return
        self.frames[key] = frame
        self.size += len(frame)
        while self.size > self.budget and len(self.frames) > 1:
            _, old = self.frames.popitem(last=False)
            self.size -= len(old)
