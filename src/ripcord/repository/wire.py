"""Typed reading of fields from decoded msgpack documents.

Everything read from a repository is untrusted: a field is checked to have
the type its reader expects, and a wrong one raises ValueError, which each
decoder turns into CorruptObject naming the object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# A record's time outside these years is a forgery or a broken clock; near year 1 or
# 9999 merely showing it in local time overflows.
YEARS = range(1900, 9001)


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


def as_time(v: Any) -> datetime:
    """An ISO 8601 time with its zone, in a year ripcord can show (YEARS)."""
    t = datetime.fromisoformat(as_str(v))
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("time has no time zone")
    if t.year not in YEARS:
        raise ValueError(f"time {v!r} is outside the years {YEARS.start}-{YEARS.stop - 1}")
    return t
