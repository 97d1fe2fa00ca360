"""Folder names a mount shows: what repository content may become a path component,
and names for snapshots that stay unique when two share a second."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

ENCODING, ERRORS = "utf-8", "surrogateescape"  # names are bytes; FUSE hands us str


def to_str(name: bytes) -> str:
    return name.decode(ENCODING, ERRORS)


def to_bytes(name: str) -> bytes:
    return name.encode(ENCODING, ERRORS)


def is_component(name: bytes) -> bool:
    """Whether `name` can be one path component: a hostile repository's '/', '..' or NUL
    must never let a name reach outside its folder or cut a path short."""
    return (
        name not in (b"", b".", b"..")
        and b"/" not in name
        and b"\0" not in name
        and (len(name) <= 255)
    )


def time_name(t: datetime) -> str:
    """A snapshot's folder name: its time, local like @TIME, to the second."""
    return t.astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def unique(names: Iterable[str]) -> list[str]:
    """`names` in order, a later repeat given the first free suffix -1, -2, ...
    (also free of the names given as they are)."""
    given = list(names)
    taken = set(given)
    seen: set[str] = set()
    out = []
    for name in given:
        if name in seen:
            n = 1
            while f"{name}-{n}" in taken:
                n += 1
            name = f"{name}-{n}"
            taken.add(name)
        seen.add(name)
        out.append(name)
    return out
