"""Every kind of object a repository holds, and the parser that reads each back.

The fuzz tests start from real objects (a real repository, written by the CLI:
backups, a check, a drill, marks) plus the records no command leaves lying
around (pending plans and barriers, locks), and feed each parser mutations of
them. `KINDS` is the list a new stored format must join: a parser missing from
it is a parser nobody fuzzes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, settings

from ripcord.archive.node import SPLIT_VERSION, decode_listing
from ripcord.errors import CorruptObject, UnsafePath, UnsupportedFormat
from ripcord.repository import Repository
from ripcord.repository.checks import CHECK_AAD, decode_check
from ripcord.repository.config import check_mac, parse_config
from ripcord.repository.crypto import open_sealed, seal
from ripcord.repository.drills import DRILL_AAD, decode_drill
from ripcord.repository.index import INDEX_AAD, decode_index_file
from ripcord.repository.keys import MasterSecrets, try_unlock
from ripcord.repository.locks import LOCK_AAD, Lock
from ripcord.repository.marks import MARK_AAD, decode_mark
from ripcord.repository.pack import FRAME_AAD, TRAILER_AAD, open_frame, read_trailer
from ripcord.repository.parity import PARITY_AAD, read_header
from ripcord.repository.pending import (
    PENDING_AAD,
    Barrier,
    Plan,
    decode_pending,
    encode_barrier,
    encode_plan,
)
from ripcord.repository.snapshots import SNAPSHOT_AAD, decode_snapshot
from ripcord.retention.prune import referenced
from ripcord.storage import LocalStore, MemoryStore
from tests.conftest import PASSWORD, Cli
from tests.splits import small_parts

# What a parser may raise on hostile input: a documented error, nothing else.
CLEAN = (CorruptObject, UnsupportedFormat, UnsafePath)

EXAMPLES = int(os.environ.get("RIPCORD_FUZZ_EXAMPLES", "60"))
"""Examples per fuzz test: small and seeded in CI, raised by scripts/soak-fuzz."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("RIPCORD_FUZZ_RANDOM") != "1",  # CI: the same cases every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@dataclass(frozen=True)
class Sample:
    """One stored object: its kind, its name and its bytes."""

    kind: str
    name: str
    data: bytes


@dataclass(frozen=True)
class Corpus:
    key: bytes  # the repository's encryption key: what "authenticated garbage" is sealed with
    id_key: bytes
    samples: tuple[Sample, ...]

    def of(self, kind: str) -> list[Sample]:
        found = [s for s in self.samples if s.kind == kind]
        assert found, f"the corpus holds no {kind}"
        return found


_FOLDERS = ("keys", "snapshots", "index", "data", "parity", "marks", "checks", "drills")


def _kind_of(name: str) -> str:
    top = name.split("/", 1)[0]
    return {"data": "pack", "parity": "parity"}.get(top, top.rstrip("s") if "/" in name else top)


def build_corpus(tmp: Path) -> Corpus:
    """A real repository (parity on) after backups, protect, forget, prune, check and drill,
    and every object in it, plus pending records and a lock sealed with its key. One
    folder is big enough, at test scale, to be a split tree: its tree and its parts are
    in the corpus."""
    env = {
        "RIPCORD_PASSWORD": PASSWORD,
        "RIPCORD_CACHE_DIR": str(tmp / "cache"),
        "RIPCORD_DATA_DIR": str(tmp / "data"),
        "RIPCORD_CONFIG_DIR": str(tmp / "config"),
        "RIPCORD_STATE_DIR": str(tmp / "state"),
        "RIPCORD_NO_PROGRESS": "1",
    }
    cli = Cli(tmp / "repo", env)
    cli.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1", "--parity", "10")
    src = tmp / "src"
    (src / "dir" / "deeper").mkdir(parents=True)
    (src / "text").write_text("a line of text\n" * 500)
    (src / "dir" / "random").write_bytes(os.urandom(50_000))
    (src / "dir" / "deeper" / "empty").write_bytes(b"")
    os.symlink("text", src / "link")
    os.link(src / "text", src / "dir" / "hardlink")
    (src / "many").mkdir()
    for i in range(40):
        (src / "many" / f"f{i:03}").write_text(f"{i}\n")
    with pytest.MonkeyPatch.context() as mp:
        small_parts(mp)
        first = cli.ok("backup", str(src), "--json").json["snapshot_id"]
        (src / "text").write_text("changed\n")
        second = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    cli.ok("protect", first)
    cli.ok("forget", second)
    cli.ok("check")
    cli.ok("drill")
    store = LocalStore(cli.repo)
    repo = Repository.open(store, PASSWORD.encode())
    try:
        key, id_key = repo.key, repo.secrets.id_key
        when = datetime.now(UTC)
        plan = Plan(when, "host", ["a" * 64], ["b" * 64], ["c" * 64], ["d" * 64], names=["keys/x"])
        extra = [
            Sample("pending", "pending/plan", encode_plan(key, plan)),
            Sample(
                "pending", "pending/barrier", encode_barrier(key, Barrier("e" * 64, when, ["h"]))
            ),
        ]
        doc = {"host": "h", "pid": 42, "time": when.isoformat(), "exclusive": True, "prune": False}
        extra.append(Sample("lock", "locks/x", seal(key, bytes(msgpack.packb(doc)), LOCK_AAD)))
        names = ["config", *(i.name for p in _FOLDERS for i in store.list(p))]
        stored = [Sample(_kind_of(n), n, store.get(n)) for n in names]
        _, trees = referenced(repo, repo.snapshots())
        blobs = [Sample("tree", f"tree/{t.hex()}", repo.read_blob(t)) for t in sorted(trees)]
        split = [b for b in blobs if msgpack.unpackb(b.data).get("v") == SPLIT_VERSION]
        assert split, "the corpus holds no split tree: small_parts did not reach the backup"
    finally:
        repo.close()
    return Corpus(key, id_key, (*stored, *extra, *blobs))


