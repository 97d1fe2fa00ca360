"""The versions of S3 keys, grouped per key from ListObjectVersions pages.

In a bucket with Object Lock (and so versioning), an overwrite adds a newer
version and a plain delete adds a delete marker; the version ripcord wrote
stays, and it is the oldest one, because every name ripcord writes is
content-addressed and written once: nobody can write a name before ripcord
does without knowing what ripcord will store. This module only groups what a
listing says; what to make of it is the store's business (storage/s3.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Version:
    id: str
    when: datetime
    size: int = 0  # 0 for a delete marker


@dataclass
class History:
    """Every version and delete marker of one key, newest first."""

    key: str
    versions: list[Version] = field(default_factory=list)
    markers: list[Version] = field(default_factory=list)

    @property
    def original(self) -> Version | None:
        """The oldest real version: the one ripcord wrote (None: only delete markers)."""
        return self.versions[-1] if self.versions else None

    def newest_first(self) -> None:
        """Order by time; entries of the same time keep the listing's order (newest
        first, as S3 lists them), so a same-second overwrite is still newer."""
        self.versions.sort(key=lambda v: v.when, reverse=True)
        self.markers.sort(key=lambda v: v.when, reverse=True)


def histories(pages: Iterable[dict[str, Any]]) -> Iterator[History]:
    """One History per key, from the pages of a listing (sorted by key, then newest
    first). A key's versions may run over a page break, so the last key of each page
    is held back until a later page shows a different key."""
    held: dict[str, History] = {}
    for page in pages:
        for entry in page.get("Versions", ()):
            _history(held, entry["Key"]).versions.append(_version(entry, int(entry["Size"])))
        for entry in page.get("DeleteMarkers", ()):
            _history(held, entry["Key"]).markers.append(_version(entry, 0))
        last = max(held, default=None)
        for key in sorted(held):
            if key != last:
                yield _done(held.pop(key))
    for key in sorted(held):
        yield _done(held.pop(key))


def _history(held: dict[str, History], key: str) -> History:
    found = held.get(key)
    if found is None:
        found = held[key] = History(key)
    return found


def _version(entry: dict[str, Any], size: int) -> Version:
    when: datetime = entry["LastModified"]
    return Version(str(entry["VersionId"]), when.astimezone(UTC), size)


def _done(h: History) -> History:
    h.newest_first()
    return h
