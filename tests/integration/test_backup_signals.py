"""Backups record the change guard's signal of every file they read (docs/FORMAT.md
§Trees): small files read by the worker pool and large ones streamed in chunks alike;
files skipped as unchanged keep the signal they had; empty files and files under 16
bytes have none; only files new to a source that has a parent are looked at for a
ransom note."""

from __future__ import annotations

import random
from pathlib import Path

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.node import Node, Signal
from ripcord.repository import Repository
from tests.conftest import Cli
from tests.faults import api_repo, node_at
from tests.samples import NOTES, encrypt, png, prose

MIB = 1 << 20

FILES = {
    "docs/report.txt": prose(20_000),  # small: read whole by a worker
    "docs/big.txt": prose(5 * MIB, seed=1),  # large: chunks (4 MiB at most) stream past
    "media/photo.png": png(200, 200),
    "media/blob.bin": random.Random(7).randbytes(600_000),  # seeded: never a magic number
    "README_RESTORE.txt": NOTES["english"].encode(),
    "empty": b"",
    "tiny.txt": b"hi\n",
    "small.txt": b"lunch at noon on friday\n",  # 24 bytes
    "small.bin": random.Random(8).randbytes(40),
}


def make_tree(root: Path) -> None:
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def nodes(repo: Repository, snap: str, root: Path) -> dict[str, Node]:
    return {rel: node_at(repo, snap, root / rel) for rel in FILES}


def test_backup_records_a_signal_for_every_file_it_reads(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(root)
    cli.ok("backup", str(root / "docs"))  # another source: not this one's parent
    snap = cli.ok("backup", str(root), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        got = nodes(repo, snap, root)
        root_tree = node_at(repo, snap, root).subtree
    sigs = {rel: n.sig for rel, n in got.items()}
    assert sigs["empty"] is None and sigs["tiny.txt"] is None
    report, big = sigs["docs/report.txt"], sigs["docs/big.txt"]
    assert report is not None and big is not None
    assert (report.kind, big.kind) == ("text", "text")
    assert max(report.head, report.body, big.head, big.body) < 160
    assert sigs["small.txt"] == Signal(0, 0, "text")  # text is not compressed
    assert sigs["small.bin"] == Signal(255, 255, "data")  # too little for zstd: not asked
    assert len(got["docs/big.txt"].content) > 1  # it really was streamed in chunks
    photo, blob, note = sigs["media/photo.png"], sigs["media/blob.bin"], sigs["README_RESTORE.txt"]
    assert photo is not None and photo.kind == "png"
    assert blob is not None and (blob.kind, blob.head, blob.body) == ("data", 255, 255)
    # a first backup of a source looks for no ransom note: the guard has no parent to
    # tell a new file from an old one by, and would only judge the notes among new files
    assert note is not None and not note.note and note.kind == "text"

    # the same, as `ripcord cat tree` shows it: [head, body, kind, note]
    assert root_tree is not None
    listed = cli.ok("cat", "tree", root_tree.hex()).json["nodes"]
    wire = {n["name"]: n.get("sig") for n in listed}
    assert wire["README_RESTORE.txt"] == [0, 0, "text", False]
    assert wire["empty"] is None and wire["tiny.txt"] is None


def test_files_new_to_a_source_are_looked_at_for_ransom_notes(cli: Cli, tmp_path: Path) -> None:
    """A note is a file the attack added: a later backup looks at the files its parent
    did not have, and only at those."""
    root = tmp_path / "root"
    make_tree(root)
    note = NOTES["english"].encode()
    cli.ok("backup", str(root))
    (root / "docs/HOW_TO_GET_FILES_BACK.txt").write_bytes(note)  # a new file, a new name
    (root / "new dir").mkdir()
    (root / "new dir/read me.txt").write_bytes(note)  # in a new folder
    (root / "docs/report.txt").write_bytes(note)  # rewritten in place: not new
    second = cli("backup", str(root), "--json").json["snapshot_id"]
    with api_repo(cli) as repo:
        got = {
            rel: node_at(repo, second, root / rel).sig
            for rel in ("docs/HOW_TO_GET_FILES_BACK.txt", "new dir/read me.txt", "docs/report.txt")
        }
    assert {rel: s is not None and s.note for rel, s in got.items()} == {
        "docs/HOW_TO_GET_FILES_BACK.txt": True,
        "new dir/read me.txt": True,
        "docs/report.txt": False,
    }


def test_unchanged_files_keep_their_signal_and_changed_ones_are_measured_again(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    make_tree(root)
    first = cli.ok("backup", str(root), "--json").json["snapshot_id"]
    report = root / "docs/report.txt"
    report.write_bytes(encrypt(report.read_bytes(), 0, 4096))  # only its first 4 KiB
    second = cli(  # the guard may well object: its verdict is not this test's business
        "backup", str(root), "--json"
    ).json
    assert second["files_unchanged"] == len(FILES) - 1
    with api_repo(cli) as repo:
        a, b = nodes(repo, first, root), nodes(repo, second["snapshot_id"], root)
    for rel in FILES:
        if rel != "docs/report.txt":
            assert b[rel].sig == a[rel].sig, rel
    before, after = a["docs/report.txt"].sig, b["docs/report.txt"].sig
    assert before is not None and after is not None
    assert (before.kind, after.kind) == ("text", "data")
    assert after.head >= 250 and after.body == before.body


def test_whole_file_encryption_turns_every_signal_random(cli: Cli, tmp_path: Path) -> None:
    """As ransomware leaves a tree: each file's content encrypted in place."""
    root = tmp_path / "root"
    make_tree(root)
    with api_repo(cli) as repo:
        first = Backup(repo, BackupOptions([str(root)])).run().snapshot_id
        for rel in FILES:
            (root / rel).write_bytes(encrypt((root / rel).read_bytes()))
        second = Backup(repo, BackupOptions([str(root)])).run()
        assert second.files_changed == len(FILES)
        a, b = nodes(repo, first, root), nodes(repo, second.snapshot_id, root)
    for rel in ("docs/report.txt", "docs/big.txt", "media/photo.png", "README_RESTORE.txt"):
        before, after = a[rel].sig, b[rel].sig
        assert before is not None and after is not None, rel
        assert before.kind != "data" and after.kind in ("data", "pgp"), rel
        assert min(after.head, after.body) >= 250, rel
        assert not after.note, rel
    small, encrypted = a["small.txt"].sig, b["small.txt"].sig  # 24 bytes
    assert small is not None and encrypted is not None
    assert (small.kind, small.body, encrypted.kind, encrypted.body) == ("text", 0, "data", 255)
