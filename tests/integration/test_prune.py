"""prune: what it deletes, what it keeps, and when it waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ripcord.retention.prune import PruneOptions, prune
from tests.conftest import Cli
from tests.crash.boot import KILL_AT, SIGNAL
from tests.faults import (
    api_repo,
    assert_clean_failure,
    binary_env,
    damage,
    files_under,
    hostile_snapshot,
    node_at,
    pack_names,
    plant_lock,
    random_files,
    raw_file,
)


def objects(cli: Cli) -> set[str]:
    """Every object in the repository, by relative path."""
    return {
        str(p.relative_to(cli.repo))
        for p in cli.repo.rglob("*")
        if p.is_file() and ".tmp" not in p.parts
    }


def backup(cli: Cli, path: Path) -> str:
    return str(cli.ok("backup", str(path), "--json").json["snapshot_id"])


def restores_as(cli: Cli, snap: str, source: Path, target: Path) -> None:
    cli.ok("restore", snap, "--target", str(target))
    assert files_under(target / source.relative_to("/")) == files_under(source)


@pytest.fixture
def two_versions(cli: Cli, tmp_path: Path) -> tuple[Path, str, str]:
    """A first snapshot whose big files the second no longer has."""
    data = random_files(tmp_path / "data", 6, 300_000)
    first = backup(cli, data)
    for f in sorted(data.iterdir())[:4]:
        f.unlink()
    second = backup(cli, data)
    return data, first, second


def test_forget_then_prune_frees_the_space_and_keeps_the_rest(
    cli: Cli, two_versions: tuple[Path, str, str], tmp_path: Path
) -> None:
    data, first, second = two_versions
    cli.ok("forget", first)
    before = sum(p.stat().st_size for p in (cli.repo / "data").rglob("*") if p.is_file())
    r = cli.ok("prune", "--json").json
    after = sum(p.stat().st_size for p in (cli.repo / "data").rglob("*") if p.is_file())
    assert r["snapshots_deleted"] == 1 and r["packs_deleted"] >= 1
    assert r["freed"] == before - after > 4 * 300_000 * 0.9
    assert not (cli.repo / "snapshots" / first).exists()
    assert list((cli.repo / "marks").iterdir())  # the forget record stays: a gap explained
    assert not list((cli.repo / "pending").iterdir())
    restores_as(cli, second, data, tmp_path / "out")
    again = cli.ok("prune", "--json").json
    assert (again["packs_deleted"], again["freed"]) == (0, 0)
    assert "nothing to delete" in cli.ok("prune").out


def test_dry_run_changes_nothing(cli: Cli, two_versions: tuple[Path, str, str]) -> None:
    _, first, _ = two_versions
    cli.ok("forget", first)
    before = objects(cli)
    r = cli.ok("prune", "--dry-run", "--json").json
    assert r["dry_run"] and r["packs_deleted"] >= 1 and r["snapshots_deleted"] == 1
    assert "would delete" in cli.ok("prune", "-n").out
    assert objects(cli) - {o for o in before if o.startswith("locks/")} == {
        o for o in before if not o.startswith("locks/")
    }


def test_max_unused_decides_what_is_repacked(cli: Cli, tmp_path: Path) -> None:
    # one pack holding files of both snapshots: half of it becomes unused
    data = random_files(tmp_path / "data", 8, 100_000)
    first = backup(cli, data)
    for f in sorted(data.iterdir())[:4]:
        f.unlink()
    second = backup(cli, data)
    cli.ok("forget", first)
    tolerant = cli.ok("prune", "--max-unused", "100%", "--json").json
    assert tolerant["packs_repacked"] == 0
    strict = cli.ok("prune", "--max-unused", "0", "--json").json
    assert strict["packs_repacked"] >= 1 and strict["blobs_repacked"] >= 4
    assert strict["freed"] > 0
    restores_as(cli, second, data, tmp_path / "out")
    assert cli("prune", "--max-unused", "150%").code == 2
    assert cli("prune", "--max-unused", "lots").code == 2


def test_packs_a_killed_backup_left_behind_are_deleted(cli: Cli, tmp_path: Path) -> None:
    data = random_files(tmp_path / "data", 3, 200_000)
    backup(cli, data)
    with api_repo(cli) as repo:  # a pack stored, then the writer died before indexing it
        repo.add_blob(0, os.urandom(100_000))
        repo._packers[0].flush()  # the crash point: a pack written, no index file
    orphans = pack_names(cli)
    r = cli.ok("prune", "--json").json
    assert r["packs_deleted"] == 1
    assert len(pack_names(cli)) == len(orphans) - 1


def test_prune_waits_for_a_backup_that_started_before_it(
    cli: Cli, two_versions: tuple[Path, str, str], tmp_path: Path
) -> None:
    data, first, second = two_versions
    cli.ok("forget", first)
    with api_repo(cli) as repo:
        lock = plant_lock(repo, host="elsewhere", pid=4242, when=datetime.now(UTC), exclusive=False)
    packs = pack_names(cli)
    r = cli.ok("prune", "--json").json
    assert [w["backups_running"] for w in r["waiting"]] == [1]
    assert pack_names(cli) >= packs  # nothing deleted yet
    assert list((cli.repo / "pending").iterdir())
    assert "waits for 1 backups" in cli.ok("prune").out  # still waiting, nothing new planned
    restores_as(cli, second, data, tmp_path / "out")  # readable while it waits
    (cli.repo / lock).unlink()  # that backup finished
    done = cli.ok("prune", "--json").json
    assert done["plans_done"] and done["packs_deleted"] >= 1 and not done["waiting"]
    assert not list((cli.repo / "pending").iterdir())
    restores_as(cli, second, data, tmp_path / "out2")


def test_an_unreadable_snapshot_stops_prune_until_it_is_forgotten(
    cli: Cli, two_versions: tuple[Path, str, str]
) -> None:
    _, first, _ = two_versions
    damage(cli.repo / "snapshots" / first, "bitflip")
    before = objects(cli)
    assert_clean_failure(cli("prune"), "cannot be read", "forget", code=1)
    assert objects(cli) == before
    cli.ok("forget", first)
    assert cli.ok("prune", "--json").json["snapshots_deleted"] == 1


def test_missing_data_stops_prune_before_it_deletes_anything(
    cli: Cli, two_versions: tuple[Path, str, str]
) -> None:
    _, first, second = two_versions
    cli.ok("forget", first)
    with api_repo(cli) as repo:
        snap = next(s for s in repo.snapshots() if s.id == second)
        loc = repo.locate(bytes.fromhex(snap.tree))
    pack = next((cli.repo / "data").rglob(loc.pack))
    pack.chmod(0o644)
    pack.unlink()
    before = objects(cli)
    assert_clean_failure(cli("prune"), "deletes nothing", code=1)
    assert objects(cli) == before


def held_back_by(cli: Cli, args: list[str]) -> subprocess.Popen[str]:
    """Run `args`, frozen right after it wrote its lock (the crash boot's STOP point: a
    reader caught mid-way, however fast it is), and prune meanwhile: the prune must
    wait for it. Returns the process, running again."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash.boot", "-r", str(cli.repo), *args],
        env={**binary_env(cli), KILL_AT: "put:1+", SIGNAL: "STOP"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        _wait_stopped(proc)
        r = cli.ok("prune", "--max-unused", "0", "--json").json
        assert [w["backups_running"] for w in r["waiting"]] == [1]
    finally:
        proc.send_signal(signal.SIGCONT)
    return proc


def _wait_stopped(proc: subprocess.Popen[str], deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the reader ended before it was frozen"
        with open(f"/proc/{proc.pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.01)
    raise AssertionError("the reader never reached its lock")


def test_a_restore_in_progress_holds_back_the_deletion_of_what_it_reads(
    cli: Cli, tmp_path: Path
) -> None:
    data = random_files(tmp_path / "data", 8, 4 << 20)
    first = backup(cli, data)
    for f in sorted(data.iterdir())[:4]:
        f.unlink()
    second = backup(cli, data)
    cli.ok("forget", first)
    target = tmp_path / "out"
    proc = held_back_by(cli, ["restore", second, "--target", str(target)])
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert files_under(target / data.relative_to("/")) == files_under(data)
    assert cli.ok("prune", "--json").json["plans_done"]


@pytest.mark.parametrize("command", [["ls", "latest"], ["find", "*"]])
def test_listings_hold_back_a_prune_too(cli: Cli, tmp_path: Path, command: list[str]) -> None:
    data = tmp_path / "data"
    for d in range(30):
        (data / f"d{d}").mkdir(parents=True)
        for f in range(100):
            (data / f"d{d}" / f"f{f}").write_text(f"{d} {f}")
    first = backup(cli, data)
    (data / "d0" / "f0").write_text("changed")
    backup(cli, data)
    cli.ok("forget", first)
    proc = held_back_by(cli, [*command, "--json"])
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert out.strip()
    assert cli.ok("prune", "--json").json["plans_done"]


def test_the_chain_tells_a_forget_from_a_deletion_behind_ripcords_back(cli: Cli, src: Path) -> None:
    first, second, third = (backup(cli, src) for _ in range(3))
    cli.ok("forget", first)
    cli.ok("prune")
    assert not (cli.repo / "snapshots" / first).exists()
    assert "warning" not in cli.ok("snapshots").err  # second names first: a forget explains it
    gone = cli.repo / "snapshots" / second
    gone.chmod(0o644)
    gone.unlink()  # deleted outside ripcord (or by an attacker with the disk)
    r = cli.ok("snapshots")
    assert f"snapshot {second[:12]}" in r.err and third[:12] in r.err
    assert "no forget record" in r.err


def test_a_damaged_index_file_never_makes_prune_delete_what_it_listed(
    cli: Cli, two_versions: tuple[Path, str, str]
) -> None:
    _, first, _ = two_versions
    cli.ok("forget", first)
    for index in (cli.repo / "index").iterdir():
        damage(index, "bitflip")
    before = objects(cli)
    assert_clean_failure(cli("prune"), "in no pack the index lists", "repair", code=1)
    assert objects(cli) - {o for o in before if o.startswith("locks/")} <= before
    assert pack_names(cli) == {o.rsplit("/", 1)[1] for o in before if o.startswith("data/")}


def test_a_pack_a_backup_stores_while_prune_lists_stays_indexed(
    cli: Cli, two_versions: tuple[Path, str, str]
) -> None:
    """A backup stores a pack after prune listed data/ and indexes it before prune
    lists index/: its index file is condemned with the others, so prune must keep the
    pack listed (found by the race test: the pack became unindexed)."""
    _, first, _ = two_versions
    cli.ok("forget", first)
    late = os.urandom(50_000)
    nodes: list[dict[str, Any]] = []
    with api_repo(cli) as pruner, api_repo(cli) as writer, writer.lock():
        listed = pruner.pack_sizes

        def data_listed_then_a_backup_writes() -> dict[str, int]:
            sizes = listed()
            if not nodes:  # right after prune's first listing of data/
                nodes.append(raw_file(writer, b"late", late))
                writer.flush()  # a pack, then the index file listing it
            return sizes

        pruner.pack_sizes = data_listed_then_a_backup_writes  # type: ignore[method-assign]
        assert prune(pruner, PruneOptions()).waiting  # the writer holds its lock
        snap = hostile_snapshot(writer, nodes)  # the backup ends with its snapshot
    cli.ok("prune")  # the writer is gone: the plan is carried out
    with api_repo(cli) as fresh:
        (blob,) = node_at(fresh, snap, "/late").content
        assert fresh.read_blob(blob) == late
    assert check_ok(cli)


def check_ok(cli: Cli) -> bool:
    return cli("check", "--json").json["ok"] is True
