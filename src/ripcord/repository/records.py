"""What every proof record shares: when it ran, where, by whom, on which repository,
and for how long.

Drill records (drills.py) and check records (checks.py) are both dated,
write-once proofs about one repository. Their common fields are written and
read here, with the same checks, so the two formats cannot drift apart.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Protocol

from ripcord.repository.wire import as_str, as_time


class Dated(Protocol):
    @property
    def time(self) -> datetime: ...  # when it started

    @property
    def host(self) -> str: ...

    @property
    def user(self) -> str: ...

    @property
    def repository(self) -> str: ...  # config id of the repository it is about

    @property
    def duration(self) -> float: ...  # seconds


def common_doc(rec: Dated) -> dict[str, Any]:
    """The shared fields as stored (docs/FORMAT.md §Drills, §Checks)."""
    return {
        "time": rec.time.isoformat(),
        "host": rec.host,
        "user": rec.user,
        "repository": rec.repository,
        "duration": rec.duration,
    }


def read_common(d: dict[str, Any]) -> dict[str, Any]:
    """The shared fields of a decoded document, checked, as constructor arguments.

    Raises KeyError, TypeError or ValueError, which the caller turns into
    CorruptObject naming the record."""
    time = as_time(d["time"])
    duration = d["duration"]
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise ValueError("duration is not a number")
    if not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration {duration!r}")
    return {
        "time": time,
        "host": as_str(d["host"]),
        "user": as_str(d["user"]),
        "repository": as_str(d["repository"]),
        "duration": float(duration),
    }


RESULTS = ("pass", "fail")


def result_of(failed: bool) -> str:
    return "fail" if failed else "pass"


def check_result(stored: Any, failed: bool, what: str) -> None:
    """A stored result must agree with what the record lists (`what`, for the error)."""
    if stored not in RESULTS or (stored == "fail") != failed:
        raise ValueError(f"result {stored!r} with {what}")
