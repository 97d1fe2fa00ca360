"""The repository config: format version, chunker parameters and optional features.

Stored as plain JSON so that any version of ripcord can recognise a
repository and refuse a newer format before asking for a password; a keyed
BLAKE3 MAC over the canonical JSON, checked after unlocking, detects tampering.
"""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import blake3

from ripcord.errors import CorruptObject, UnsupportedFormat
from ripcord.repository.bounds import within

FORMAT_NAME = "ripcord"
FORMAT_VERSION = 1
_MAC_CONTEXT = b"ripcord v1 config mac"
# what FastCDC accepts for min, avg and max size; anything else fails only at backup time
_CHUNKER_BOUNDS = ((64, 1 << 20), (256, 4 << 20), (1 << 10, 16 << 20))
MAX_PARITY = 100  # percent
LOCK_MODES = ("compliance", "governance")  # S3 Object Lock modes, as the config spells them
MAX_RETENTION_SECONDS = 100 * 365 * 86400  # AWS allows at most 100 years
MAX_CONFIG = 64 << 10  # ripcord writes ~500 bytes


@dataclass(frozen=True)
class ObjectLock:
    """Every object (locks excepted) is written with S3 Object Lock for this long."""

    mode: str  # one of LOCK_MODES
    retention_seconds: int


@dataclass(frozen=True)
class ChunkerParams:
    min_size: int = 256 * 1024
    avg_size: int = 1024 * 1024
    max_size: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class Config:
    id: str
    chunker: ChunkerParams
    compression_level: int = 3
    version: int = FORMAT_VERSION
    parity: int = 0  # percent of each pack stored again as Reed-Solomon parity; 0: none
    object_lock: ObjectLock | None = None

    @classmethod
    def new(
        cls,
        chunker: ChunkerParams | None = None,
        parity: int = 0,
        object_lock: ObjectLock | None = None,
    ) -> Config:
        return cls(
            id=os.urandom(16).hex(),
            chunker=chunker or ChunkerParams(),
            parity=parity,
            object_lock=object_lock,
        )

    def _body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": self.version,
            "id": self.id,
            "chunker": asdict(self.chunker),
            "compression": {"algorithm": "zstd", "level": self.compression_level},
        }
        if self.parity:  # absent when off, so the MAC of a config without it is unchanged
            body["parity"] = {"percent": self.parity}
        if self.object_lock:  # likewise absent when off
            body["object_lock"] = asdict(self.object_lock)
        return body

    def mac(self, id_key: bytes) -> str:
        canon = json.dumps(self._body(), sort_keys=True, separators=(",", ":")).encode()
        return blake3.blake3(_MAC_CONTEXT + canon, key=id_key).hexdigest()

    def dump(self, id_key: bytes) -> bytes:
        return json.dumps({**self._body(), "mac": self.mac(id_key)}, indent=1).encode()


def parse_config(raw: bytes) -> tuple[Config, str]:
    """Parse and check the version; returns the config and its claimed MAC."""
    try:
        doc = json.loads(within(raw, MAX_CONFIG, "config"))
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError) as e:  # deep nesting is hostile, not a crash
        raise CorruptObject(f"config: not valid JSON ({e})") from None
    if doc.get("format") != FORMAT_NAME:
        raise CorruptObject("config: this is not a ripcord repository")
    version = doc.get("version")
    if version != FORMAT_VERSION:
        raise UnsupportedFormat(
            f"repository format version {version!r}; this ripcord reads version {FORMAT_VERSION}"
            " only (a newer ripcord made it?)"
        )
    try:
        c = doc["chunker"]
        sizes = (int(c["min_size"]), int(c["avg_size"]), int(c["max_size"]))
        in_bounds = all(lo <= s <= hi for s, (lo, hi) in zip(sizes, _CHUNKER_BOUNDS, strict=True))
        if not in_bounds or list(sizes) != sorted(sizes):
            raise ValueError("chunker sizes out of range")
        chunker = ChunkerParams(*sizes)
        level = int(doc["compression"]["level"])
        if doc["compression"]["algorithm"] != "zstd" or not -7 <= level <= 22:
            raise ValueError("unsupported compression")
        parity = doc.get("parity", {"percent": 0})
        percent = parity["percent"]
        if type(percent) is not int or not 0 <= percent <= MAX_PARITY:
            raise ValueError("parity percent out of range")
        config = Config(
            str(doc["id"]), chunker, level, parity=percent, object_lock=_object_lock(doc)
        )
        return config, str(doc["mac"])
    except (KeyError, TypeError, ValueError, OverflowError) as e:  # int(1e999) overflows
        raise CorruptObject(f"config: malformed ({e})") from None


def _object_lock(doc: dict[str, Any]) -> ObjectLock | None:
    lock = doc.get("object_lock")
    if lock is None:
        return None
    mode, seconds = lock["mode"], lock["retention_seconds"]
    if mode not in LOCK_MODES:
        raise ValueError(f"unknown object lock mode {mode!r}")
    if type(seconds) is not int or not 0 < seconds <= MAX_RETENTION_SECONDS:
        raise ValueError("object lock retention out of range")
    return ObjectLock(mode, seconds)


def check_mac(config: Config, claimed: str, id_key: bytes) -> None:
    # bytes: compare_digest raises TypeError on a str with non-ASCII (a hostile config's)
    given = claimed.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(config.mac(id_key).encode(), given):
        raise CorruptObject("config: MAC mismatch (tampered, or key belongs elsewhere)")
