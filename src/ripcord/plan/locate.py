"""Which line of a TOML file writes a key: tomllib gives values, not positions.

A plan's problems are reported as `office.toml:14: repository.cloud.media: ...`,
so each key path needs the line it was written on. tomlkit keeps the document
but not line numbers, so this scans the text: table headers (`[a.b]`,
`[[source]]` counted per array), `key = value` lines (bare, quoted and dotted
keys, decoded by tomllib itself so escapes mean what TOML says), and skips the
insides of multi-line strings and arrays. Keys inside an inline table, and
array elements, are not located on their own: `line()` falls back to the
longest written prefix, which is the line of `key = {...}` or of the header.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence

Step = str | int  # a table key, or an index into an array of tables
KeyPath = tuple[Step, ...]

_BARE = r"[A-Za-z0-9_-]+"
_BASIC = r'"(?:[^"\\\n]|\\.)*"'
_LITERAL = r"'[^'\n]*'"
_SIMPLE = rf"(?:{_BARE}|{_BASIC}|{_LITERAL})"
_KEY = rf"{_SIMPLE}(?:[ \t]*\.[ \t]*{_SIMPLE})*"
_ARRAY_TABLE = re.compile(rf"[ \t]*\[\[[ \t]*({_KEY})[ \t]*\]\]")
_TABLE = re.compile(rf"[ \t]*\[[ \t]*({_KEY})[ \t]*\]")
_ASSIGN = re.compile(rf"[ \t]*({_KEY})[ \t]*=[ \t]*")
_STRING_OR_COMMENT = re.compile(rf'"""|\'\'\'|{_BASIC}|{_LITERAL}|#.*')


def _decode(key: str) -> tuple[str, ...]:
    """The path a TOML key spells (`a."b.c"` is ("a", "b.c")), as tomllib reads it."""
    doc = tomllib.loads(f"{key} = 0")
    path: list[str] = []
    node: object = doc
    while isinstance(node, dict):
        (name, node), *_ = node.items()
        path.append(name)
    return tuple(path)


class Locator:
    """Key path -> the 1-based line that writes it, for one TOML text."""

    def __init__(self, text: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        self._scan(text)

    def line(self, path: Sequence[Step]) -> int | None:
        """The line of `path`, else of its longest located prefix (None: nothing found)."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def _scan(self, text: str) -> None:
        counts: dict[KeyPath, int] = {}  # array of tables -> entries so far
        table: KeyPath = ()
        closer: str | None = None  # inside a multi-line string: its closing quotes
        depth = 0  # open brackets and braces of a value spanning lines
        for number, line in enumerate(text.split("\n"), start=1):  # TOML's lines, not Unicode's
            rest = line
            if closer is not None:
                end = line.find(closer)
                if end < 0:
                    continue
                closer, rest = None, line[end + 3 :]
            elif depth == 0:
                found = self._statement(line, number, counts, table)
                if found is None:
                    continue
                if isinstance(found, tuple):  # a header: nothing but a comment follows
                    table = found
                    continue
                rest = found
            closer, depth = _scan_value(rest, closer, depth)

    def _statement(
        self, line: str, number: int, counts: dict[KeyPath, int], table: KeyPath
    ) -> str | KeyPath | None:
        """Record a header or a key; return the value text left to scan, or the new table."""
        m = _ARRAY_TABLE.match(line)
        if m:
            array = self._resolve(_decode(m[1]), counts)
            counts[array] = counts.get(array, -1) + 1
            path: KeyPath = (*array, counts[array])
            self.lines.setdefault(path, number)
            self._parents(path, number)
            return path
        m = _TABLE.match(line)
        if m:
            path = self._resolve(_decode(m[1]), counts)
            self.lines.setdefault(path, number)
            self._parents(path, number)
            return path
        m = _ASSIGN.match(line)
        if m:
            path = (*table, *_decode(m[1]))
            self.lines.setdefault(path, number)
            self._parents(path, number)
            return line[m.end() :]
        return None

    def _resolve(self, name: tuple[str, ...], counts: dict[KeyPath, int]) -> KeyPath:
        """A header's path with the current index of every array of tables it runs through
        (`[source.x]` after two `[[source]]` is ("source", 1, "x"))."""
        path: KeyPath = ()
        for i, part in enumerate(name):
            path = (*path, part)
            if path in counts and i < len(name) - 1:
                path = (*path, counts[path])
        return path

    def _parents(self, path: KeyPath, number: int) -> None:
        """A table first met inside a longer header or dotted key is written there."""
        for end in range(1, len(path)):
            self.lines.setdefault(path[:end], number)


def _scan_value(text: str, closer: str | None, depth: int) -> tuple[str | None, int]:
    """Follow strings, comments and brackets through a value's text on one line."""
    pos = 0
    while pos < len(text):
        if closer is not None:
            end = text.find(closer, pos)
            if end < 0:
                return closer, depth
            closer, pos = None, end + 3
            continue
        m = _STRING_OR_COMMENT.search(text, pos)
        chunk = text[pos : m.start() if m else len(text)]
        depth += chunk.count("[") + chunk.count("{") - chunk.count("]") - chunk.count("}")
        if m is None:
            break
        if m[0] in ('"""', "'''"):
            closer = m[0]
        elif m[0].startswith("#"):
            break
        pos = m.end()
    return closer, max(depth, 0)
