"""Running a plan every day: a systemd timer, or a crontab line where there is no systemd.

A timer is preferred because it does what cron cannot: Persistent=true runs a
backup missed while the machine was off as soon as it boots, the run's output
goes to the journal, and Nice/IOSchedulingClass keep it out of the way of
interactive work. The units name the plan by its absolute path and the ripcord
executable by the absolute path it was started from, so the timer runs the
same ripcord with the same plan whatever the service's working directory and
PATH.

This module makes the texts and the commands and writes and removes the
files; cli/schedule_cmd.py decides and reports.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import platformdirs

from ripcord.errors import RipcordError, UsageError

APP = "ripcord"
SCOPES = ("user", "system")
_AT = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_UNIT_CHARS = re.compile(r"[A-Za-z0-9:_.-]")  # what a unit name may hold unescaped
_SYSTEMCTL_TIMEOUT = 60  # seconds; daemon-reload on a busy machine takes a few
_UNSAFE_EXECUTABLE = re.compile("[\x00-\x1f\x7f'\"\\\\]")  # systemd's string_is_safe()
_EXEC_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")  # an ExecStart word that needs no quotes


@dataclass(frozen=True)
class At:
    """A time of day, 24-hour clock."""

    hour: int
    minute: int

    @classmethod
    def parse(cls, text: str) -> At:
        found = _AT.fullmatch(text.strip())
        if found is None:
            raise UsageError(f"not a time of day: {text!r} (write HH:MM, 24-hour, e.g. 02:30)")
        return cls(int(found[1]), int(found[2]))

    def __str__(self) -> str:
        return f"{self.hour:02}:{self.minute:02}"


@dataclass(frozen=True)
class Job:
    """What runs: this ripcord executable, the plan, `run`."""

    executable: str  # absolute
    plan: Path  # absolute

    @property
    def argv(self) -> list[str]:
        return [self.executable, "--plan", str(self.plan), "run"]

    @property
    def unit(self) -> str:
        """The units' name without suffix: ripcord-<plan name>, escaped as systemd-escape
        does, so any file name makes a valid unit name and two plans never share one."""
        name = self.plan.stem
        escaped = "".join(
            c if _UNIT_CHARS.match(c) and not (i == 0 and c == ".") else _hex(c)
            for i, c in enumerate(name)
        )
        return f"ripcord-{escaped}"


def _hex(c: str) -> str:
    return "".join(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogateescape"))


def ripcord_executable() -> str:
    """The absolute path of the ripcord being run (not resolved through symlinks, so a
    link that an upgrade repoints keeps working)."""
    started = sys.argv[0] if sys.argv else ""
    if Path(started).name == APP:
        return os.path.abspath(started)
    beside = Path(sys.executable).parent / APP  # in-process (tests, python -c): this venv's
    if beside.is_file():
        return str(beside)
    found = shutil.which(APP)
    if found is None:
        raise UsageError("cannot tell where the ripcord executable is (it is not on PATH)")
    return os.path.abspath(found)


def plan_path(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise UsageError(f"no plan file at {text}")
    return path.absolute()


# --- systemd ----------------------------------------------------------------------------


def default_scope() -> str:
    return "system" if os.geteuid() == 0 else "user"


def systemd_running() -> bool:
    """What sd_booted() asks: was this system booted with systemd (and is systemctl
    there)? RIPCORD_SYSTEMD_RUNNING=0 or 1 decides instead (tests, image builds)."""
    forced = os.environ.get("RIPCORD_SYSTEMD_RUNNING")
    if forced in ("0", "1"):
        return forced == "1"
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def unit_dir(scope: str) -> Path:
    """Where units of scope live: RIPCORD_SYSTEMD_DIR (tests, images) overrides."""
    if override := os.environ.get("RIPCORD_SYSTEMD_DIR"):
        return Path(override)
    if scope == "system":
        return Path("/etc/systemd/system")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def exec_start(argv: list[str]) -> str:
    """An ExecStart= value that systemd reads back as argv (systemd.service(5), "Command
    lines"). systemd refuses an executable path holding quotes, backslashes or control
    characters, so such a path is a UsageError here rather than a timer that never runs."""
    executable, *args = argv
    if _UNSAFE_EXECUTABLE.search(executable):
        raise UsageError(
            "systemd cannot run an executable whose path holds quotes, backslashes or control"
            f" characters: {executable!r} (install ripcord elsewhere, or use --via cron)"
        )
    return " ".join([exec_quote(executable, variables=False), *map(exec_quote, args)])


def exec_quote(arg: str, variables: bool = True) -> str:
    """One ExecStart word: % doubled (specifiers), $ doubled where systemd would expand a
    variable (not in the executable path), and anything beyond plain characters in
    double quotes with C escapes."""
    arg = arg.replace("%", "%%")
    if variables:
        arg = arg.replace("$", "$$")
    if _EXEC_PLAIN.fullmatch(arg.replace("%%", "").replace("$$", "")):
        return arg
    out = []
    for c in arg:
        if c in '\\"':
            out.append("\\" + c)
        elif c < " " or c == "\x7f" or "\udc80" <= c <= "\udcff":  # control, undecodable
            out.append(_hex(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class Units:
    name: str  # ripcord-<plan>, without suffix
    service: str
    timer: str

    @property
    def files(self) -> dict[str, str]:
        return {f"{self.name}.service": self.service, f"{self.name}.timer": self.timer}


def make_units(job: Job, at: At, scope: str, random_delay: timedelta | None = None) -> Units:
    plan = re.sub("[\x00-\x1f\x7f\udc80-\udcff]", "?", job.plan.stem).replace("%", "%%")
    network = (
        "Wants=network-online.target\nAfter=network-online.target\n"
        if scope == "system"  # a user manager cannot order itself after the system's network
        else ""
    )
    service = (
        "[Unit]\n"
        f"Description=ripcord backup plan {plan}\n"
        f"{network}"
        "\n[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={exec_start(job.argv)}\n"
        "Nice=10\n"
        "IOSchedulingClass=idle\n"
    )
    delay = f"RandomizedDelaySec={int(random_delay.total_seconds())}\n" if random_delay else ""
    timer = (
        "[Unit]\n"
        f"Description=ripcord backup plan {plan}, daily at {at}\n"
        "\n[Timer]\n"
        f"OnCalendar=*-*-* {at}:00\n"
        "Persistent=true\n"  # a run missed while the machine was off happens at boot
        f"{delay}"
        "\n[Install]\n"
        "WantedBy=timers.target\n"
    )
    return Units(job.unit, service, timer)


def systemctl(scope: str, *args: str) -> list[str]:
    return ["systemctl", *(["--user"] if scope == "user" else []), *args]


def enable_commands(units: Units, scope: str) -> list[list[str]]:
    return [
        systemctl(scope, "daemon-reload"),
        systemctl(scope, "enable", "--now", f"{units.name}.timer"),
    ]


def disable_commands(name: str, scope: str) -> list[list[str]]:
    return [
        systemctl(scope, "disable", "--now", f"{name}.timer"),
        systemctl(scope, "daemon-reload"),
    ]


def write_units(directory: Path, units: Units) -> list[Path]:
    """Write each unit whole or not at all (a temporary file renamed into place)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.files.items():
        path = directory / name
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(path)
    return written


def unit_files(directory: Path, name: str) -> list[Path]:
    """What install leaves in directory: the two units and the link `enable` makes."""
    return [
        directory / f"{name}.service",
        directory / f"{name}.timer",
        directory / "timers.target.wants" / f"{name}.timer",
    ]


def remove_units(directory: Path, name: str) -> list[Path]:
    removed = []
    for path in unit_files(directory, name):
        if path.is_symlink() or path.exists():
            path.unlink()
            removed.append(path)
    return removed


def calendar(directory: Path, name: str) -> str | None:
    """The OnCalendar= of an installed timer, None if there is none."""
    try:
        text = (directory / f"{name}.timer").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    found = re.search(r"^OnCalendar=(.*)$", text, re.MULTILINE)
    return found[1].strip() if found else None


def run_commands(commands: list[list[str]]) -> None:
    """Run each command in turn; the first that fails stops with what it said."""
    for argv in commands:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=_SYSTEMCTL_TIMEOUT)
        except OSError as e:
            raise RipcordError(f"cannot run {shlex.join(argv)}: {e.strerror or e}") from None
        except subprocess.TimeoutExpired:
            raise RipcordError(
                f"{shlex.join(argv)} did not finish in {_SYSTEMCTL_TIMEOUT}s"
            ) from None
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()
            why = said[-1] if said else f"exit {done.returncode}"
            raise RipcordError(f"{shlex.join(argv)} failed: {why}")