# -- each kind's parser, from stored bytes ---------------------------------------------


def _pack(c: Corpus, name: str, data: bytes) -> object:
    frames = read_trailer(c.key, data, name)
    out = []
    for f in frames:
        out.append(open_frame(c.key, data[f.offset : f.offset + f.length], name))
    return out


def _tree(c: Corpus, name: str, data: bytes) -> object:
    """A tree blob of either version: a folder's nodes, or a split tree's parts."""
    return decode_listing(data, name, lambda digest: digest)


def _key(c: Corpus, name: str, data: bytes) -> object:
    return try_unlock(data, name, PASSWORD.encode())


def _config(c: Corpus, name: str, data: bytes) -> object:
    config, mac = parse_config(data)
    check_mac(config, mac, c.id_key)
    return config


def _lock(c: Corpus, name: str, data: bytes) -> object:
    store = MemoryStore()
    store.put(name, data)
    return Lock(store, c.key, exclusive=False).others()


Parser = Callable[[Corpus, str, bytes], object]


def _sealed(decode: Callable[[bytes, bytes, str], object]) -> Parser:
    """A parser of a sealed document named by its id (the last part of its name)."""
    return lambda c, name, data: decode(c.key, data, name.rsplit("/", 1)[-1])


PARSERS: dict[str, Parser] = {
    "snapshot": _sealed(decode_snapshot),
    "index": _sealed(decode_index_file),
    "mark": _sealed(decode_mark),
    "check": _sealed(decode_check),
    "drill": _sealed(decode_drill),
    "pending": _sealed(decode_pending),
    "lock": _lock,
    "pack": _pack,
    "parity": lambda c, name, data: read_header(c.key, data, name.rsplit("/", 1)[-1], name),
    "tree": _tree,
    "key": _key,
    "config": _config,
}

# The AAD each sealed document is authenticated with: how layer (a) reaches the parser.
AADS = {
    "snapshot": SNAPSHOT_AAD,
    "index": INDEX_AAD,
    "mark": MARK_AAD,
    "check": CHECK_AAD,
    "drill": DRILL_AAD,
    "pending": PENDING_AAD,
    "lock": LOCK_AAD,
}
SEALED_DOCS = sorted(AADS)
KINDS = sorted(PARSERS)


def parse(corpus: Corpus, kind: str, name: str, data: bytes) -> object:
    """Run the parser of `kind`; anything but a value or a CLEAN error fails the test."""
    return PARSERS[kind](corpus, name, data)


def reseal_trailer(key: bytes, pack: bytes, plain: bytes) -> bytes:
    """`pack` with its trailer replaced by `plain`, sealed with the key."""
    (n,) = struct.unpack("<I", pack[-8:-4])
    body = pack[: -8 - n]
    sealed = seal(key, plain, TRAILER_AAD)
    return body + sealed + struct.pack("<I", len(sealed)) + pack[-4:]


def trailer_plain(key: bytes, pack: bytes) -> bytes:
    (n,) = struct.unpack("<I", pack[-8:-4])
    return open_sealed(key, pack[-8 - n : -8], TRAILER_AAD, "trailer")


__all__ = [
    "AADS",
    "CLEAN",
    "FRAME_AAD",
    "FUZZ",
    "KINDS",
    "PARITY_AAD",
    "SEALED_DOCS",
    "Corpus",
    "MasterSecrets",
    "Sample",
    "build_corpus",
    "parse",
]
