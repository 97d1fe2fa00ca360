"""The `Store` contract: a dumb, write-once object store.

A store moves opaque bytes by name and knows nothing of encryption or files.
Every backend passes the one contract suite in tests/contract/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from ripcord.storage.errors import InvalidName

_NAME = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$")


def validate_name(name: str) -> str:
    """Accept only lowercase ASCII names of '/'-separated segments.

    One place decides what a name may be, so no backend can be tricked into
    writing outside its root (no '..', no leading '/', no empty segment).
    """
    if len(name) > 255 or not _NAME.match(name):
        raise InvalidName(f"invalid object name {name!r}")
    return name


@dataclass(frozen=True)
class Capabilities:
    """What a store can guarantee beyond the basic contract."""

    object_lock: bool = False
    append_only: bool = False
    local: bool = False
    # transfers worth running at once: a remote store's each wait on the network, so
    # several in flight keep the link busy; a local disk gains nothing past two
    transfers: int = 2


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int


@dataclass(frozen=True)
class PutOptions:
    """Extras that travel with a put rather than as extra methods."""

    retain_until: datetime | None = None


class Store(Protocol):
    """Six operations; see docs/FORMAT.md for the names a repository uses."""

    capabilities: Capabilities

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        """Write a new object; raises ObjectExists if the name is taken."""

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Read an object or a range of it; raises ObjectNotFound."""

    def stat(self, name: str) -> ObjectInfo:
        """Size of an object; raises ObjectNotFound."""

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose name starts with `prefix` + '/', in no order."""

    def delete(self, name: str) -> None:
        """Remove an object; raises ObjectNotFound."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class Retaining(Protocol):
    """A store that can write objects under a retention lock nobody can lift early (S3)."""

    def retain_new_objects(self, mode: str, period: timedelta) -> None:
        """From now on, write every object but `locks/` ones locked in `mode` for `period`."""

    def retained_until(self, name: str) -> datetime | None:
        """When the lock on the object ripcord wrote under `name` ends (None: not locked)."""

    def extend_retention(self, name: str, until: datetime) -> None:
        """Keep the object locked until at least `until`; never shortens a lock."""


@dataclass(frozen=True)
class Revision:
    """A change made at the storage level to an object after ripcord wrote it: a
    store that keeps versions still holds, and reads, the original."""

    name: str
    change: str  # "overwritten" (newer versions) or "deleted" (delete markers)
    when: datetime  # the first such change
    count: int  # how many newer versions, or delete markers


@runtime_checkable
class Versioned(Protocol):
    """A store that keeps every version of an object (S3 with Object Lock), so that
    tampering with storage leaves a trace for `check` to report."""

    def revisions(self, prefix: str = "") -> Iterator[Revision]:
        """Every object under `prefix` + '/' (all of them when empty) that was
        overwritten or delete-marked; nothing when the store keeps no versions."""
