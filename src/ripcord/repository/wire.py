"""Typed reading of fields from decoded msgpack documents.

Everything read from a repository is untrusted: a field is checked to have
the type its reader expects, and a wrong one raises ValueError, which each
decoder turns into CorruptObject naming the object.
"""

from __future__ import annotations

from typing import Any


def as_int(v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"expected an integer, got {v!r}")
    return v


def as_count(v: Any) -> int:
    if as_int(v) < 0:
        raise ValueError(f"expected a count, got {v!r}")
    return int(v)


def as_bytes(v: Any) -> bytes:
    if not isinstance(v, bytes):
        raise ValueError(f"expected bytes, got {type(v).__name__}")
    return v


def as_str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected text, got {type(v).__name__}")
    return v


def as_list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise ValueError(f"expected a list, got {type(v).__name__}")
    return v


def as_id(v: Any) -> bytes:
    """A 32-byte blob id."""
    if not isinstance(v, bytes) or len(v) != 32:
        raise ValueError("bad blob id")
    return v
