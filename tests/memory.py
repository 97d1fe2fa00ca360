"""Memory measured in tests: tracemalloc's peak of one call, and sources whose size is
in entries, not bytes."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path


def traced_peak(run: Callable[[], object]) -> int:
    """The peak of Python allocations, in bytes, while `run` runs (its result dropped)."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def empty_files(root: Path, count: int) -> Path:
    """`root` made holding `count` empty files f0000000, f0000001, ..."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        os.close(os.open(root / f"f{i:07}", os.O_CREAT | os.O_WRONLY, 0o644))
    return root