def timer_times(name: str, scope: str) -> dict[str, str]:
    """systemd's next and last run of the timer (NextElapseUSecRealtime, LastTriggerUSec);
    empty when systemctl cannot say."""
    argv = systemctl(scope, "show", f"{name}.timer")
    argv.append("--property=NextElapseUSecRealtime,LastTriggerUSec")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_SYSTEMCTL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if done.returncode != 0:
        return {}
    pairs = (line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return {k: v for k, v in pairs if v and v != "n/a"}


# --- cron -------------------------------------------------------------------------------


def log_path(job: Job) -> Path:
    """Where the crontab line appends the run's output (cron mails it otherwise, or drops
    it): beside the plan's state (plan/state.py), in RIPCORD_STATE_DIR if set."""
    state = os.environ.get("RIPCORD_STATE_DIR") or platformdirs.user_state_dir(APP)
    return Path(state) / "log" / f"{job.plan.stem}.log"


def crontab_line(job: Job, at: At, log: Path) -> str:
    """The line for `crontab -e`: shell-quoted, and % escaped (cron turns it into a newline)."""
    if any(c in arg for arg in [*job.argv, str(log)] for c in "\r\n"):
        raise UsageError("a crontab line cannot name a path with a line break in it")
    command = f"{shlex.join(job.argv)} >>{shlex.quote(str(log))} 2>&1".replace("%", "\\%")
    return f"{at.minute} {at.hour} * * * {command}"
