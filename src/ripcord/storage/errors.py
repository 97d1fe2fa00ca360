"""Storage errors: types, not booleans asked of a backend."""

from __future__ import annotations

from datetime import datetime

from ripcord.errors import StoreError


class ObjectNotFound(StoreError):
    """the object does not exist in the store"""


class ObjectExists(StoreError):
    """the object already exists; stores are write-once"""


class InvalidName(StoreError):
    """the object name is not valid"""


class StoreFull(StoreError):
    """the store ran out of space"""


class ObjectLocked(StoreError):
    """the object is under a retention lock (S3 Object Lock) and cannot be deleted yet"""

    def __init__(self, message: str, until: datetime | None = None) -> None:
        super().__init__(message)
        self.until = until  # when the lock ends, if the store said


class StoreUnavailable(StoreError):
    """the store did not answer (a dropped connection, a timeout, a busy server); the
    same request may work when tried again, which the retry wrapper does"""
