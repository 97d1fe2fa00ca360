"""history through a split folder (archive/history.py): of the folder only the part
that holds the path is read, and the folder's entries are counted from its listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ripcord.archive.history import Version, history
from ripcord.archive.trees import listing
from tests.conftest import Cli
from tests.faults import api_repo, node_at
from tests.splits import small_parts

FILES = 300


def test_history_in_a_split_folder_reads_one_part_and_counts_entries_unread(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_parts(monkeypatch, every=16)
    big = tmp_path / "src" / "big"
    big.mkdir(parents=True)
    for i in range(FILES):
        (big / f"file-{i:04}.txt").write_text(f"file {i}\n")
    cli.ok("backup", str(big))
    (big / "file-0150.txt").write_text("changed\n")
    cli.ok("backup", str(big))
    with api_repo(cli) as repo:
        snaps = repo.snapshots()
        trees = {node_at(repo, s.id, big).subtree for s in snaps}
        parts = {p.id for t in trees if t is not None for p in listing(repo, t).parts}
        assert len(parts) >= 8  # two folders of ~10 parts each, one part apart
        read: list[bytes] = []
        real = repo.read_blob

        def read_blob(blob_id: bytes) -> bytes:
            read.append(blob_id)
            return real(blob_id)

        monkeypatch.setattr(repo, "read_blob", read_blob)
        (h,) = history(repo, snaps, str(big / "file-0150.txt"))
        assert [e.node.size for e in h.events if isinstance(e, Version)] == [9, 8]
        assert len(parts & set(read)) <= 2  # the part holding the file, in each folder
        read.clear()
        (h,) = history(repo, snaps, str(big))
        assert [e.entries for e in h.events if isinstance(e, Version)] == [FILES, FILES]
        assert not parts & set(read)
