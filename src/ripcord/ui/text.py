"""Text read from a repository or a file system, made fit for a page.

A path that is not UTF-8 reaches Python as a str with surrogate escapes, which
no page, JSON or SVG can carry (encoding the page would fail): its stray bytes
are shown as `\\xNN` escapes instead.
"""

from __future__ import annotations


def shown(text: str) -> str:
    """`text` with every byte that was not UTF-8 shown as a `\\xNN` escape."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
