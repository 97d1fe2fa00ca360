"""Dumb object stores: bytes by name, write-once."""

from ripcord.storage.base import Capabilities, ObjectInfo, PutOptions, Store, validate_name
from ripcord.storage.errors import (
    InvalidName,
    ObjectExists,
    ObjectLocked,
    ObjectNotFound,
    StoreFull,
    StoreUnavailable,
)
from ripcord.storage.local import LocalStore
from ripcord.storage.memory import MemoryStore

__all__ = [
    "Capabilities",
    "InvalidName",
    "LocalStore",
    "MemoryStore",
    "ObjectExists",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "PutOptions",
    "Store",
    "StoreFull",
    "StoreUnavailable",
    "validate_name",
]
