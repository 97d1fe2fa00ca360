"""Sizes as users write them: `100M`, `1G`, `512KiB`, `4096` (binary units: 1K = 1024).

A module of its own, outside the layers, because command options (cli) and the
plan file (plan) both take sizes."""

from __future__ import annotations

import re

from ripcord.errors import UsageError

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+)\s*(?:([kmgt])(?:i?b)?|b)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`100M`, `1G`, `512KiB`, `4096` -> bytes (binary units: 1K = 1024)."""
    m = _SIZE.fullmatch(text.strip())
    if m is None:
        raise UsageError(f"not a size: {text!r} (write e.g. 100M or 1G)")
    value = int(m.group(1)) * _UNITS[(m.group(2) or "").lower()]
    if value <= 0:
        raise UsageError(f"size must be above zero: {text!r}")
    return value
