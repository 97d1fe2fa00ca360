"""The index rebuilt from the packs' own trailers (`ripcord repair index`).

Packs are self-describing: each trailer lists every blob in the pack. An index
file is kept when it can be read and every pack it lists exists and agrees
with its trailer; every other index file is replaced. A pack that no kept
index file lists gets new index entries, from its trailer (or, when that is
damaged, from an index file that listed it). Nothing is deleted here: the
replaced index files, and the missing packs they named, are condemned in a
plan that the next prune carries out (docs/FORMAT.md §Repair).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ripcord.errors import CorruptObject, MissingObject
from ripcord.repository import Repository
from ripcord.repository.index import Location, PackFrames
from ripcord.repository.pack import Frame
from ripcord.repository.packer import pack_name
from ripcord.storage import ObjectNotFound

DAMAGE = (CorruptObject, MissingObject)


@dataclass
class IndexReport:
    packs: int = 0  # packs examined (those no pending prune condemned)
    index_files: int = 0  # index files examined
    adopted: list[str] = field(default_factory=list)  # packs given new index entries
    written: list[str] = field(default_factory=list)  # index files written
    replaced: dict[str, str] = field(default_factory=dict)  # index file -> why it is replaced
    missing: list[str] = field(default_factory=list)  # packs an index file lists, gone
    trailers: dict[str, str] = field(default_factory=dict)  # pack -> why its trailer is bad
    unindexable: list[str] = field(default_factory=list)  # bad trailer, listed nowhere
    plan: str | None = None


@dataclass
class Pending:
    """What the pending prunes already condemned: left to them, never re-listed."""

    packs: set[str]
    index_files: set[str]  # names, index/<id>

    @classmethod
    def of(cls, repo: Repository) -> Pending:
        plans = repo.plans()
        return cls(
            {p for plan in plans for p in plan.packs},
            {f"index/{i}" for plan in plans for i in plan.indexes},
        )


class Packs:
    """The packs in data/, each trailer read at most once (two ranged reads).

    A pack missing from the listing is asked of the store before it is called
    missing: a backup may have stored it, and indexed it, since the listing.
    """

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.sizes = repo.pack_sizes()
        self.gone: set[str] = set()
        self.bad: dict[str, str] = {}  # pack -> why its trailer cannot be read
        self._frames: dict[str, list[Frame]] = {}

    def exists(self, pack: str) -> bool:
        if pack in self.sizes:
            return True
        if pack not in self.gone:
            try:
                self.sizes[pack] = self.repo.store.stat(pack_name(pack)).size
                return True
            except ObjectNotFound:
                self.gone.add(pack)
        return False

    def trailer(self, pack: str) -> list[Frame] | None:
        """The pack's frame list, or None when its trailer is damaged (why: `bad`)."""
        if pack not in self._frames and pack not in self.bad:
            try:
                self._frames[pack] = self.repo.read_pack_frames(pack, self.sizes[pack])
            except DAMAGE as e:
                self.bad[pack] = str(e)
        return self._frames.get(pack)


def reindex(
    repo: Repository, packs: Packs, seen: list[str], write: bool = True
) -> tuple[IndexReport, list[PackFrames]]:
    """Compare every index file with the packs' trailers and index what no kept index
    file lists; a plan condemns the index files replaced (`seen`: the kept snapshots).
    Returns the report and the packs (re-)indexed; with `write` False nothing is
    written, and the caller may read those packs through `locations`."""
    report = IndexReport()
    pending = Pending.of(repo)
    good: set[str] = set()  # packs a kept index file lists, as their trailer says
    known: dict[str, list[Frame]] = {}  # frames of packs whose trailer is damaged
    names = sorted(i.name for i in repo.store.list("index"))
    for name in names:
        if name in pending.index_files:
            continue
        report.index_files += 1
        try:
            listed = repo.read_index_file(name)
        except DAMAGE as e:
            report.replaced[name] = str(e)
            continue
        why = _disagreement(listed, packs, pending, known)
        if why:
            report.replaced[name] = why
        else:
            good.update(p for p, _ in listed)
    report.missing = sorted(packs.gone)
    todo: list[PackFrames] = []
    for pack in sorted(set(packs.sizes) - pending.packs):
        report.packs += 1
        frames = packs.trailer(pack)
        if pack in good:
            continue
        frames = frames if frames is not None else known.get(pack)
        if frames is None:
            report.unindexable.append(pack)
        else:
            todo.append((pack, frames))
    report.trailers = dict(sorted(packs.bad.items()))
    report.adopted = [p for p, _ in todo]
    if write:
        report.written = repo.write_index_files(todo)
        if report.replaced or report.missing:
            ids = [n.split("/", 1)[1] for n in report.replaced]
            report.plan = repo.write_plan(report.missing, ids, [], seen).id
    return report, todo


def _disagreement(
    listed: list[PackFrames], packs: Packs, pending: Pending, known: dict[str, list[Frame]]
) -> str:
    """Why an index file cannot be kept, or "" if it can."""
    why = ""
    for pack, frames in listed:
        if pack in pending.packs:
            continue  # a pending prune deletes it, or rescues and re-indexes it
        if not packs.exists(pack):
            why = why or f"it lists {pack_name(pack)}, which is missing"
            continue
        trailer = packs.trailer(pack)
        if trailer is None:
            known.setdefault(pack, frames)  # the trailer cannot say otherwise
        elif trailer != frames:
            why = why or f"it disagrees with the trailer of {pack_name(pack)}"
    return why


def locations(packs: list[PackFrames]) -> dict[bytes, Location]:
    """Where each blob of these packs lives, for reading packs not yet indexed."""
    return {
        b.id: Location(pack, b.type, f.offset, f.length, b.offset, b.length)
        for pack, frames in packs
        for f in frames
        for b in f.blobs
    }


def unlist(repo: Repository, drop: set[str]) -> tuple[list[str], list[str]]:
    """Replace every index file that lists a pack in `drop` by new ones listing its other
    packs, so that a plan condemning `drop` can condemn those files too (prune keeps a
    condemned pack that an index file it does not condemn still lists). Returns (index
    files written, ids of the index files to condemn)."""
    pending = Pending.of(repo)
    condemned: list[str] = []
    keep: dict[str, list[Frame]] = {}
    elsewhere: set[str] = set()  # packs listed by index files that stay
    for name in sorted(i.name for i in repo.store.list("index")):
        try:
            listed = repo.read_index_file(name)
        except DAMAGE:
            continue  # condemned by reindex already
        if not any(p in drop for p, _ in listed):
            if name not in pending.index_files:
                elsewhere.update(p for p, _ in listed)
            continue
        condemned.append(name.split("/", 1)[1])
        if name not in pending.index_files:  # else whoever condemned it replaced it
            keep.update((p, f) for p, f in listed if p not in drop)
    todo = [(p, f) for p, f in sorted(keep.items()) if p not in elsewhere]
    return repo.write_index_files(todo), condemned
