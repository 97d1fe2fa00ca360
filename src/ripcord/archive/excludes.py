"""Which paths a backup leaves out: gitignore-style patterns and cache dirs."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pathspec

CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


class Excluder:
    """Matches absolute paths against gitignore-style patterns (pathspec).

    A pattern without '/' matches a name at any depth ('*.tmp'); one with '/'
    is anchored at the file system root ('/home/*/.cache').
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [p for p in patterns if p.strip() and not p.lstrip().startswith("#")]
        self.spec = pathspec.GitIgnoreSpec.from_lines(self.patterns) if self.patterns else None

    def excluded(self, path: bytes, is_dir: bool) -> bool:
        if self.spec is None:
            return False
        rel = os.fsdecode(path).lstrip("/")
        return self.spec.match_file(rel + "/" if is_dir else rel)


def read_exclude_file(path: str) -> list[str]:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return [line.rstrip("\n") for line in f]


def is_cache_dir(path: bytes) -> bool:
    """True for a directory holding a valid CACHEDIR.TAG (bford.info/cachedir)."""
    try:
        with open(os.path.join(path, b"CACHEDIR.TAG"), "rb") as f:
            return f.read(len(CACHEDIR_SIGNATURE)) == CACHEDIR_SIGNATURE
    except OSError:
        return False
