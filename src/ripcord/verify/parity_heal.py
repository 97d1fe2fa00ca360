"""Heal damaged packs from their parity (`check --read-data --repair`), no replica needed.

Objects are never rewritten, so healing a pack does not touch it: its original
bytes are rebuilt from the shares that still match their hashes, checked
against the pack's id, and its blobs are stored again in new packs; index
files listing the damaged pack are replaced by ones that do not, and a
pending-deletion plan condemns the damaged pack and the old index files, so
the next prune deletes them (docs/FORMAT.md §Parity). Until then readers
already prefer the new copies, and `check` reports the damaged pack as a
note. Then the repository is checked again, reading back the new packs.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace

from ripcord.archive.progress import Progress
from ripcord.errors import CorruptObject, MissingObject, RipcordError, StoreError
from ripcord.repository import Repository
from ripcord.repository.bounds import read_bounded, too_large
from ripcord.repository.index import PackFrames
from ripcord.repository.pack import MAX_PACK_BYTES, open_frame, read_trailer
from ripcord.repository.packer import pack_name
from ripcord.repository.parity import parity_name, read_header, recover
from ripcord.storage import ObjectNotFound
from ripcord.storage.append_only import deletion_refused
from ripcord.verify.check import CheckOptions, CheckReport, check

SECTOR = 4096  # what a parity object is read by when it cannot be read whole
NO_PARITY = (
    "this repository keeps no parity (ripcord init --parity), so there is nothing to heal"
    " from here; heal it from a replica: ripcord repair --from REPLICA"
)


@dataclass(frozen=True)
class Healed:
    pack: str
    shares: int  # damaged shares rebuilt
    blobs: int  # blobs stored again


@dataclass(frozen=True)
class Unhealable:
    pack: str
    reason: str


@dataclass
class Healing:
    parity: int  # the repository's parity, percent; 0: nothing to heal from
    healed: list[Healed] = field(default_factory=list)
    unhealable: list[Unhealable] = field(default_factory=list)
    plan: str = ""  # the pending plan condemning the healed packs


def heal(
    repo: Repository,
    report: CheckReport,
    verified: list[str],
    options: CheckOptions,
    progress: Progress,
) -> tuple[CheckReport, list[str], Healing]:
    """Heal every pack `report` found damaged; then the report and verified packs of
    a check run again (reading back the new packs), and what was healed and not."""
    healing = Healing(repo.config.parity)
    damaged = sorted(report.damaged_packs)
    if not damaged:
        return report, verified, healing
    cannot = _cannot_heal(repo)
    if cannot:
        healing.unhealable = [Unhealable(p, cannot) for p in damaged]
        return report, verified, healing
    before = set(repo.pack_sizes())
    for pack in damaged:
        try:
            healing.healed.append(_restore(repo, pack))
        except RipcordError as e:
            healing.unhealable.append(Unhealable(pack, str(e)))
    repo.flush()
    if not healing.healed:
        return report, verified, healing
    healing.plan = _condemn(repo, {h.pack for h in healing.healed})
    new = sorted(set(repo.pack_sizes()) - before)
    again, verified_again = check(repo, replace(options, read_packs=_only(new)), progress)
    again.packs_read += report.packs_read
    again.read_packs = report.read_packs + again.read_packs
    again.bytes_read += report.bytes_read
    return again, verified + verified_again, healing


def _cannot_heal(repo: Repository) -> str:
    if not repo.config.parity:
        return NO_PARITY
    refused = deletion_refused(repo.store, "check --read-data --repair")
    if refused is not None:  # healing condemns the damaged pack
        return refused
    if repo.held is None:
        return "the repository cannot be written here (no lock could be taken)"
    return ""


def _only(packs: list[str]) -> Callable[[list[str]], list[str]]:
    return lambda _: packs


def _restore(repo: Repository, pack: str) -> Healed:
    """Rebuild one pack from its parity and store its blobs again (not yet flushed)."""
    name = pack_name(pack)
    try:
        repo.store.stat(name)
    except ObjectNotFound:
        raise MissingObject(
            f"{name} is gone: parity rebuilds damaged shares of a pack, never a whole one"
        ) from None
    try:
        obj = _salvage(repo, parity_name(pack), SECTOR)
    except ObjectNotFound:
        raise MissingObject(f"{name} has no parity object") from None
    header, start = read_header(repo.key, obj, pack, parity_name(pack))
    rec = recover(header, _salvage(repo, name, header.layout.share), obj, start)
    if rec.data is None:
        raise CorruptObject(f"{name}: {rec.reason}")
    if not rec.damaged:
        raise CorruptObject(
            f"{name} is as it was written (every share matches its parity): the damage"
            " predates the parity, or the index disagrees with the pack (ripcord repair index)"
        )
    blobs = 0
    for frame in read_trailer(repo.key, rec.data, name):
        what = f"{name} frame at {frame.offset} (rebuilt)"
        plain = open_frame(repo.key, rec.data[frame.offset : frame.offset + frame.length], what)
        for b in frame.blobs:
            blob = plain[b.offset : b.offset + b.length]
            if len(blob) != b.length or repo.blob_id(blob) != b.id:
                raise CorruptObject(f"{what}: blob {b.id.hex()} does not match its id")
            repo.add_blob(b.type, blob, b.id, again=True)
            blobs += 1
    return Healed(pack, len(rec.damaged), blobs)


def _salvage(repo: Repository, name: str, piece: int) -> bytes:
    """An object whole or, where the storage cannot read part of it (a bad sector
    gives EIO), what can be read piece by piece, with zeros for the rest: the shares
    those fall in fail their hashes, and parity makes up for them."""
    try:
        return read_bounded(repo.store, name, MAX_PACK_BYTES)
    except ObjectNotFound:
        raise
    except StoreError:
        size = repo.store.stat(name).size
        if size > MAX_PACK_BYTES:
            raise too_large(name, MAX_PACK_BYTES) from None
    out = bytearray(size)
    for offset in range(0, size, piece):
        with suppress(StoreError):
            part = repo.store.get(name, offset, min(piece, size - offset))
            out[offset : offset + len(part)] = part
    return bytes(out)


def _condemn(repo: Repository, packs: set[str]) -> str:
    """Replace every index file that lists a healed pack by one that does not, then
    condemn the healed packs and those index files for the next prune (the order
    prune itself keeps: new data, new index files, then the plan)."""
    replaced: list[str] = []
    for info in sorted(repo.store.list("index"), key=lambda i: i.name):
        if info.name in repo.written_index:
            continue
        try:
            listed = repo.read_index_file(info.name, info.size)
        except (CorruptObject, MissingObject):
            continue  # check reports it; prune replaces it
        if not any(p in packs for p, _ in listed):
            continue
        rest: list[PackFrames] = [(p, frames) for p, frames in listed if p not in packs]
        if rest:
            repo.write_index_file(rest)
        replaced.append(info.name.split("/", 1)[1])
    plan = repo.write_plan(sorted(packs), replaced, [], repo.snapshot_ids())
    return plan.id
