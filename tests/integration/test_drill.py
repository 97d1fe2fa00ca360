"""ripcord drill / drills: restore samples, prove them, keep the record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import blake3
import pytest

from ripcord.archive.meta import node_from_stat
from ripcord.archive.node import Node
from ripcord.errors import EXIT_DAMAGED
from ripcord.repository import DATA, Repository
from ripcord.verify.drill import DrillOptions, drill, metadata_problems
from tests.conftest import Cli
from tests.faults import (
    WITHOUT_DAC_OVERRIDE,
    Damage,
    api_repo,
    assert_clean_failure,
    damage,
    frame_middle,
    hostile_snapshot,
    node_at,
    pack_path,
    plant_lock,
    random_files,
    raw_dir,
    raw_file,
    run_binary,
)

RECORD_KEYS = {
    "id", "time", "host", "user", "repository", "snapshots", "seed", "sample", "max_bytes",
    "files", "bytes", "source_compared", "duration", "result", "failures",
}  # fmt: skip
ALL = ("--sample", "100")  # more than any test tree holds: every file is drilled


def backup(cli: Cli, path: Path) -> str:
    return str(cli.ok("backup", str(path), "--json").json["snapshot_id"])


def drilled(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["snapshot"], f["path"]) for f in doc["sampled"]}


def test_a_healthy_repository_passes_and_the_record_is_listed(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    first = backup(cli, src)
    (src / "a.txt").write_text("changed\n")
    latest = backup(cli, src)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    doc = cli.ok("drill", *ALL, "--scratch", str(scratch), "--json").json
    assert set(doc) == RECORD_KEYS | {"sampled", "scratch"}
    assert (doc["result"], doc["failures"], doc["scratch"]) == ("pass", [], None)
    assert doc["snapshots"] == [latest, first]  # the latest, and the only older one
    assert {f["snapshot"] for f in doc["sampled"]} == {latest, first}
    assert doc["files"] == len(doc["sampled"]) and all(f["ok"] for f in doc["sampled"])
    assert doc["bytes"] == sum(f["size"] for f in doc["sampled"])
    assert (latest, str(src / "a.txt")) in drilled(doc)  # changed: new content to prove
    assert doc["source_compared"] > 0
    assert list(scratch.iterdir()) == []  # the scratch directory is gone
    (listed,) = cli.ok("drills", "--json").json
    assert listed == {k: doc[k] for k in RECORD_KEYS}
    assert set(listed) == RECORD_KEYS
    assert len(list((cli.repo / "drills").iterdir())) == 1
    table = cli.ok("drills").out
    assert doc["id"][:12] in table and "pass" in table and "1 drill\n" in table


def test_the_same_seed_picks_the_same_files(cli: Cli, tmp_path: Path) -> None:
    tree = random_files(tmp_path / "many", 40, 2000)
    for i in range(4):
        (tree / f"{i:03}.bin").write_bytes(os.urandom(2000))
        backup(cli, tree)
    runs = [cli.ok("drill", "--sample", "5", "--seed", str(s), "--json").json for s in (1, 1, 2, 3)]
    assert runs[0]["seed"] == 1
    assert drilled(runs[0]) == drilled(runs[1])
    assert runs[0]["snapshots"] == runs[1]["snapshots"]
    assert len({frozenset(drilled(r)) for r in runs}) > 1  # another seed, another sample
    again = cli.ok("drill", "--sample", "5", "--json").json  # a random seed, recorded
    replay = ["--seed", str(again["seed"]), *(f"--snapshot={s}" for s in again["snapshots"])]
    assert drilled(cli.ok("drill", "--sample", "5", *replay, "--json").json) == drilled(again)


def test_the_older_snapshot_is_drawn_by_the_seed(cli: Cli, src: Path) -> None:
    snaps = [backup(cli, src) for _ in range(4)]
    one = cli.ok("drill", "--sample", "1", "--seed", "1", "--json").json
    assert one["snapshots"][0] == snaps[-1]
    olders = {
        cli.ok("drill", "--sample", "1", "--seed", str(s), "--json").json["snapshots"][1]
        for s in range(12)
    }
    assert olders <= set(snaps[:-1]) and len(olders) > 1


def test_a_sample_mixes_changed_unchanged_large_and_any(cli: Cli, tmp_path: Path) -> None:
    tree = random_files(tmp_path / "mix", 30, 1000)
    (tree / "huge.bin").write_bytes(os.urandom(2_000_000))
    for _ in range(3):
        backup(cli, tree)
        (tree / "000.bin").write_bytes(os.urandom(1000))  # the one file that keeps changing
    latest = backup(cli, tree)
    doc = cli.ok("drill", "--snapshot", "latest", "--sample", "4", "--json").json
    kinds = {f["picked_as"]: f["path"] for f in doc["sampled"]}
    assert set(kinds) == {"changed", "unchanged", "large", "any"}
    assert kinds["changed"] == str(tree / "000.bin")
    assert kinds["unchanged"] != str(tree / "000.bin")
    assert doc["snapshots"] == [latest]


@pytest.mark.parametrize("how", ["missing", "bitflip"])
def test_damage_fails_the_drill_and_names_the_file(cli: Cli, src: Path, how: Damage) -> None:
    snap = backup(cli, src)
    victim = src / "docs" / "deep" / "er" / "bin.dat"
    with api_repo(cli) as repo:
        loc = repo.locate(node_at(repo, snap, victim).content[0])
    damage(pack_path(cli, loc), how, at=frame_middle(loc))
    r = cli("drill", *ALL, "--json")
    assert_clean_failure(r, str(victim), code=EXIT_DAMAGED)
    doc = r.json
    assert doc["result"] == "fail"
    assert str(victim) in {f["path"] for f in doc["failures"]}
    assert all(f["snapshot"] == snap for f in doc["failures"])
    assert "not restored" in next(f["reason"] for f in doc["failures"] if f["path"] == str(victim))
    (listed,) = cli.ok("drills", "--json").json
    assert (listed["result"], listed["failures"]) == ("fail", doc["failures"])
    assert "fail (" in cli.ok("drills").out


def test_unreadable_trees_fail_the_drill_naming_the_directory(cli: Cli, src: Path) -> None:
    snap = backup(cli, src)
    with api_repo(cli) as repo:
        root = bytes.fromhex(repo.load_snapshot(snap).tree)
        damage(pack_path(cli, repo.locate(root)), "missing")
    r = cli("drill", "--json")
    assert_clean_failure(r, "/", code=EXIT_DAMAGED)
    assert [(f["path"], f["snapshot"]) for f in r.json["failures"]] == [("/", snap)]
    assert "missing" in r.json["failures"][0]["reason"]
    assert cli.ok("drills", "--json").json[0]["result"] == "fail"


def test_wrong_content_under_a_right_looking_node_fails(cli: Cli, src: Path) -> None:
    """What restore would write without complaint, the drill proves wrong."""
    with api_repo(cli) as repo:
        bad_hash = raw_file(repo, b"bad-hash", b"what was stored")
        bad_hash["hash"] = blake3.blake3(b"what was backed up").digest()
        bad_size = raw_file(repo, b"bad-size", b"twelve bytes")
        bad_size["size"] = 100
        snap = hostile_snapshot(repo, [bad_hash, bad_size, raw_file(repo, b"good", b"fine")])
    r = cli("drill", "--snapshot", snap, *ALL, "--json")
    assert_clean_failure(r, "/bad-hash", "/bad-size", code=EXIT_DAMAGED)
    reasons = {f["path"]: f["reason"] for f in r.json["failures"]}
    assert set(reasons) == {"/bad-hash", "/bad-size"}
    assert "does not match the BLAKE3" in reasons["/bad-hash"]
    assert "restored 12 bytes, the snapshot says 100" in reasons["/bad-size"]


def _snapshot_claiming(repo: Repository, source: Path, content: bytes) -> str:
    """A snapshot holding `source` with the live file's metadata and other `content`:
    what a backup that stored the wrong bytes would leave."""
    node = node_from_stat(source.name.encode(), source.lstat())
    blob, _ = repo.add_blob(DATA, content)
    wire = {**node.to_wire(), "content": [blob], "hash": blake3.blake3(content).digest()}
    for part in reversed(source.parent.parts[1:]):
        wire = raw_dir(repo, part.encode(), [wire])
    return hostile_snapshot(repo, [wire])


def test_a_source_unchanged_since_the_snapshot_is_compared(cli: Cli, src: Path) -> None:
    backup(cli, src)
    doc = cli.ok("drill", *ALL, "--json").json
    files = [f for f in doc["sampled"] if f["size"] > 0]
    assert files and all(f["source_compared"] for f in files)
    assert doc["source_compared"] == sum(f["source_compared"] for f in doc["sampled"])
    victim = src / "a.txt"
    with api_repo(cli) as repo:
        snap = _snapshot_claiming(repo, victim, b"hello WORLD\n")  # same size, other bytes
    r = cli("drill", "--snapshot", snap, "--json")
    assert_clean_failure(r, str(victim), code=EXIT_DAMAGED)
    (failure,) = r.json["failures"]
    assert "differs from the live source" in failure["reason"]


def test_a_source_changed_since_the_snapshot_is_not_compared(cli: Cli, src: Path) -> None:
    backup(cli, src)
    edited, sneaky = src / "a.txt", src / "docs" / "report.txt"
    edited.write_text("a new version\n")
    st = sneaky.stat()
    sneaky.write_text("QUARTERLY NUMBERS\n" * 1000)  # same size, and the old mtime put back
    os.utime(sneaky, ns=(st.st_atime_ns, st.st_mtime_ns))
    doc = cli.ok("drill", *ALL, "--json").json
    by_path = {f["path"]: f for f in doc["sampled"]}
    assert not by_path[str(edited)]["source_compared"]
    assert not by_path[str(sneaky)]["source_compared"]  # its ctime moved
    assert by_path[str(src / "docs" / "deep" / "er" / "bin.dat")]["source_compared"]
    assert doc["result"] == "pass"


def test_the_byte_cap_is_honoured(cli: Cli, src: Path, tmp_path: Path) -> None:
    backup(cli, src)
    doc = cli.ok("drill", *ALL, "--bytes", "100K", "--json").json
    assert doc["max_bytes"] == 100 << 10
    assert 0 < doc["bytes"] <= 100 << 10
    assert str(src / "docs" / "deep" / "er" / "bin.dat") not in {f["path"] for f in doc["sampled"]}
    assert cli.ok("drill", *ALL, "--json").json["max_bytes"] == 1 << 30  # the default
    assert cli("drill", "--bytes", "10X").code == 2
    assert cli("drill", "--bytes", "0").code == 2
    big = random_files(tmp_path / "big", 2, 5000)
    snap = backup(cli, big)
    r = cli("drill", "--snapshot", snap, "--bytes", "1K")
    assert_clean_failure(r, "nothing to drill", code=1)


def test_a_symlink_is_drilled(cli: Cli, src: Path) -> None:
    (src / "link").symlink_to("a.txt")
    backup(cli, src)
    doc = cli.ok("drill", *ALL, "--json").json
    (link,) = [f for f in doc["sampled"] if f["type"] == "symlink"]
    assert link["path"] == str(src / "link") and link["ok"]


def test_read_only_directories_and_files_drill_without_dac_override(
    cli: Cli, tmp_path: Path
) -> None:
    """Root without CAP_DAC_OVERRIDE meets permissions like anyone: a restored
    directory of mode 0500 refuses a second file, one of 0000 even a look inside."""
    tree = tmp_path / "locked"
    (tree / "ro").mkdir(parents=True)
    (tree / "sealed").mkdir()
    for name in ("ro/x", "ro/y", "sealed/z"):
        (tree / name).write_bytes(os.urandom(100))
    (tree / "sealed" / "z").chmod(0o000)
    (tree / "ro").chmod(0o500)
    (tree / "sealed").chmod(0o000)
    backup(cli, tree)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    r = run_binary(cli, "drill", *ALL, "--scratch", str(scratch), "--json",
                   wrapper=WITHOUT_DAC_OVERRIDE)  # fmt: skip
    assert r.code == 0, r.err
    assert r.json["files"] == 3 and r.json["result"] == "pass"
    assert list(scratch.iterdir()) == []


def test_keep_scratch_leaves_the_restored_files(cli: Cli, src: Path, tmp_path: Path) -> None:
    backup(cli, src)
    doc = cli.ok("drill", *ALL, "--keep-scratch", "--scratch", str(tmp_path), "--json").json
    kept = Path(doc["scratch"])
    assert kept.parent == tmp_path
    restored = {p.name: p.read_bytes() for p in kept.rglob("*") if p.is_file()}
    assert restored["bin.dat"] == (src / "docs" / "deep" / "er" / "bin.dat").read_bytes()
    assert "restored files left in" in cli.ok("drill", "--keep-scratch").out


def test_a_damaged_drill_record_is_left_out_and_named(cli: Cli, src: Path) -> None:
    backup(cli, src)
    kept = cli.ok("drill", "--json").json["id"]
    bad = cli.ok("drill", "--json").json["id"]
    damage(cli.repo / "drills" / bad, "bitflip")
    r = cli.ok("drills", "--json")
    assert [d["id"] for d in r.json] == [kept]
    assert bad in r.err


def test_drill_needs_snapshots_and_a_lock(cli: Cli, src: Path) -> None:
    assert_clean_failure(cli("drill"), "no snapshots", code=1)
    backup(cli, src)
    assert_clean_failure(cli("drill", "--snapshot", "ffffffff"), "no snapshot", code=1)
    with api_repo(cli) as repo:
        plant_lock(repo, host="elsewhere", pid=1, when=repo.clock())
    r = cli("drill")
    assert r.code == 11
    assert not (cli.repo / "drills").exists()
    assert cli.ok("drills", "--json").json == []


class Recording:
    """A Progress that keeps what the engine told it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, total_bytes: int | None) -> None:
        self.calls.append(("start", total_bytes))

    def item(self, path: str) -> None:
        self.calls.append(("item", path))

    def advance(self, nbytes: int) -> None:
        self.calls.append(("advance", nbytes))

    def finish(self) -> None:
        self.calls.append(("finish", None))


