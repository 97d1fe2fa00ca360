"""ripcord mount of a split folder (docs/FORMAT.md §Split trees): every entry listed
and readable through a real FUSE mount, a part that lies refused with a warning (EIO,
not a crash), and a lookup that reads one part, not the folder."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from ripcord.archive.node import Part, split_doc
from ripcord.archive.trees import find, listing
from ripcord.mount.fs import SnapshotFs
from ripcord.mount.trees import Trees
from ripcord.mount.view import SnapshotRoot
from ripcord.repository import Repository
from tests.conftest import Cli
from tests.faults import api_repo, collect, hostile_snapshot, raw_file, raw_node, raw_tree
from tests.integration.test_mount import listed, mounted, needs_fuse
from tests.splits import small_parts
from tests.trees import assert_same, tree_state

FILES = 100


@pytest.fixture
def split_src(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of FILES files and a subfolder, backed up as a split tree of parts of
    4 to 16 entries."""
    small_parts(monkeypatch, every=4)
    big = tmp_path / "src" / "big"
    (big / "sub-050").mkdir(parents=True)
    (big / "sub-050" / "inside.txt").write_text("below a folder in a part\n")
    for i in range(FILES):
        (big / f"file-{i:03}.txt").write_text(f"file {i}\n" * (i % 5))
    cli.ok("backup", str(big))
    with api_repo(cli) as repo:
        snap = repo.snapshots()[-1]
        tree = find(repo, bytes.fromhex(snap.tree), str(big)).subtree
        assert tree is not None and len(listing(repo, tree).parts) >= 5
    return big


@needs_fuse
def test_every_entry_of_a_split_folder_is_listed_and_readable(
    cli: Cli, split_src: Path, tmp_path: Path
) -> None:
    mnt = tmp_path / "mnt"
    with mounted(cli, mnt, "latest"):
        shown = mnt / split_src.relative_to("/")
        assert sorted(os.listdir(shown)) == sorted(os.listdir(split_src))
        assert_same(tree_state(split_src), tree_state(shown))


def lying_split(repo: Repository, names: list[bytes], lie: int) -> dict[str, Any]:
    """A folder node `big` split in parts of 4 names; part `lie` claims one entry more."""
    parts = []
    for i in range(0, len(names), 4):
        run = names[i : i + 4]
        tree = raw_tree(repo, [raw_file(repo, n, n + b"\n") for n in run])
        parts.append(Part(run[0], len(run) + (i // 4 == lie), tree))
    return raw_node(b"big", "dir", mode=0o755, subtree=repo.save_tree(split_doc(parts)))


NAMES = [b"n%02d" % i for i in range(12)]


@needs_fuse
def test_a_part_that_lies_is_refused_with_a_warning(cli: Cli, tmp_path: Path) -> None:
    with api_repo(cli) as repo:
        snap = hostile_snapshot(
            repo, [lying_split(repo, NAMES, lie=1), raw_file(repo, b"fine", b"fine\n")]
        )
        repo.flush()
    mnt = tmp_path / "mnt"
    with mounted(cli, mnt, snap[:12]) as proc:
        assert (mnt / "fine").read_text() == "fine\n"
        with pytest.raises(OSError) as listing_it:
            os.listdir(mnt / "big")
        assert listing_it.value.errno == errno.EIO
        # a name in an honest part is still found: only its part is read
        assert (mnt / "big" / "n09").read_text() == "n09\n"
        with pytest.raises(OSError) as reading:
            (mnt / "big" / "n05").read_text()
        assert reading.value.errno == errno.EIO
        proc.send_signal(signal.SIGINT)
        r = collect(proc)
    assert r.code == 0, r.err
    assert "part 1" in r.err and "4 entries where the tree lists 5" in r.err
    assert "Traceback" not in r.err


def test_a_hostile_name_in_a_part_is_skipped_with_a_warning(cli: Cli) -> None:
    with api_repo(cli) as repo:
        part = raw_tree(repo, [raw_file(repo, n, b"x") for n in (b"a", b"a/../b", b"c")])
        split = repo.save_tree(split_doc([Part(b"a", 3, part)]))
        snap = hostile_snapshot(repo, [raw_node(b"big", "dir", mode=0o755, subtree=split)])
        warnings: list[str] = []
        fs = SnapshotFs(repo, SnapshotRoot(repo.load_snapshot(snap)), warnings.append)
        assert listed(fs, "/big") == ["a", "c"]
        assert len(warnings) == 1 and "not shown" in warnings[0]


def test_a_lookup_reads_one_part_and_the_cache_holds_parts_not_the_folder(
    cli: Cli, split_src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with api_repo(cli) as repo:
        snap = repo.snapshots()[-1]
        fs = SnapshotFs(repo, SnapshotRoot(snap), warn=pytest.fail)
        read: list[bytes] = []
        real = repo.load_tree

        def counting(tree_id: bytes) -> object:
            read.append(tree_id)
            return real(tree_id)

        monkeypatch.setattr(repo, "load_tree", counting)
        big = str(split_src)
        fs.getattr(big)
        read.clear()
        assert fs.getattr(f"{big}/file-077.txt")["st_size"] == len("file 77\n" * 2)
        assert len(read) == 2  # the folder's list of parts, and the one part

        fs.trees = Trees(repo, fs.warn_once, budget=8)  # smaller than the folder
        most = 0
        names = []
        for entry in fs.readdir(big, 0):
            names.append(entry if isinstance(entry, str) else entry[0])
            most = max(most, fs.trees.held)
        assert names[2:] == sorted(os.listdir(split_src))
        assert most <= 8 + 16 + 1  # the budget and at most one part (4 x every) over it
