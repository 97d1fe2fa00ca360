"""Durations as users write them on a command line: ``30d``, ``12h``, ``2w3d``, ``90min``.

Units are fixed lengths only: ``w`` (7 days), ``d`` (24 hours), ``h``, and
``min``. Months and years have no fixed length, so a calendar unit is refused
rather than guessed: a user who means half a year writes ``182d``. A bare
``m`` is refused too, with a word on why: restic reads ``6m`` as six months,
and a retention rule that read it as six minutes would forget half a year.
Each unit appears at most once, largest first, and the total must be more
than zero.
"""

from __future__ import annotations

import re
from datetime import timedelta

from ripcord.errors import UsageError

UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "min": timedelta(minutes=1),
}
_GRAMMAR = re.compile("".join(rf"(?:(?P<{u}>[0-9]+){u})?" for u in UNITS))
HELP = "a sum of whole w (weeks), d (days), h (hours), min (minutes), e.g. 30d, 2w3d, 1d12h, 90min"


def parse_duration(text: str) -> timedelta:
    """The span `text` names; anything else is a UsageError that says what is accepted."""
    found = _GRAMMAR.fullmatch(text.strip()) if text.strip() else None
    if found is None:
        hint = (
            "; `m` is ambiguous (months in restic): write `min` for minutes, days for months"
            if re.search(r"[0-9]m(?!in)", text)
            else "; no months or years"
        )
        raise UsageError(f"not a duration: {text!r} (write {HELP}{hint})")
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
    """The largest single unit that divides `delta` exactly: 30d, 36h, 90min (45s otherwise)."""
    secs = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if secs and secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"