def test_progress_walks_then_counts_the_bytes_restored(cli: Cli, src: Path) -> None:
    backup(cli, src)
    bars: list[Recording] = []

    def progress() -> Recording:
        bars.append(Recording())
        return bars[-1]

    with api_repo(cli) as repo:
        report = drill(repo, DrillOptions(sample=100), progress)
    walk, restore = bars
    assert walk.calls[0] == ("start", None) and walk.calls[-1] == ("finish", None)
    assert ("item", str(src / "docs")) in walk.calls
    total = report.record.bytes
    assert restore.calls[0] == ("start", total) and restore.calls[-1] == ("finish", None)
    assert sum(n for kind, n in restore.calls if kind == "advance" and isinstance(n, int)) == total
    assert [c for c in restore.calls if c[0] == "start"] == [("start", total)]


def test_metadata_problems_name_what_did_not_come_back(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"x")
    st = f.lstat()
    node = node_from_stat(b"f", st)
    assert metadata_problems(st, node) == []
    off = Node(b"f", "file", mode=node.mode ^ 0o100, uid=node.uid + 1, gid=node.gid,
               mtime_ns=node.mtime_ns + 1)  # fmt: skip
    problems = " ".join(metadata_problems(st, off))
    assert "mode" in problems and "mtime" in problems and "owner" in problems
    assert "other than a symlink" in metadata_problems(st, Node(b"f", "symlink"))[0]
