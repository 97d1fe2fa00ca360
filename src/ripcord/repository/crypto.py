"""Authenticated encryption of every stored object, with a subkey per object.

Envelope (docs/FORMAT.md §Envelope)::

    version(1)=0x01 | salt(16) | nonce(12) | AES-256-GCM ciphertext+tag(16)

subkey = BLAKE3-keyed(master encryption key, "ripcord v1 subkey" | salt).
A fresh random salt per object means no (key, nonce) pair can ever repeat,
even across billions of objects and many writers. The associated data names
the kind of object, so a snapshot can never be passed off as an index.
"""

from __future__ import annotations

import os
import re
from typing import Any

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ripcord.errors import CorruptObject
from ripcord.repository.bounds import within
from ripcord.repository.unpack import unpack

ENVELOPE_VERSION = 1
SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = 1 + SALT_SIZE + NONCE_SIZE + TAG_SIZE
_SUBKEY_CONTEXT = b"ripcord v1 subkey"
_CONTENT_ID = re.compile(r"[0-9a-f]{64}")


def _subkey(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(blake3.blake3(_SUBKEY_CONTEXT + salt, key=key).digest())


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    salt = os.urandom(SALT_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    ct = _subkey(key, salt).encrypt(nonce, plaintext, aad)
    return bytes([ENVELOPE_VERSION]) + salt + nonce + ct


def open_sealed(key: bytes, data: bytes, aad: bytes, what: str) -> bytes:
    """Authenticate and decrypt; `what` names the object in the error."""
    if len(data) < OVERHEAD or data[0] != ENVELOPE_VERSION:
        raise CorruptObject(f"{what}: not a valid encrypted object")
    salt = data[1 : 1 + SALT_SIZE]
    nonce = data[1 + SALT_SIZE : 1 + SALT_SIZE + NONCE_SIZE]
    try:
        return _subkey(key, salt).decrypt(nonce, data[1 + SALT_SIZE + NONCE_SIZE :], aad)
    except InvalidTag:
        raise CorruptObject(f"{what}: authentication failed (damaged or tampered)") from None


def content_id(data: bytes) -> str:
    """Storage name of an object: unkeyed BLAKE3 of its stored bytes, hex."""
    return blake3.blake3(data).hexdigest()


def is_content_id(value: object) -> bool:
    """Exactly 64 lowercase hex digits: `int(v, 16)` would also take '0x', '_' and spaces."""
    return isinstance(value, str) and _CONTENT_ID.fullmatch(value) is not None


def open_msgpack(
    key: bytes, data: bytes, aad: bytes, what: str, limit: int, unicode_errors: str = "strict"
) -> Any:
    """Bound, authenticate, then decode a sealed msgpack document: the order in
    which every untrusted document is read (docs/FORMAT.md §Bounds)."""
    plain = open_sealed(key, within(data, limit, what), aad, what)
    return unpack(plain, what, unicode_errors=unicode_errors)
