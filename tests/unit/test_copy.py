"""copy_snapshots between in-memory repositories: what travels, what is skipped, what
is refused. Real file trees are backed up and restored, only the stores are in memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.progress import NullProgress
from ripcord.archive.restore import RestoreOptions, Restorer
from ripcord.errors import MissingObject, StoreError, UsageError
from ripcord.replicate import blobs
from ripcord.replicate.copy import CopyReport, copy_snapshots
from ripcord.replicate.marks import PROTECT_REASON
from ripcord.repository import Repository, Snapshot
from ripcord.retention.prune import referenced
from ripcord.storage import MemoryStore
from ripcord.storage.base import PutOptions
from tests.conftest import FAST_KDF, PASSWORD
from tests.faults import files_under

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def source() -> Iterator[Repository]:
    repo = Repository.init(MemoryStore(), PASSWORD.encode(), FAST_KDF)
    yield repo
    repo.close()


def replica(of: Repository) -> Repository:
    """A repository made with `init --copy-params-from`: the same chunk ids."""
    return Repository.init(MemoryStore(), b"another password", FAST_KDF, copy_from=of)


@pytest.fixture
def target(source: Repository) -> Iterator[Repository]:
    repo = replica(source)
    yield repo
    repo.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("hello\n")
    (root / "docs" / "report.txt").write_text("numbers\n" * 5000)
    (root / "docs" / "deep" / "big.bin").write_bytes(os.urandom(3 << 20))  # several chunks
    (root / "empty").write_bytes(b"")
    return root


def backup(repo: Repository, path: Path, day: int, tags: list[str] | None = None) -> Snapshot:
    options = BackupOptions([str(path)], tags=tags or [], time=T0 + timedelta(days=day))
    return repo.load_snapshot(Backup(repo, options).run().snapshot_id)


def three_days(repo: Repository, data: Path) -> list[Snapshot]:
    """Three snapshots of `data`, each after a change."""
    snaps = [backup(repo, data, 0, ["first"])]
    (data / "b.txt").write_text("added on day 1\n")
    snaps.append(backup(repo, data, 1))
    (data / "docs" / "deep" / "big.bin").write_bytes(os.urandom(1 << 20))
    snaps.append(backup(repo, data, 2))
    return snaps


def restored(repo: Repository, snap_id: str, where: Path) -> dict[Path, bytes]:
    Restorer(repo, repo.load_snapshot(snap_id), RestoreOptions(str(where))).run()
    return files_under(where)


def objects(repo: Repository) -> set[str]:
    """Every object name in a repository's memory store (locks come and go)."""
    store = repo.store
    assert isinstance(store, MemoryStore)
    return {n for n in store.objects if not n.startswith("locks/")}


def copy_of(report: CopyReport, snap: Snapshot) -> str:
    return dict(report.copied)[snap.id]


class Counted(NullProgress):
    def __init__(self) -> None:
        self.advanced = 0
        self.items: list[str] = []

    def item(self, path: str) -> None:
        self.items.append(path)

    def advance(self, nbytes: int) -> None:
        self.advanced += nbytes


# -- what a copy is ---------------------------------------------------------------------


def test_copies_restore_the_same_files_and_keep_what_the_snapshot_says(
    source: Repository, target: Repository, data: Path, tmp_path: Path
) -> None:
    snaps = three_days(source, data)
    progress = Counted()
    report = copy_snapshots(source, target, progress=progress)
    assert [s for s, _ in report.copied] == [s.id for s in snaps]
    assert report.skipped == []
    assert progress.advanced == report.bytes_copied
    assert progress.items == [f"snapshot {s.id[:12]}" for s in snaps]
    for snap in snaps:
        copy = target.load_snapshot(copy_of(report, snap))
        assert copy.id != snap.id  # sealed under the target's own key
        assert copy.origin == snap.id
        for kept in ("time", "host", "user", "paths", "tree", "tags", "excludes", "summary"):
            assert getattr(copy, kept) == getattr(snap, kept), kept
        a = restored(source, snap.id, tmp_path / f"from-source-{snap.id}")
        b = restored(target, copy.id, tmp_path / f"from-target-{snap.id}")
        assert a == b and a
    used, _ = referenced(target, target.snapshots())
    for blob in used:  # every tree and blob readable, and the same bytes as in the source
        assert target.read_blob(blob) == source.read_blob(blob)
    assert report.blobs_copied == len(used)
    assert report.bytes_copied == sum(len(source.read_blob(b)) for b in used)


