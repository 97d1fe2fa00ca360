"""Storage errors: types, not booleans asked of a backend."""

from __future__ import annotations

from ripcord.errors import StoreError


class ObjectNotFound(StoreError):
    """the object does not exist in the store"""


class ObjectExists(StoreError):
    """the object already exists; stores are write-once"""


class InvalidName(StoreError):
    """the object name is not valid"""


class StoreFull(StoreError):
    """the store ran out of space"""
