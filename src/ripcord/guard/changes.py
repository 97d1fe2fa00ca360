"""What changed between a snapshot and its parent, in the terms the guard judges.

Built from the same diff as `ripcord diff` (identical subtrees are skipped
unread), plus the per-file signals the backup took (`Node.sig`): whether a
rewritten file went from compressible to random-looking, whether its first
bytes stopped saying what kind of file it is, whether a new file replaced an
old one under a new extension, and whether new files read like ransom notes.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ripcord.archive.diff import ADDED, MODIFIED, REMOVED, TYPE, Change, diff_trees
from ripcord.archive.kinds import PACKED
from ripcord.archive.node import DIR, FILE, Node, Signal
from ripcord.archive.signals import MIN_MEASURED
from ripcord.archive.trees import walk
from ripcord.repository import Repository

RANDOM = 245  # body or head compressibility (of 255) from which content looks random
COMPRESSIBLE = 230  # below this, content was not random before
# names ransomware leaves in every folder it encrypted (compared in lower case)
NOTE_NAMES = re.compile(
    rb"(readme|read_me|how|help|restore|recover|decrypt|unlock|instruction|info)"
    rb"[^/]*(decrypt|restore|recover|unlock|files|instruction|readme|read_me)[^/]*"
    rb"\.(txt|html?|hta|url|rtf)$"
    rb"|^_?readme\.txt$|^!+.*!+\.(txt|html?)$"
)


@dataclass
class ChangeStats:
    """Counts of what changed from the parent; every field a plain number or list, so
    the history can be kept in snapshot summaries."""

    files_before: int = 0
    files_after: int = 0
    added: int = 0  # moved files excepted
    deleted: int = 0  # moved files excepted
    modified: int = 0
    moved: int = 0  # deleted in one place and added, same content, in another
    bytes_added: int = 0
    bytes_deleted: int = 0
    bytes_modified: int = 0
    turned_random: int = 0  # rewritten from compressible to random-looking
    head_scrambled: int = 0  # first bytes no longer say what the file is (or turned random)
    renamed_random: int = 0  # a random-looking file replaced a deleted one under a new suffix
    random_files: int = 0  # random-looking files in the snapshot that no format explains
    notes: list[str] = field(default_factory=list)  # new files that read like ransom notes
    canaries: list[str] = field(default_factory=list)  # canary paths changed or deleted
    new_suffixes: Counter[str] = field(default_factory=Counter)  # of renamed_random files
    deleted_dirs: list[tuple[str, int]] = field(default_factory=list)  # (dir, files), largest first

    @property
    def encrypted_like(self) -> int:
        """Files that changed the way encryption changes them."""
        return self.turned_random + self.head_scrambled + self.renamed_random


def is_random(sig: Signal | None) -> bool:
    """Random-looking content that its kind does not explain (not a JPEG, a zip, ...)."""
    return sig is not None and max(sig.body, sig.head) >= RANDOM and sig.kind not in PACKED


def _counts_random(node: Node) -> bool:
    """Counted in the share of random-looking files: not a file of under MIN_MEASURED
    bytes, which any compressor finds random-looking (the signal records it so)."""
    return node.size >= MIN_MEASURED and is_random(node.sig)


def _random_body(sig: Signal | None) -> bool:
    return sig is not None and sig.body >= RANDOM and sig.kind not in PACKED


def _was_plain(sig: Signal | None) -> bool:
    return sig is not None and sig.body < COMPRESSIBLE


def _scrambled(a: Signal | None, b: Signal | None) -> bool:
    """The first bytes stopped being what they were: a known kind became opaque data,
    or a compressible head became random (encryption of only the start of a file)."""
    if a is None or b is None:
        return False
    lost_kind = a.kind != "data" and b.kind == "data"
    return lost_kind or (a.head < COMPRESSIBLE and b.head >= RANDOM and b.kind not in PACKED)


def measure(
    repo: Repository,
    parent_tree: bytes | None,
    tree: bytes,
    parent_random: int | None = None,
    canaries: Iterable[str] = (),
) -> ChangeStats:
    """Compare `tree` with `parent_tree` (None: everything is new).

    `parent_random` is the parent's count of unexplained random files, from its
    summary; without it the new tree is walked to count them.
    """
    stats = ChangeStats()
    watched = {c.encode() if isinstance(c, str) else c for c in canaries}
    removed: dict[bytes, Node] = {}  # deleted files by path: a renamed copy may follow
    # added files, to match with deleted ones; none without a parent (nothing deleted),
    # so a first backup of a million files does not hold a million nodes
    added: list[tuple[bytes, Node]] = []
    random_delta = 0
    changes: Iterable[Change] = (
        diff_trees(repo, parent_tree, tree) if parent_tree is not None else _all_added(repo, tree)
    )
    for c in changes:
        a = c.a if c.a is not None and c.a.type == FILE else None
        b = c.b if c.b is not None and c.b.type == FILE else None
        if c.kind in (REMOVED, TYPE) and c.a is not None and c.a.type == DIR:
            stats.deleted_dirs.append((c.path.decode(errors="replace"), 0))
        if c.kind in (REMOVED, TYPE) and a is not None:
            stats.deleted += 1
            stats.bytes_deleted += a.size
            removed[c.path] = a
            random_delta -= _counts_random(a)
        if c.kind in (ADDED, TYPE) and b is not None:
            stats.added += 1
            stats.bytes_added += b.size
            if parent_tree is not None:
                added.append((c.path, b))
            if _is_note(c.path, b):
                stats.notes.append(c.path.decode(errors="replace"))
            random_delta += _counts_random(b)
        if c.kind == MODIFIED and a is not None and b is not None:
            stats.modified += 1
            stats.bytes_modified += b.size
            random_delta += _counts_random(b) - _counts_random(a)
            if _was_plain(a.sig) and _random_body(b.sig):
                stats.turned_random += 1
            elif _scrambled(a.sig, b.sig):
                stats.head_scrambled += 1
        if c.path in watched and c.kind != ADDED:
            stats.canaries.append(c.path.decode(errors="replace"))
    for path, node in added:
        old = _renamed_from(path, removed) if removed else None  # none on a first backup
        if old is not None and is_random(node.sig) and not is_random(old.sig):
            stats.renamed_random += 1
            stats.new_suffixes[path.rsplit(b".", 1)[-1].decode(errors="replace")] += 1
    _moves(stats, removed, added)
    stats.deleted_dirs = _dir_sizes(stats.deleted_dirs, removed)
    if parent_tree is not None and parent_random is None:  # a parent from before the guard
        stats.random_files = sum(_counts_random(n) for _, n in all_files(repo, tree))
    else:  # without a parent every file was added, so the delta is the count
        stats.random_files = max(0, (parent_random or 0) + random_delta)
    return stats


def _moves(stats: ChangeStats, removed: dict[bytes, Node], added: list[tuple[bytes, Node]]) -> None:
    """A file deleted in one place and added with the same content in another was moved,
    not deleted: a folder reorganised is not a mass deletion. Each deleted file accounts
    for one move; the moved ones leave `removed`."""
    gone: dict[bytes, list[bytes]] = {}
    for path, node in removed.items():
        if node.hash:
            gone.setdefault(node.hash, []).append(path)
    for _, node in added:
        paths = gone.get(node.hash) if node.hash else None
        if paths:
            old = removed.pop(paths.pop())
            stats.moved += 1
            stats.deleted -= 1
            stats.added -= 1
            stats.bytes_deleted -= old.size
            stats.bytes_added -= node.size


def _all_added(repo: Repository, tree: bytes) -> Iterable[Change]:
    for path, node in all_files(repo, tree):
        yield Change(path, ADDED, None, node)


def all_files(repo: Repository, tree: bytes) -> Iterable[tuple[bytes, Node]]:
    """Every file below `tree` with its path, as the walk reads them (a part at a time)."""
    root = Node(name=b"/", type=DIR, subtree=tree)
    return ((p, n) for p, n in walk(repo, root, b"/") if n.type == FILE)


def _is_note(path: bytes, node: Node) -> bool:
    if node.size > 256 << 10:
        return False
    if node.sig is not None and node.sig.note:
        return True
    return NOTE_NAMES.search(path[path.rfind(b"/") + 1 :].lower()) is not None


def _renamed_from(path: bytes, removed: dict[bytes, Node]) -> Node | None:
    """The deleted file that `path` replaces under an extra or new suffix, if any:
    `a/report.docx` -> `a/report.docx.locked` or `a/report.docx.x7k2`."""
    stem = path
    for _ in range(2):  # up to two suffixes added (name.ext.id.locked)
        if b"." not in posixpath.basename(stem):
            return None
        stem = stem.rsplit(b".", 1)[0]
        if stem in removed:
            return removed[stem]
    return None


def _dir_sizes(dirs: list[tuple[str, int]], removed: dict[bytes, Node]) -> list[tuple[str, int]]:
    """Each deleted directory with the number of files deleted under it, largest first;
    directories inside another deleted one are left out."""
    tops: list[str] = []
    for d, _ in sorted(dirs):
        if not any(d.startswith(t.rstrip("/") + "/") for t in tops):
            tops.append(d)
    paths = [p.decode(errors="replace") for p in removed]
    sized = [(d, sum(p.startswith(d.rstrip("/") + "/") for p in paths)) for d in tops]
    return sorted(sized, key=lambda x: (-x[1], x[0]))
