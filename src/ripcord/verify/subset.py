"""Which packs `check --read-data-subset` reads: a rotating share, oldest verified first.

The local cache remembers when each pack was last read back intact, so a
5 % subset run every day reads every pack within 20 days, and a pack
written yesterday is read before one verified last week. `n/t` is the
restic form: the n-th of t fixed groups (by pack id), for splitting the work
over t scheduled runs.
"""

from __future__ import annotations

import contextlib
import math
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ripcord.errors import UsageError

Chooser = Callable[[list[str]], list[str]]


class VerifiedLog:
    """pack id -> when it was last read back intact, kept in the local cache."""

    def __init__(self, path: Path | None) -> None:
        self.db = sqlite3.connect(":memory:")
        if path is not None:
            with contextlib.suppress(OSError, sqlite3.Error):
                path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(str(path))
        self.db.execute("CREATE TABLE IF NOT EXISTS verified (pack TEXT PRIMARY KEY, at REAL)")

    def last(self) -> dict[str, float]:
        return dict(self.db.execute("SELECT pack, at FROM verified").fetchall())

    def record(self, packs: Iterable[str], at: float | None = None) -> None:
        at = time.time() if at is None else at
        rows = [(p, at) for p in packs]
        with contextlib.suppress(sqlite3.Error), self.db:  # only a cache: read-only home is fine
            self.db.executemany("INSERT OR REPLACE INTO verified VALUES (?, ?)", rows)

    def close(self) -> None:
        self.db.close()


def parse_subset(text: str, log: VerifiedLog) -> Chooser:
    """`5%` (the least recently verified share) or `n/t` (group n of t)."""
    spec = text.strip()
    group = re.fullmatch(r"([0-9]+)/([0-9]+)", spec)
    if group:
        n, t = int(group[1]), int(group[2])
        if not 1 <= n <= t:
            raise UsageError(f"subset {text!r}: n/t needs 1 <= n <= t")
        return lambda packs: [p for p in packs if int(p[:8], 16) % t == n - 1]
    share = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)%", spec)
    if share is None or not 0 < float(share[1]) <= 100:
        raise UsageError(f"not a subset: {text!r} (write a share such as 5% or a group n/t)")
    fraction = float(share[1]) / 100

    def choose(packs: list[str]) -> list[str]:
        seen = log.last()
        oldest_first = sorted(packs, key=lambda p: (seen.get(p, -1.0), p))
        return oldest_first[: math.ceil(len(packs) * fraction)]

    return choose
