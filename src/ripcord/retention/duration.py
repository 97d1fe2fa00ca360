"""Durations as users write them on a command line: ``30d``, ``12h``, ``2w3d``, ``90m``.

Units are fixed lengths only: ``w`` (7 days), ``d`` (24 hours), ``h``, and
``m`` for **minutes**. Months and years have no fixed length (and restic reads
``m`` as months), so a calendar unit is refused rather than guessed: a user who
means half a year writes ``182d``. Each unit appears at most once, largest
first, and the total must be more than zero.
"""

from __future__ import annotations

import re
from datetime import timedelta

from ripcord.errors import UsageError

UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}
_GRAMMAR = re.compile("".join(rf"(?:(?P<{u}>[0-9]+){u})?" for u in UNITS))
HELP = "a sum of whole w (weeks), d (days), h (hours), m (minutes), e.g. 30d, 2w3d, 1d12h, 90m"


def parse_duration(text: str) -> timedelta:
    """The span `text` names; anything else is a UsageError that says what is accepted."""
    found = _GRAMMAR.fullmatch(text.strip()) if text.strip() else None
    if found is None:
        raise UsageError(f"not a duration: {text!r} (write {HELP}; no months or years)")
    try:
        total = sum(
            (int(n) * UNITS[u] for u, n in found.groupdict().items() if n is not None),
            timedelta(0),
        )
    except OverflowError:
        raise UsageError(f"duration too long: {text!r}") from None
    if total <= timedelta(0):
        raise UsageError(f"duration must be more than zero: {text!r}")
    return total


def format_duration(delta: timedelta) -> str:
    """The largest single unit that divides `delta` exactly: 30d, 36h, 90m (45s otherwise)."""
    secs = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs and secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"
