"""`ripcord run` over local repositories: one backup copied to every copy, each step on
its own (unreachable, offline, failover), independent mode, schedules, hooks, the guard."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ripcord.errors import EXIT_ERROR, EXIT_GUARD_ALARM, EXIT_LOCKED
from tests.conftest import Cli, Result
from tests.integration.test_guard import office
from tests.plans import Workspace, day, steps
from tests.trees import TreeState, assert_same, restored, tree_state


@pytest.fixture
def ws(tmp_path: Path, cli_env: dict[str, str]) -> Workspace:
    w = Workspace(tmp_path, cli_env)
    office(w.src, folders=3, files=30)
    return w


def three(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.add("nas", str(ws.root / "nas"), "nas")
    ws.add("cloud", str(ws.root / "cloud"), "object-storage", offsite=True)
    ws.write()


def snapshots(ws: Workspace, name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = ws.on(name, "snapshots", "--json").json
    return result


def assert_restores(ws: Workspace, name: str, spec: str, expected: TreeState, tmp: Path) -> None:
    target = tmp / f"restore-{name}"
    shutil.rmtree(target, ignore_errors=True)
    r = ws.on(name, "restore", spec, "--target", str(target))
    assert r.code == 0, r.err
    assert_same(expected, tree_state(restored(target, ws.src)))


def test_run_backs_up_once_and_copies_the_snapshot_to_every_other_copy(
    ws: Workspace, tmp_path: Path
) -> None:
    three(ws)
    picture = tree_state(ws.src)
    r = ws.run(1)
    assert r.code == 0, r.err + r.out
    assert [s["repository"] for s in steps(r, "backup")] == ["usb"]
    assert {s["repository"]: s["copied"] for s in steps(r, "copy")} == {"nas": 1, "cloud": 1}
    original = steps(r, "backup")[0]["snapshot"]
    for name in ("usb", "nas", "cloud"):
        (snap,) = snapshots(ws, name)
        assert snap["time"].startswith("2026-11-02T02:30")
        assert name == "usb" or snap["origin"] == original
        assert_restores(ws, name, "latest", picture, tmp_path)

    (ws.src / "dept0" / "memo000.txt").write_text("changed on day 2\n")
    r = ws.run(2)
    assert r.code == 0, r.err + r.out
    assert {s["repository"]: s["copied"] for s in steps(r, "copy")} == {"nas": 1, "cloud": 1}
    assert all(len(snapshots(ws, n)) == 2 for n in ("usb", "nas", "cloud"))


def test_an_unreachable_copy_is_reported_the_others_go_on_and_it_catches_up(
    ws: Workspace, tmp_path: Path
) -> None:
    three(ws)
    ws.run(1)
    away = ws.root / "nas-unplugged"
    (ws.root / "nas").rename(away)
    (ws.src / "new.txt").write_text("day 2\n")
    r = ws.run(2)
    assert r.code == EXIT_ERROR
    (failed,) = [s for s in r.json["steps"] if s["status"] == "failed"]
    assert failed["action"] == "connect" and failed["repository"] == "nas"
    assert "no repository" in str(failed["detail"])
    assert {s["repository"] for s in steps(r, "copy")} == {"cloud"}
    assert len(snapshots(ws, "cloud")) == 2

    away.rename(ws.root / "nas")
    r = ws.run(3)
    assert r.code == 0, r.out
    assert {s["repository"]: s["copied"] for s in steps(r, "copy")} == {"nas": 2, "cloud": 1}
    assert len(snapshots(ws, "nas")) == 3


def test_an_offline_copy_that_is_not_connected_is_skipped_not_a_failure(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.add("vault", str(ws.root / "vault"), "disk", offline=True)
    ws.write()
    (ws.root / "vault").rename(ws.root / "vault-in-the-safe")
    r = ws.run(1)
    assert r.code == 0, r.out
    (connect,) = [s for s in steps(r, "connect") if s["repository"] == "vault"]
    assert connect["status"] == "skipped" and "offline" in str(connect["detail"])


def test_with_the_first_copy_unreachable_the_backup_goes_to_the_next(
    ws: Workspace, tmp_path: Path
) -> None:
    three(ws)
    picture = tree_state(ws.src)
    shutil.rmtree(ws.root / "usb")
    r = ws.run(1)
    assert r.code == EXIT_ERROR
    assert [s["repository"] for s in steps(r, "backup")] == ["nas"]
    assert {s["repository"]: s["copied"] for s in steps(r, "copy")} == {"cloud": 1}
    assert_restores(ws, "cloud", "latest", picture, tmp_path)


def test_independent_mode_backs_up_to_each_copy_separately(ws: Workspace) -> None:
    three(ws)
    ws.write(mode="independent")
    r = ws.run(1)
    assert r.code == 0, r.out
    assert [s["repository"] for s in steps(r, "backup")] == ["usb", "nas", "cloud"]
    assert steps(r, "copy") == []
    for name in ("usb", "nas", "cloud"):
        (snap,) = snapshots(ws, name)
        assert snap.get("origin") is None


def test_checks_and_drills_run_when_due(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.tables = '[check]\nevery = "7d"\n\n[drill]\nevery = "3d"\nsample = 5\n'
    ws.write()
    done = {n: [s["action"] for s in ws.run(n).json["steps"]] for n in (1, 2, 4, 8)}
    assert "check" in done[1] and "drill" in done[1]
    assert "check" not in done[2] and "drill" not in done[2]
    assert "check" not in done[4] and "drill" in done[4]
    assert "check" in done[8] and "drill" in done[8]
    checks = ws.on("usb", "check", "--json")
    assert checks.code == 0


def test_retention_applies_to_each_copy_with_its_own_override(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.add("cloud", str(ws.root / "cloud"), "object-storage")
    ws.tables = "[retention]\nkeep_daily = 2\n\n[repository.cloud.retention]\nkeep_daily = 4\n"
    ws.write()
    for n in range(1, 7):
        (ws.src / "day.txt").write_text(f"day {n}\n")
        r = ws.run(n)
        assert r.code == 0, r.out
    assert len(snapshots(ws, "usb")) == 2
    assert len(snapshots(ws, "cloud")) == 4
    prunes = steps(r, "prune")
    assert {p["repository"] for p in prunes} == {"usb", "cloud"}


def test_hooks_hear_start_and_success_then_failure(ws: Workspace, tmp_path: Path) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    log = tmp_path / "hooks.log"
    ws.tables = (
        "[hooks]\n"
        f'on_start = "echo start $RIPCORD_EVENT >> {log}"\n'
        f'on_success = "cat >> {log}; echo >> {log}"\n'
        f'on_failure = "echo failure $RIPCORD_STATUS >> {log}"\n'
    )
    ws.write()
    r = ws.run(1)
    assert r.code == 0
    assert [h["ok"] for h in r.json["hooks"]] == [True, True]
    lines = log.read_text().splitlines()
    assert lines[0] == "start start"
    summary = json.loads(lines[1])
    assert summary["status"] == "ok" and summary["steps"][1]["action"] == "backup"

    shutil.rmtree(ws.root / "usb")
    r = ws.run(2)
    assert r.code == EXIT_ERROR
    assert log.read_text().splitlines()[-1] == "failure failed"


def test_a_guard_alarm_is_exit_4_fires_the_alarm_hook_and_pins_in_every_copy(
    ws: Workspace, tmp_path: Path
) -> None:
    three(ws)
    log = tmp_path / "alarm.log"
    ws.tables = f'[hooks]\non_alarm = "cat > {log}"\n\n[retention]\nkeep_last = 1\n'
    ws.write()
    first = ws.run(1)
    assert first.code == 0, first.out
    good = steps(first, "backup")[0]["snapshot"]
    shutil.rmtree(ws.src / "dept1")
    shutil.rmtree(ws.src / "dept2")
    r = ws.run(2)
    assert r.code == EXIT_GUARD_ALARM, r.out
    (backup,) = steps(r, "backup")
    assert backup["status"] == "alarm" and "GUARD ALARM" in str(backup["detail"])
    assert json.loads(log.read_text())["status"] == "alarm"
    for name in ("usb", "nas", "cloud"):
        listed = ws.on(name, "guard", "list", "--json")
        assert listed.code == EXIT_GUARD_ALARM, (name, listed.out)
        # keep_last 1 forgot nothing the alarm holds: the last good snapshot is still there
        kept = snapshots(ws, name)
        assert good in {s.get("origin") or s["id"] for s in kept}, name
    # one `guard ack` under the plan answers it in every copy (each holds it as its own id)
    acked = ws.ripcord("guard", "ack", str(backup["snapshot"]), "--reason", "reorganised", "--json")
    assert acked.code == 0, acked.err
    answered = {c["repository"]: c["snapshot"] for c in acked.json["copies"]}
    assert set(answered) == {"nas", "cloud"} and all(answered.values()), acked.json
    for name in ("usb", "nas", "cloud"):
        assert ws.on(name, "guard", "list").code == 0, name


def test_run_without_a_plan_is_a_usage_error(cli: Cli) -> None:
    r = cli("run")
    assert r.code == 2 and "--plan" in r.err


def test_the_newest_snapshot_restores_as_of_a_day_from_any_copy(
    ws: Workspace, tmp_path: Path
) -> None:
    three(ws)
    ws.run(1)
    day1 = tree_state(ws.src)
    (ws.src / "dept0" / "memo001.txt").write_text("edited on day 2\n")
    ws.run(2)
    for name in ("usb", "nas", "cloud"):
        assert_restores(ws, name, f"@{day(1).date().isoformat()}", day1, tmp_path)


def test_a_failed_backup_still_lets_a_lagging_copy_catch_up(ws: Workspace) -> None:
    three(ws)
    away = ws.root / "nas-unplugged"
    (ws.root / "nas").rename(away)
    assert ws.run(1).code == EXIT_ERROR
    away.rename(ws.root / "nas")
    ws.src.rename(ws.root / "office-gone")  # today nothing can be read
    r = ws.run(2)
    assert r.code == EXIT_ERROR
    (backup,) = steps(r, "backup")
    assert backup["status"] == "failed" and "nothing was backed up" in str(backup["detail"])
    assert {s["repository"]: s["copied"] for s in steps(r, "copy")} == {"nas": 1, "cloud": 0}


def test_the_plans_guard_thresholds_and_canaries_judge_its_backups(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    canary = ws.src / "dept0" / "memo005.txt"
    ws.tables = f'[guard]\ndeleted_files = 1000\ncanary = ["{canary}"]\n'
    ws.write()
    assert ws.run(1).code == 0
    shutil.rmtree(ws.src / "dept1")  # 30 of 90 files: an alarm by default, not under this plan
    r = ws.run(2)
    assert r.code == 0, r.out
    assert steps(r, "backup")[0]["guard"] != "alarm"
    canary.write_text("touched\n")
    r = ws.run(3)
    assert r.code == EXIT_GUARD_ALARM, r.out
    assert "canary" in str(steps(r, "backup")[0]["detail"])


def test_backup_under_a_plan_is_judged_by_its_guard_thresholds(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.tables = "[guard]\ndeleted_files = 1000\n"
    ws.write()
    assert ws.ripcord("backup", str(ws.src)).code == 0
    shutil.rmtree(ws.src / "dept1")
    r = ws.ripcord("backup", str(ws.src), "--json")
    assert r.code == 0 and r.json["guard"]["verdict"] != "alarm", r.out


def test_a_second_run_of_the_same_plan_at_once_does_nothing(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.write()
    lock = Path(ws.env["RIPCORD_STATE_DIR"]) / "office.run.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as held:
        held.write("pid 4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        r = ws.run(1)
        assert r.code == EXIT_LOCKED and "pid 4242" in r.err, r.err
        assert snapshots(ws, "usb") == []
    assert ws.run(1).code == 0


def test_a_copy_that_keeps_fewer_snapshots_is_not_filled_up_again(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.add("cloud", str(ws.root / "cloud"), "object-storage")
    ws.tables = "[retention]\nkeep_daily = 4\n\n[repository.cloud.retention]\nkeep_daily = 2\n"
    ws.write()
    for n in range(1, 7):
        (ws.src / "day.txt").write_text(f"day {n}\n")
        r = ws.run(n)
        assert r.code == 0, r.out
        (copy,) = steps(r, "copy")
        assert copy["copied"] == 1, (n, copy)
    assert len(snapshots(ws, "usb")) == 4
    assert len(snapshots(ws, "cloud")) == 2


def test_copy_takes_the_plans_repository_names_with_their_passwords(ws: Workspace) -> None:
    three(ws)
    assert ws.on("usb", "backup", str(ws.src)).code == 0
    r = ws.ripcord("copy", "--from", "usb", "--to", "cloud", "--json")
    assert r.code == 0, r.err
    assert len(r.json["copied"]) == 1
    assert len(snapshots(ws, "cloud")) == 1 and snapshots(ws, "nas") == []
    unknown = ws.ripcord("copy", "--from", "usb", "--to", "tape")
    assert unknown.code == 2 and "has no repository 'tape'" in unknown.err


def test_prune_runs_only_when_there_is_something_to_free(ws: Workspace) -> None:
    ws.add("usb", str(ws.root / "usb"), "disk")
    ws.tables = "[retention]\nkeep_last = 30\n"
    ws.write()

    def tonight() -> Result:  # at the real time, as the forget by hand below is
        return ws.ripcord("run", "--json")

    first = tonight()
    assert steps(first, "forget") and not steps(first, "prune")
    (ws.src / "day.txt").write_text("day 2\n")
    tonight()
    gone = snapshots(ws, "usb")[0]["id"]
    assert ws.on("usb", "forget", gone).code == 0  # by hand, no prune
    nights = [tonight() for _ in range(3)]
    pruned = [bool(steps(n, "prune")) for n in nights]
    assert pruned[0] and not pruned[-1], pruned  # until the plan a prune leaves is carried out
    assert not (ws.root / "usb" / "snapshots" / gone).exists()
