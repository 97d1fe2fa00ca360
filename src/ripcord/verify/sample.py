"""Which files a restore drill restores: a seeded, stratified sample of snapshots.

Each snapshot is walked once, its trees beside those of the snapshot before it
and of the oldest one of its group (same host and paths), so that every file
can be classed: *changed* (new, or content other than in the snapshot before),
*unchanged* (the same content as in the oldest snapshot: it has lain in the
repository longest), *large* (drawn with odds proportional to size, so a byte
picked at random lands in it) and *any* (drawn uniformly, so mostly the small
files that make up most of a tree). A directory that is the same tree as the one
it is compared with is not read twice. A directory and those it is compared with are
read side by side as streams in name order (a split folder a part at a time), so a
folder of a million entries is never held whole.

Each stratum keeps the best candidates in a reservoir, so memory is bounded by
the sample size however large the snapshot. A candidate's rank is a keyed hash
of (seed, stratum, snapshot, path), not a random stream: the same seed picks the
same files whatever order the walk takes. Strata then take turns, and
snapshots take turns, until the sample is full.
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import blake3

from ripcord.archive.node import DIR, FILE, SYMLINK, Node
from ripcord.archive.progress import NullProgress, Progress
from ripcord.archive.trees import iter_below, iter_nodes
from ripcord.errors import RipcordError
from ripcord.repository import Repository, Snapshot
from ripcord.repository.drills import Failure

CHANGED, UNCHANGED, LARGE, ANY = "changed", "unchanged", "large", "any"
STRATA = (CHANGED, UNCHANGED, LARGE, ANY)  # the order in which strata take turns


@dataclass(frozen=True)
class Pick:
    snapshot: Snapshot
    path: bytes  # absolute, as backed up
    node: Node
    why: str  # the stratum it was picked for


@dataclass
class Candidates:
    """One snapshot's best candidates per stratum, and the directories it could not read."""

    snapshot: Snapshot
    strata: dict[str, list[Pick]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


def choose_older(snapshots: list[Snapshot], seed: int) -> Snapshot | None:
    """The older snapshot a default drill restores beside the latest: drawn by the seed,
    so drill after drill goes over the whole history, not the same old snapshot."""
    older = snapshots[:-1]
    return min(older, key=lambda s: _unit(seed, "older", s.id, b"")) if older else None


def neighbours(
    snapshots: list[Snapshot], snap: Snapshot
) -> tuple[Snapshot | None, Snapshot | None]:
    """The snapshot before `snap` in its group (host and paths), and the group's oldest."""
    group = [s for s in snapshots if s.host == snap.host and sorted(s.paths) == sorted(snap.paths)]
    before = [s for s in group if (s.time, s.id) < (snap.time, snap.id)]
    return (before[-1] if before else None), (before[0] if before else None)


def candidates(
    repo: Repository,
    snap: Snapshot,
    prev: Snapshot | None,
    oldest: Snapshot | None,
    seed: int,
    keep: int,
    max_size: int | None = None,
    progress: Progress | None = None,
) -> Candidates:
    """Walk `snap` and keep, per stratum, the `keep` best files and symlinks (files over
    `max_size` cannot be restored within the budget and are passed over)."""
    progress = progress or NullProgress()
    out = Candidates(snap)
    pools = {s: _Reservoir(keep) for s in STRATA}
    stack: list[tuple[bytes, bytes, bytes | None, bytes | None]] = [
        (b"", bytes.fromhex(snap.tree), _tree(prev), _tree(oldest))
    ]
    while stack:
        path, tree, prev_tree, old_tree = stack.pop()
        progress.item(os.fsdecode(path or b"/"))
        before, first = _Compared(repo, prev_tree, tree), _Compared(repo, old_tree, tree)
        try:
            for node in iter_below(repo, tree, path):
                child = path + b"/" + node.name
                p, o = before.get(node), first.get(node)
                if node.type == DIR and node.subtree is not None:
                    stack.append((child, node.subtree, _subtree(p), _subtree(o)))
                    continue
                if node.type not in (FILE, SYMLINK) or (
                    max_size is not None and node.size > max_size
                ):
                    continue
                pools[ANY].offer(_unit(seed, ANY, snap.id, child), child, node)
                if node.type == FILE and node.size > 0:
                    pools[LARGE].offer(
                        -math.log(_unit(seed, LARGE, snap.id, child)) / node.size, child, node
                    )
                if not _same(p, node):
                    pools[CHANGED].offer(_unit(seed, CHANGED, snap.id, child), child, node)
                elif oldest is not None and _same(o, node):
                    pools[UNCHANGED].offer(_unit(seed, UNCHANGED, snap.id, child), child, node)
        except RipcordError as e:  # what came before the damage was offered already
            out.failures.append(
                Failure(snap.id, os.fsdecode(path or b"/"), f"directory unreadable: {e}")
            )
    out.strata = {s: [Pick(snap, p, n, s) for p, n in pools[s].best()] for s in STRATA}
    return out


def choose(pools: list[Candidates], count: int, max_bytes: int | None) -> list[Pick]:
    """Up to `count` picks, the snapshots taking turns and within each its strata,
    within `max_bytes` in all.

    A file whose content is already in the sample is passed over (it would prove
    the same blobs again), and so is one that would overrun the byte budget: a
    smaller one further down the same stratum may still fit.
    """
    chosen: list[Pick] = []
    taken: set[tuple[bytes, ...]] = set()
    total = 0

    def fits(pick: Pick) -> bool:
        n = pick.node
        key = (n.hash,) if n.type == FILE else (pick.snapshot.id.encode(), pick.path)
        if key in taken or (max_bytes is not None and total + n.size > max_bytes):
            return False
        taken.add(key)
        return True

    turns = [_Turns(p) for p in pools]
    while turns and len(chosen) < count:
        for t in list(turns):
            if len(chosen) == count:
                break
            pick = t.next(fits)
            if pick is None:
                turns.remove(t)
            else:
                chosen.append(pick)
                total += pick.node.size
    return chosen


class _Turns:
    """One snapshot's strata, taking turns; a stratum gives its best pick that fits."""

    def __init__(self, pool: Candidates) -> None:
        self.queues = [iter(pool.strata.get(s, [])) for s in STRATA]
        self.turn = 0

    def next(self, fits: Callable[[Pick], bool]) -> Pick | None:
        while self.queues:
            self.turn %= len(self.queues)
            q = self.queues[self.turn]
            # passed over now is passed over for good: the sample and its bytes only grow
            pick = next((p for p in q if fits(p)), None)
            if pick is None:
                del self.queues[self.turn]
                continue
            self.turn += 1
            return pick
        return None


class _Reservoir:
    """The `k` candidates with the smallest keys offered so far."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.heap: list[tuple[float, bytes, Node]] = []  # keys negated: the worst on top

    def offer(self, key: float, path: bytes, node: Node) -> None:
        # paths are unique within a snapshot, so ties never compare nodes
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, (-key, path, node))
        elif self.k and -key > self.heap[0][0]:
            heapq.heapreplace(self.heap, (-key, path, node))

    def best(self) -> list[tuple[bytes, Node]]:
        return [(p, n) for _, p, n in sorted(self.heap, key=lambda e: (-e[0], e[1]))]


def _unit(seed: int, stratum: str, snap_id: str, path: bytes) -> float:
    """A number in (0, 1), the same for the same inputs: a candidate's rank."""
    h = blake3.blake3(f"{seed}\0{stratum}\0{snap_id}\0".encode() + path).digest()
    return (int.from_bytes(h[:8], "little") + 0.5) / 2**64


class _Compared:
    """The entries of a tree compared against, asked for in name order as the walked
    folder's entries come, and read alongside them. The walked tree itself is not read
    again. A tree that cannot be read has no entries from there on (it belongs to
    another snapshot: its damage is not this drill's finding)."""

    def __init__(self, repo: Repository, tree: bytes | None, walked: bytes) -> None:
        self.same = tree == walked
        self.entries: Iterator[Node] = iter(())
        if tree is not None and not self.same:
            self.entries = iter_nodes(repo, tree)
        self.head: Node | None = None

    def get(self, node: Node) -> Node | None:
        """The entry named as `node`, asked after every name before it."""
        if self.same:
            return node
        while self.head is None or self.head.name < node.name:
            try:
                self.head = next(self.entries, None)
            except RipcordError:
                self.head, self.entries = None, iter(())
            if self.head is None:
                return None
        return self.head if self.head.name == node.name else None


def _same(a: Node | None, b: Node) -> bool:
    """Whether `a` holds the content of `b`: the same file hash or link target."""
    return a is not None and a.type == b.type and (a.hash, a.target) == (b.hash, b.target)


def _tree(snap: Snapshot | None) -> bytes | None:
    return bytes.fromhex(snap.tree) if snap is not None else None


def _subtree(node: Node | None) -> bytes | None:
    return node.subtree if node is not None and node.type == DIR else None
