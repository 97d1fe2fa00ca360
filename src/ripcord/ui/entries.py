"""A snapshot's entries as pages show them: names as text, paths as URLs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ripcord.archive.node import DIR, Node, mode_text
from ripcord.ui.paths import quote_path, shown, text


@dataclass(frozen=True)
class Entry:
    """One entry of a folder as the page shows it."""

    node: Node
    path: bytes

    @property
    def name(self) -> str:
        return shown(self.node.name)

    @property
    def shown_path(self) -> str:
        return shown(self.path)

    @property
    def url(self) -> str:
        return quote_path(self.path)

    @property
    def is_dir(self) -> bool:
        return self.node.type == DIR

    @property
    def mode(self) -> str:
        return mode_text(self.node)

    @property
    def target(self) -> str:
        return shown(self.node.target)

    @property
    def owner(self) -> str:
        n = self.node
        return f"{text(n.user) or n.uid}:{text(n.group) or n.gid}"

    @property
    def mtime(self) -> datetime:
        return datetime.fromtimestamp(self.node.mtime_ns / 1e9).astimezone()


def crumbs(path: bytes) -> list[tuple[str, str]]:
    """(name, url path) of the root and every folder down to `path`."""
    out = [("/", "")]
    parts = [c for c in path.split(b"/") if c]
    for i, part in enumerate(parts):
        out.append((shown(part), quote_path(b"/".join(parts[: i + 1]))))
    return out