def test_parent_is_the_copy_of_the_parent_and_chain_the_targets_heads(
    source: Repository, target: Repository, data: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("the target's own backup\n")
    own = backup(target, other, 5)
    snaps = three_days(source, data)
    report = copy_snapshots(source, target, [snaps[0].id, snaps[1].id])
    first, second = (target.load_snapshot(copy_of(report, s)) for s in snaps[:2])
    assert first.parent is None
    assert first.chain == [own.id]  # what a backup in the target would have named
    assert second.parent == first.id
    assert second.chain == [first.id]
    third = copy_snapshots(source, target, [snaps[2].id])
    last = target.load_snapshot(copy_of(third, snaps[2]))
    assert last.parent == second.id
    assert last.chain == [second.id]
    assert target.chain_gaps() == {}


def test_only_the_snapshots_named_are_copied_with_only_the_data_they_need(
    source: Repository, target: Repository, data: Path
) -> None:
    snaps = three_days(source, data)
    report = copy_snapshots(source, target, [snaps[0].id])
    assert [s for s, _ in report.copied] == [snaps[0].id]
    used, _ = referenced(source, [snaps[0]])
    assert report.blobs_copied == len(used)
    assert len(target.snapshots()) == 1
    with pytest.raises(MissingObject, match="no snapshot"):
        copy_snapshots(source, target, ["0" * 64])


# -- idempotent -------------------------------------------------------------------------


def test_a_second_copy_writes_nothing(source: Repository, target: Repository, data: Path) -> None:
    snaps = three_days(source, data)
    source.add_mark("protect", [snaps[0].id])
    copy_snapshots(source, target)
    before = objects(target)
    again = copy_snapshots(source, target)
    assert again.copied == []
    assert again.skipped == [s.id for s in snaps]
    assert (again.blobs_copied, again.bytes_copied, again.marks_copied) == (0, 0, 0)
    assert objects(target) == before


def test_copying_back_or_on_never_duplicates(
    source: Repository, target: Repository, data: Path
) -> None:
    snaps = three_days(source, data)
    report = copy_snapshots(source, target)
    back = copy_snapshots(target, source)
    assert back.copied == []
    assert sorted(back.skipped) == sorted(c for _, c in report.copied)
    assert len(source.snapshots()) == 3
    third = replica(source)
    try:
        onward = copy_snapshots(target, third)  # a copy of a copy keeps the first origin
        assert {third.load_snapshot(c).origin for _, c in onward.copied} == {s.id for s in snaps}
        assert copy_snapshots(source, third).copied == []
        assert copy_snapshots(third, target).copied == []
    finally:
        third.close()


def test_a_snapshot_the_target_forgot_is_not_copied_again(
    source: Repository, target: Repository, data: Path
) -> None:
    snaps = three_days(source, data)
    report = copy_snapshots(source, target)
    gone = copy_of(report, snaps[0])
    target.add_mark("forget", [gone])
    again = copy_snapshots(source, target)
    assert again.copied == []
    assert snaps[0].id in again.skipped
    assert gone not in {s.id for s in target.snapshots()}


def test_a_copy_cut_short_leaves_no_snapshot_and_the_next_one_finishes(
    source: Repository, target: Repository, data: Path, tmp_path: Path
) -> None:
    snaps = three_days(source, data)
    store = source.store
    assert isinstance(store, MemoryStore)
    big = max(
        (n for n in store.objects if n.startswith("data/")), key=lambda n: len(store.objects[n])
    )
    saved = store.objects.pop(big)  # the source loses a pack for a while
    with pytest.raises(MissingObject, match="the source cannot be copied whole"):
        copy_snapshots(source, target)
    survivors = {c.origin for c in target.snapshots()}
    for c in target.snapshots():  # whatever was written is whole
        used, _ = referenced(target, [c])
        for blob in used:
            target.read_blob(blob)
    store.objects[big] = saved
    report = copy_snapshots(source, target)
    assert {s for s, _ in report.copied} == {s.id for s in snaps} - survivors
    assert {c.origin for c in target.snapshots()} == {s.id for s in snaps}
    last = target.snapshots()[-1]
    assert restored(target, last.id, tmp_path / "t") == restored(
        source, snaps[-1].id, tmp_path / "s"
    )


class DiesAfter(MemoryStore):
    """A store whose writer is gone after `packs` more packs: the rest of its puts fail,
    as a process killed midway writes nothing more."""

    def __init__(self) -> None:
        super().__init__()
        self.packs: int | None = None

    def put(self, name: str, data: bytes, options: PutOptions | None = None) -> None:
        if self.packs is not None and not name.startswith("locks/"):
            if self.packs == 0:
                raise StoreError("the writer died")
            self.packs -= name.startswith("data/")
        super().put(name, data, options)


def test_a_copy_that_dies_midway_is_resumed_without_sending_everything_again(
    source: Repository, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blobs, "FLUSH_EVERY", 1 << 20)  # an index file every MiB sent
    for i in range(12):
        (data / f"random-{i}").write_bytes(os.urandom(1 << 20))
    snap = backup(source, data, 0)
    used, _ = referenced(source, [snap])
    store = DiesAfter()
    first = Repository.init(store, b"pw", FAST_KDF, copy_from=source)
    store.packs = 4
    with pytest.raises(StoreError, match="died"):
        copy_snapshots(source, first)
    first.close()
    store.packs = None
    assert not [n for n in store.objects if n.startswith("snapshots/")]
    again = Repository.open(store, b"pw")  # another process, as after a crash
    try:
        report = copy_snapshots(source, again)
        assert [s for s, _ in report.copied] == [snap.id]
        assert 0 < report.blobs_copied < len(used)  # what was indexed before is not sent
        copy = copy_of(report, snap)
        assert restored(again, copy, tmp_path / "t") == restored(source, snap.id, tmp_path / "s")
    finally:
        again.close()


# -- marks ------------------------------------------------------------------------------


def test_protection_and_guard_marks_travel_once(
    source: Repository, target: Repository, data: Path
) -> None:
    snaps = three_days(source, data)
    source.add_mark("protect", [snaps[0].id])
    source.add_mark("alarm", [snaps[2].id, snaps[1].id], "62 % of files deleted")
    source.add_mark("incident", [snaps[2].id], "it was ransomware")
    report = copy_snapshots(source, target)
    first, second, third = (copy_of(report, s) for s in snaps)
    standing = target.standing()
    assert standing.protected == {first, second, third}
    assert standing.pinned == {second, third}
    assert standing.alarms[third].snapshots == (third, second)
    assert standing.alarms[third].reason == "62 % of files deleted"
    assert standing.answers[third].kind == "incident"
    assert report.marks_copied == 3  # protect, alarm, incident
    assert copy_snapshots(source, target).marks_copied == 0


def test_a_pin_whose_alarm_stays_behind_travels_as_a_protect(
    source: Repository, target: Repository, data: Path
) -> None:
    snaps = three_days(source, data)
    source.add_mark("alarm", [snaps[2].id, snaps[1].id], "encrypted")
    report = copy_snapshots(source, target, [snaps[1].id])
    copy = copy_of(report, snaps[1])
    assert target.protected() == {copy}
    assert [(m.kind, m.reason) for m in target.marks()] == [("protect", PROTECT_REASON)]


def test_a_protection_released_in_the_target_is_not_forced_back(
    source: Repository, target: Repository, data: Path
) -> None:
    snaps = three_days(source, data)
    source.add_mark("protect", [snaps[0].id])
    report = copy_snapshots(source, target)
    target.add_mark("unprotect", [copy_of(report, snaps[0])])
    assert copy_snapshots(source, target).marks_copied == 0
    assert target.protected() == set()


def test_an_answer_given_after_the_first_copy_travels_on_the_next(
    source: Repository, target: Repository, data: Path
) -> None:
    snaps = three_days(source, data)
    source.add_mark("alarm", [snaps[2].id, snaps[1].id], "deleted")
    report = copy_snapshots(source, target)
    source.add_mark("ack", [snaps[2].id], "we reorganised")
    assert copy_snapshots(source, target).marks_copied == 1
    standing = target.standing()
    assert standing.answers[copy_of(report, snaps[2])].reason == "we reorganised"
    assert standing.pinned == set()


# -- refused ----------------------------------------------------------------------------


def test_a_target_with_other_chunk_ids_is_refused_before_anything_is_written(
    source: Repository, data: Path
) -> None:
    three_days(source, data)
    stranger = Repository.init(MemoryStore(), b"pw", FAST_KDF)
    try:
        before = objects(stranger)
        with pytest.raises(UsageError, match="--copy-params-from"):
            copy_snapshots(source, stranger)
        assert objects(stranger) == before
    finally:
        stranger.close()


def test_a_repository_is_not_copied_onto_itself(source: Repository, data: Path) -> None:
    three_days(source, data)
    with pytest.raises(UsageError, match="same repository"):
        copy_snapshots(source, source)
