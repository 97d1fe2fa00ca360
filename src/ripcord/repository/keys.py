"""Key slots: the repository's master secrets, sealed under a password.

Every key file holds the same master secrets, each sealed with a key derived
from its own password by Argon2id, so passwords can be added, changed and
removed without touching any other object.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgpack
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ripcord.errors import CorruptObject, UnsupportedFormat
from ripcord.repository.bounds import within
from ripcord.repository.crypto import content_id, open_sealed, seal
from ripcord.repository.unpack import unpack

KEY_VERSION = 1
MAX_KEY_FILE = 64 << 10  # ripcord writes ~600 bytes
_AAD = b"ripcord v1 key"


@dataclass(frozen=True)
class KdfParams:
    iterations: int = 4
    memory_kib: int = 32768  # as memory-hard as restic's scrypt (N=2^15, r=8)
    lanes: int = 4


@dataclass(frozen=True)
class MasterSecrets:
    """What a key slot protects (docs/FORMAT.md §Keys)."""

    encryption_key: bytes  # seals every object
    id_key: bytes  # keys BLAKE3 chunk ids; shared between replicas
    chunker_seed: int  # FastCDC gear table seed; shared between replicas

    @classmethod
    def generate(cls, like: MasterSecrets | None = None) -> MasterSecrets:
        if like is not None:
            return cls(os.urandom(32), like.id_key, like.chunker_seed)
        seed = (int.from_bytes(os.urandom(8), "little") >> 2) or 1  # FastCDC takes < 2**63
        return cls(os.urandom(32), os.urandom(32), seed)

    def pack(self) -> bytes:
        return bytes(
            msgpack.packb(
                {"v": 1, "enc": self.encryption_key, "id": self.id_key, "seed": self.chunker_seed}
            )
        )

    @classmethod
    def unpack(cls, data: bytes) -> MasterSecrets:
        d = unpack(data, "key: master secrets")
        try:
            secrets = cls(bytes(d["enc"]), bytes(d["id"]), int(d["seed"]))
        except Exception as e:
            raise CorruptObject(f"key: master secrets malformed ({e})") from None
        if len(secrets.encryption_key) != 32 or len(secrets.id_key) != 32:
            raise CorruptObject("key: master secrets have the wrong size")
        if not 0 < secrets.chunker_seed < 2**63:  # 0 is FastCDC's public table; it takes < 2**63
            raise CorruptObject("key: chunker seed out of range")
        return secrets


# cryptography 50's Argon2id (OpenSSL) fails with MemoryError when two derivations with
# more than one lane run at once (about half of them, measured): one at a time
_DERIVING = threading.Lock()


def _derive(password: bytes, salt: bytes, p: KdfParams) -> bytes:
    kdf = Argon2id(
        salt=salt, length=32, iterations=p.iterations, lanes=p.lanes, memory_cost=p.memory_kib
    )
    with _DERIVING:
        return kdf.derive(password)


def make_key_file(password: bytes, secrets: MasterSecrets, params: KdfParams) -> bytes:
    salt = os.urandom(16)
    doc = {
        "version": KEY_VERSION,
        "kdf": "argon2id",
        "salt": base64.b64encode(salt).decode(),
        "iterations": params.iterations,
        "memory_kib": params.memory_kib,
        "lanes": params.lanes,
        "created": datetime.now(UTC).isoformat(),
        "host": socket.gethostname(),
        "user": getpass.getuser(),
        "data": base64.b64encode(
            seal(_derive(password, salt, params), secrets.pack(), _AAD)
        ).decode(),
    }
    return json.dumps(doc, indent=1).encode()


def parse_key_file(raw: bytes, name: str) -> dict[str, Any]:
    try:
        doc = json.loads(within(raw, MAX_KEY_FILE, name))
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError) as e:  # deep nesting is hostile, not a crash
        raise CorruptObject(f"{name}: key file is not valid JSON ({e})") from None
    if doc.get("version") != KEY_VERSION or doc.get("kdf") != "argon2id":
        raise UnsupportedFormat(f"{name}: key version {doc.get('version')!r} is not supported")
    return doc


def try_unlock(raw: bytes, name: str, password: bytes) -> MasterSecrets | None:
    """The master secrets if `password` opens this key file, else None."""
    doc = parse_key_file(raw, name)
    try:
        params = KdfParams(int(doc["iterations"]), int(doc["memory_kib"]), int(doc["lanes"]))
        if not (1 <= params.iterations <= 100 and 8 <= params.memory_kib <= 4 << 20):
            raise ValueError("KDF parameters out of range")
        if not 1 <= params.lanes <= 64 or params.memory_kib < 8 * params.lanes:
            raise ValueError("KDF lanes out of range (Argon2 needs 8 KiB per lane)")
        salt = base64.b64decode(doc["salt"])
        if not 8 <= len(salt) <= 64:  # Argon2 refuses a shorter salt; ripcord writes 16 bytes
            raise ValueError(f"a salt of {len(salt)} bytes")
        sealed = base64.b64decode(doc["data"])
    except (KeyError, ValueError, TypeError, OverflowError) as e:
        raise CorruptObject(f"{name}: key file malformed ({e})") from None
    try:
        plain = open_sealed(_derive(password, salt, params), sealed, _AAD, name)
    except CorruptObject:
        return None
    return MasterSecrets.unpack(plain)


def key_id(raw: bytes) -> str:
    return content_id(raw)
