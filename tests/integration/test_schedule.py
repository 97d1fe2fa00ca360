"""ripcord schedule: the units it writes (read back by systemd-analyze), the crontab line,
--dry-run, remove and show."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from ripcord.errors import EXIT_USAGE, RipcordError
from ripcord.plan.schedule import At, Job, make_units, run_commands
from tests.conftest import Cli

PLAN = """\
[[source]]
paths = ["/srv/office"]

[repository.usb]
url = "/mnt/usb/ripcord"
media = "disk"
"""


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "my plans" / "office 50%.toml"  # a space and a %: both need quoting
    path.parent.mkdir()
    path.write_text(PLAN)
    return path


@pytest.fixture
def units(tmp_path: Path) -> Path:
    return tmp_path / "units"


@pytest.fixture
def run(
    tmp_path: Path, cli_env: dict[str, str], units: Path, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """The CLI on a machine where systemd is not running, writing units to tmp_path/units."""
    monkeypatch.delenv("RIPCORD_PLAN", raising=False)
    env = {
        **cli_env,
        "RIPCORD_SYSTEMD_DIR": str(units),
        "RIPCORD_STATE_DIR": str(tmp_path / "state"),
        "RIPCORD_SYSTEMD_RUNNING": "0",
    }
    return Cli(tmp_path / "no-repo", env)


def verify(scope: str, *paths: Path) -> None:
    """systemd-analyze verify: systemd's own parser reads the units, and checks that
    ExecStart's executable exists (so a badly quoted path fails)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed to check the units (Debian: apt install systemd)"
    runtime = paths[0].parent / "runtime"  # a user manager needs a runtime directory
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    argv = [analyze, *(["--user"] if scope == "user" else []), "verify", *map(str, paths)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def exec_start(service: str) -> str:
    found = re.search(r"^ExecStart=(.*)$", service, re.MULTILINE)
    assert found
    return found[1]


def test_install_writes_a_timer_and_a_service_systemd_accepts(
    run: Cli, plan: Path, units: Path
) -> None:
    r = run.ok(
        "schedule", "install", "--plan", str(plan), "--at", "2:30", "--user",
        "--via", "systemd", "--random-delay", "10min", "--json", repo=False,
    )  # fmt: skip
    doc = r.json
    name = r"ripcord-office\x2050\x25"
    service, timer = units / f"{name}.service", units / f"{name}.timer"
    assert doc["via"] == "systemd" and doc["scope"] == "user" and doc["at"] == "02:30"
    assert doc["units"] == {str(service): service.read_text(), str(timer): timer.read_text()}
    assert doc["enabled"] is False and doc["commands"] == []  # systemd is not running here

    text = service.read_text()
    exe, quoted_plan, *rest = shlex.split(exec_start(text))
    assert os.path.isabs(exe) and Path(exe).name == "ripcord" and os.access(exe, os.X_OK)
    assert quoted_plan == "--plan" and rest == [str(plan).replace("%", "%%"), "run"]
    assert f'--plan "{str(plan).replace("%", "%%")}" run' in text
    for line in ("Type=oneshot", "Nice=10", "IOSchedulingClass=idle"):
        assert line in text.splitlines()
    assert "network-online" not in text  # a user manager cannot order after the system's

    lines = timer.read_text().splitlines()
    for line in ("OnCalendar=*-*-* 02:30:00", "Persistent=true", "RandomizedDelaySec=600"):
        assert line in lines
    assert "WantedBy=timers.target" in lines
    verify("user", service, timer)


def test_system_units_wait_for_the_network(run: Cli, plan: Path, units: Path) -> None:
    run.ok("schedule", "install", "--plan", str(plan), "--at", "23:05", "--system",
           "--via", "systemd", repo=False)  # fmt: skip
    service, timer = sorted(units.iterdir())
    assert "After=network-online.target" in service.read_text().splitlines()
    assert "OnCalendar=*-*-* 23:05:00" in timer.read_text().splitlines()
    assert "RandomizedDelaySec" not in timer.read_text()
    verify("system", service, timer)


@pytest.mark.parametrize("scope", ["user", "system"])
def test_awkward_paths_systemd_reads_back(tmp_path: Path, scope: str) -> None:
    """Each ExecStart names an executable at an awkward path, which verify finds only if
    systemd reads back exactly that path; the plan paths hold what an executable path
    may not (quotes, a backslash, control characters), which systemd must still parse."""
    awkward = ["with space", "50%", "$HOME", "semi;colon", "é", "a'b", 'a"b', "x\\y", "t\tn\n"]
    written = []
    for i, part in enumerate(awkward):
        exe = tmp_path / f"bin {i}" / re.sub("[\"'\\\\\t\n]", "_", part) / "ripcord"
        exe.parent.mkdir(parents=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
        u = make_units(Job(str(exe), tmp_path / f"plan{i} {part}.toml"), At(2, 30), scope)
        for file_name, text in u.files.items():
            path = tmp_path / file_name
            path.write_text(text)
            written.append(path)
    verify(scope, *written)


def test_dry_run_prints_the_units_and_writes_nothing(run: Cli, plan: Path, units: Path) -> None:
    r = run.ok("schedule", "install", "--plan", str(plan), "--at", "02:30", "--via", "systemd",
               "--dry-run", repo=False)  # fmt: skip
    assert not units.exists()
    assert "[Timer]" in r.out and "OnCalendar=*-*-* 02:30:00" in r.out and "ExecStart=" in r.out


def test_without_systemd_a_crontab_line_is_printed(run: Cli, plan: Path, tmp_path: Path) -> None:
    doc = run.ok("schedule", "install", "--plan", str(plan), "--at", "02:30", "--json",
                 repo=False).json  # fmt: skip
    assert doc["via"] == "cron" and doc["reason"] == "no systemd"
    log = tmp_path / "state" / "log" / "office 50%.log"
    assert doc["log"] == str(log) and log.parent.is_dir()  # cron's >> needs the directory
    minute, hour, *stars, command = doc["crontab_line"].split(" ", 5)
    assert (minute, hour, stars) == ("30", "2", ["*", "*", "*"])
    assert "\\%" in command and "%" not in command.replace("\\%", "")  # cron's newline
    exe, *args = shlex.split(command.replace("\\%", "%"))
    assert os.path.isabs(exe) and Path(exe).name == "ripcord"
    assert args == ["--plan", str(plan), "run", f">>{log}", "2>&1"]

    human = run.ok("schedule", "install", "--plan", str(plan), "--at", "02:30", repo=False)
    assert "systemd is not running" in human.out and "crontab -e" in human.out
    assert doc["crontab_line"] in human.out


def test_cron_can_be_asked_for_and_a_dry_run_makes_no_log_directory(
    run: Cli, plan: Path, tmp_path: Path
) -> None:
    systemd = {"RIPCORD_SYSTEMD_RUNNING": "1"}
    doc = run.ok("schedule", "install", "--plan", str(plan), "--at", "7:00", "--via", "cron",
                 "--dry-run", "--json", repo=False, env=systemd).json  # fmt: skip
    assert doc["via"] == "cron" and doc["crontab_line"].startswith("0 7 * * * ")
    assert not (tmp_path / "state").exists()


def test_systemctl_that_cannot_enable_is_a_clear_error(run: Cli, plan: Path, units: Path) -> None:
    """With systemd taken to be running, install runs systemctl for real; against
    units it does not know (or no systemd at all) it fails, and says so in one line."""
    r = run("schedule", "install", "--plan", str(plan), "--at", "02:30", "--user",
            repo=False, env={"RIPCORD_SYSTEMD_RUNNING": "1"})  # fmt: skip
    assert r.code == 1
    assert r.err.startswith("ripcord: ") and "systemctl --user" in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert len(list(units.glob("*.timer"))) == 1  # written first; enable by hand once fixed


def test_run_commands_stops_at_the_first_failure_with_what_it_said(tmp_path: Path) -> None:
    after = tmp_path / "after"
    with pytest.raises(RipcordError, match=r"exit 3' failed: disk on fire$"):
        run_commands([["true"], ["sh", "-c", "echo ok; echo disk on fire >&2; exit 3"]])
    with pytest.raises(RipcordError, match="cannot run no-such-systemctl"):
        run_commands([["no-such-systemctl"], ["touch", str(after)]])
    assert not after.exists()
    run_commands([["true"], ["touch", str(after)]])
    assert after.exists()


def test_remove_deletes_what_install_wrote(run: Cli, plan: Path, units: Path) -> None:
    run.ok("schedule", "install", "--plan", str(plan), "--at", "02:30", "--via", "systemd",
           repo=False)  # fmt: skip
    timer = next(units.glob("*.timer"))
    wants = units / "timers.target.wants"  # what `systemctl enable` links
    wants.mkdir()
    (wants / timer.name).symlink_to(f"../{timer.name}")
    shown = run.ok("schedule", "show", "--plan", str(plan), "--json", repo=False).json
    assert shown["installed"] and shown["enabled"]
    assert shown["calendar"] == "*-*-* 02:30:00" and shown["next"] is None

    dry = run.ok("schedule", "remove", "--plan", str(plan), "--dry-run", "--json", repo=False)
    assert len(dry.json["removed"]) == 3 and timer.exists()

    plan.unlink()  # the plan may already be gone: its units can still be removed
    gone = run.ok("schedule", "remove", "--plan", str(plan), "--json", repo=False).json
    assert sorted(gone["removed"]) == sorted(
        str(p) for p in (timer, timer.with_suffix(".service"), wants / timer.name)
    )
    assert [p for p in units.rglob("*") if not p.is_dir()] == []
    assert not run.ok("schedule", "show", "--plan", str(plan), "--json", repo=False).json[
        "installed"
    ]
    again = run.ok("schedule", "remove", "--plan", str(plan), repo=False)
    assert "no schedule for this plan" in again.out


def test_the_global_plan_option_is_taken(run: Cli, plan: Path, units: Path) -> None:
    run.ok("--plan", str(plan), "schedule", "install", "--at", "02:30", "--via", "systemd",
           repo=False)  # fmt: skip
    assert len(list(units.glob("*.service"))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "24:00"], "not a time of day: '24:00' (write HH:MM, 24-hour"),
        (["--at", "2:3"], "not a time of day"),
        (["--at", "02:30", "--user", "--system"], "--user and --system exclude each other"),
        (["--at", "02:30", "--random-delay", "5m"], "not a duration"),
    ],
)
def test_bad_options_are_usage_errors(run: Cli, plan: Path, args: list[str], message: str) -> None:
    r = run("schedule", "install", "--plan", str(plan), *args, repo=False)
    assert r.code == EXIT_USAGE and message in r.err and "Traceback" not in r.err


def test_a_plan_that_does_not_load_is_refused(run: Cli, tmp_path: Path, units: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[repository.usb]\nurl = '/x'\n")
    r = run("schedule", "install", "--plan", str(broken), "--at", "02:30", "--via", "systemd",
            repo=False)  # fmt: skip
    assert r.code == EXIT_USAGE and "broken.toml" in r.err and not units.exists()
    missing = run("schedule", "install", "--at", "02:30", repo=False)
    assert missing.code == EXIT_USAGE and "which plan?" in missing.err
