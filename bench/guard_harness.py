"""Runs one scenario of bench/guard.py: a fresh repository, a first backup, one backup a day.

Each backup is `ripcord backup SRC --json` with the day's time and a fixed host,
so every day's parent is the day before. Its ``guard`` key (verdict, score,
reasons, parent) is recorded with the exit code and the day's ground truth. A
backup without that key (the guard not there yet) is "no verdict", not an error.
After an alarm, `ripcord guard ack SNAPSHOT` runs before the next day (unless
--no-ack), and each day records whether an alarm was still unacknowledged when
it was judged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from guard_attacks import Attack
from guard_days import Activity, Workspace, create_cached, day_start, ordinary
from run import log

HOST = "guardbench"
NO_VERDICT = "no verdict"
FAILED = "failed"
CAUGHT = ("warn", "alarm")


@dataclass(frozen=True)
class Scenario:
    """Ordinary days up to ``attack_day`` (excluded), then the attack for its days."""

    name: str
    attack: Attack | None
    attack_day: int  # the first day the attack strikes (or past the last day)
    last_day: int

    @property
    def what(self) -> str:
        return self.attack.what if self.attack else f"{self.last_day} ordinary days"


@dataclass(frozen=True)
class Options:
    seed: int
    scale: float
    ack: bool  # `guard ack` after each alarm
    keep: bool  # keep the tree and repository after the scenario
    timeout: float  # per ripcord command, seconds


@dataclass
class Day:
    """One backup: what happened to the tree that day and what ripcord said of it."""

    day: int
    date: str
    attack: bool  # the attacker struck this day (ordinary work happened too)
    activity: str
    counts: dict[str, int]
    exit_code: int | None = None
    snapshot: str | None = None
    verdict: str = NO_VERDICT  # ok | warn | alarm | "no verdict" | "failed"
    score: float | None = None
    reasons: list[str] = field(default_factory=list)
    parent: str | None = None
    changes: dict[str, Any] | None = None  # the guard's measures of the change, as it gave them
    files_new: int | None = None
    files_changed: int | None = None
    total_files: int | None = None
    backup_s: float = 0.0
    unacked_alarm: bool = False  # an earlier alarm was still unacknowledged at this backup
    ack: str | None = None  # after an alarm: "ok" or why `guard ack` failed
    error: str | None = None


@dataclass
class ScenarioResult:
    name: str
    what: str
    attack_day: int
    days: list[Day]
    files: int  # in the tree at the first backup
    seconds: float

    @classmethod
    def load(cls, doc: dict[str, Any]) -> ScenarioResult:
        return cls(**{**doc, "days": [Day(**d) for d in doc["days"]]})


@dataclass(frozen=True)
class Ripcord:
    """The ripcord commands of one scenario, each logged under ``logs``."""

    exe: str
    repo: Path
    env: dict[str, str]
    logs: Path
    timeout: float

    def run(self, label: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [self.exe, "-r", str(self.repo), *args]
        try:
            done = subprocess.run(
                cmd, env=self.env, capture_output=True, text=True, timeout=self.timeout
            )
        except subprocess.TimeoutExpired as e:
            done = subprocess.CompletedProcess(cmd, -1, str(e.stdout or ""), f"timed out: {e}")
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.logs / f"{label}.out").write_text(done.stdout)
        (self.logs / f"{label}.err").write_text(done.stderr)
        return done

    def init(self) -> None:
        done = self.run("init", "init", "--kdf-iterations", "1", "--kdf-memory-mib", "8")
        if done.returncode != 0:
            raise SystemExit(f"ripcord init failed (exit {done.returncode}): {done.stderr[-2000:]}")

    def backup(self, src: Path, day: Day) -> None:
        when = (day_start(day.day) + timedelta(hours=23)).isoformat()
        start = time.perf_counter()
        args = ("backup", str(src), "--json", "--time", when, "--host", HOST)
        done = self.run(f"day{day.day:02d}-backup", *args)
        day.backup_s = round(time.perf_counter() - start, 2)
        day.exit_code = done.returncode
        try:
            doc = json.loads(done.stdout)
        except json.JSONDecodeError:
            day.verdict = FAILED
            day.error = f"exit {done.returncode}, no JSON: {(done.stderr or done.stdout)[-500:]}"
            return
        day.snapshot = doc.get("snapshot_id")
        day.files_new, day.files_changed = doc.get("files_new"), doc.get("files_changed")
        day.total_files = doc.get("total_files")
        guard = doc.get("guard")
        if isinstance(guard, dict):
            day.verdict = str(guard.get("verdict"))
            day.score = guard.get("score")
            day.reasons = [str(r).replace(f"{src}/", "") for r in guard.get("reasons") or []]
            day.parent = guard.get("parent")
            day.changes = guard.get("changes")
        if done.returncode not in (0, 3, 4) or (done.returncode == 4) != (day.verdict == "alarm"):
            day.error = f"exit {done.returncode} with verdict {day.verdict}: {done.stderr[-500:]}"

    def ack(self, day: Day) -> bool:
        """Acknowledge the day's alarm; True if ripcord took it."""
        if day.snapshot is None:
            day.ack = "no snapshot id to acknowledge"
            return False
        done = self.run(f"day{day.day:02d}-ack", "guard", "ack", day.snapshot)
        ok = done.returncode == 0
        day.ack = "ok" if ok else f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
        return ok


def new_day(day: int, attack: bool, activity: Activity) -> Day:
    return Day(day, f"{day_start(day):%Y-%m-%d}", attack, activity.summary(), dict(activity.counts))


def run_scenario(
    sc: Scenario, exe: str, env: dict[str, str], work: Path, opts: Options
) -> ScenarioResult:
    """Build the tree, back it up day by day, and record ripcord's judgement of every day."""
    start = time.perf_counter()
    base = work / sc.name
    shutil.rmtree(base, ignore_errors=True)
    src = base / "src"
    home = {**env, "HOME": str(base / "home")}
    rc = Ripcord(exe, base / "repo", home, base / "logs", opts.timeout)
    ws = Workspace.open(src, opts.seed, opts.scale)
    days = [new_day(0, False, create_cached(ws, work / "base"))]
    rc.init()
    unacked = False
    for n in range(sc.last_day + 1):
        if n:
            activity = ordinary(ws, n)
            striking = sc.attack is not None and sc.attack_day <= n < sc.attack_day + sc.attack.days
            if striking and sc.attack is not None:
                sc.attack.strike(ws, n, activity)
            days.append(new_day(n, striking, activity))
        day = days[-1]
        day.unacked_alarm = unacked
        rc.backup(src, day)
        if day.verdict == "alarm":
            unacked = not (opts.ack and rc.ack(day))
        log(
            f"[{sc.name}] day {n:2d} {day.verdict:10} score={day.score} "
            f"exit={day.exit_code} {day.backup_s:.1f}s  {day.activity}"
        )
    if not opts.keep:
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(base / "repo", ignore_errors=True)
    first = days[0].total_files or 0
    seconds = round(time.perf_counter() - start, 1)
    return ScenarioResult(sc.name, sc.what, sc.attack_day, days, first, seconds)


def as_json(results: list[ScenarioResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
