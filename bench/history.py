#!/usr/bin/env python3
"""Time `ripcord history` against `restic find` on a repository of daily snapshots.

Generates the mixed set, then for each of --days days mutates ~1 % of it
(bench/gen.py mutate, seeded by the day) and backs it up with both tools
(ripcord with --time one day apart). Then times, cold cache, the history of
one folder and one file that exist throughout, and of a folder deleted
half-way; restic's nearest equivalent is `restic find` of the same path.

The build is the slow part, so it is kept in --work with a build.json that
says what it is; --reuse takes it as it is when days and scale match (bench/prune.py
measures forget and prune on the same build). --commit REV measures a pinned
install of that commit rather than the working tree.

    python3 bench/history.py --days 365 --commit HEAD          # the issue's setup (long)
    python3 bench/history.py --days 30 --scale 0.1             # quick
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_RIPCORD = ROOT / ".venv" / "bin" / "ripcord"
START = datetime(2025, 1, 1, 18, 0, tzinfo=UTC)


def run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass(frozen=True)
class Timing:
    wall_s: float
    rss_kib: int
    out: str  # stdout, for the figures a command reports about itself


def timed(argv: list[str], env: dict[str, str]) -> Timing:
    """Wall seconds and peak RSS of one cold-cache run (page cache dropped first)."""
    subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=False)
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", *argv], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    wall, rss = done.stderr.strip().splitlines()[-1].split()
    return Timing(float(wall), int(rss), done.stdout)


@dataclass(frozen=True)
class Site:
    """A ripcord and a restic repository side by side, with each tool's cache."""

    root: Path
    PARTS = ("ripcord", "restic", "cache", "xdg")

    @property
    def rc_repo(self) -> Path:
        return self.root / "ripcord"

    @property
    def restic_repo(self) -> Path:
        return self.root / "restic"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RIPCORD_PASSWORD": "bench",
            "RESTIC_PASSWORD": "bench",
            "RIPCORD_CACHE_DIR": str(self.root / "cache"),
            "RIPCORD_NO_PROGRESS": "1",
            "XDG_CACHE_HOME": str(self.root / "xdg"),
        }

    def copy_to(self, dest: Path) -> Site:
        """A copy of both repositories and both caches, for a measurement that changes them."""
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for part in self.PARTS:
            if (self.root / part).exists():
                subprocess.run(
                    ["cp", "-a", "--reflink=auto", str(self.root / part), str(dest / part)],
                    check=True,
                )
        return Site(dest)


@dataclass(frozen=True)
class Build:
    """What build() made in a work directory, as recorded in its build.json."""

    root: str
    days: int
    scale: float
    ripcord: str
    commit: str  # of the ripcord that made the backups; "" when not pinned
    paths: dict[str, str]  # history label -> path that the snapshots hold
    seconds: float
    finished: str

    @property
    def site(self) -> Site:
        return Site(Path(self.root))

    @property
    def data(self) -> Path:
        return Path(self.root) / "data"


def restic_time(when: datetime) -> str:
    return re.sub(r"\+00:00$", "", when.isoformat()).replace("T", " ")


def build(work: Path, days: int, scale: float, ripcord: str, commit: str) -> Build:
    """Back up `days` daily mutations of the mixed set with both tools into `work`."""
    started = time.monotonic()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    site = Site(work)
    env, data = site.env(), work / "data"
    gen = [sys.executable, str(HERE / "gen.py")]
    run([*gen, "mixed", "--seed", "1", "--scale", str(scale), "--out", str(data)], env)
    folders = sorted(p for p in data.iterdir() if p.is_dir())
    kept, doomed = folders[0], folders[-1]
    a_file = next(p for p in sorted(kept.rglob("*")) if p.is_file())
    run([ripcord, "-r", str(site.rc_repo), "init"], env)
    run(["restic", "-r", str(site.restic_repo), "init"], env)
    for day in range(days):
        if day:
            run([*gen, "mutate", "--seed", str(1000 + day), "--out", str(data)], env)
        if day == days // 2 and doomed.exists():
            shutil.rmtree(doomed)
        when = START + timedelta(days=day)
        run(
            [ripcord, "-r", str(site.rc_repo), "backup", str(data), "--time", when.isoformat()], env
        )
        restic = ["restic", "-r", str(site.restic_repo), "backup", "-q", str(data)]
        run([*restic, "--time", restic_time(when)], env)
        elapsed = time.monotonic() - started
        print(
            f"day {day + 1}/{days}, {elapsed / 60:.1f} min", end="\r", file=sys.stderr, flush=True
        )
    print(file=sys.stderr)
    made = Build(
        root=str(work),
        days=days,
        scale=scale,
        ripcord=ripcord,
        commit=commit,
        paths={"folder": str(kept), "file": str(a_file), "deleted folder": str(doomed)},
        seconds=round(time.monotonic() - started, 1),
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (work / "build.json").write_text(json.dumps(asdict(made), indent=2) + "\n")
    return made


def prepare(args: argparse.Namespace, ripcord: str, commit: str) -> Build:
    """The build in args.work: reused when asked and it matches, else made anew."""
    record = args.work / "build.json"
    if args.reuse and record.exists():
        made = Build(**json.loads(record.read_text()))
        if (made.days, made.scale) == (args.days, args.scale):
            print(f"reusing {args.work} (built by {made.commit or made.ripcord})", file=sys.stderr)
            return made
        print(
            f"{args.work} holds {made.days} days at scale {made.scale}: rebuilding", file=sys.stderr
        )
    return build(args.work, args.days, args.scale, ripcord, commit)


def pin(rev: str) -> tuple[str, str]:
    """Install commit `rev` into its own venv (as bench/README.md does by hand).

    The project venv is an editable install of a tree others keep editing, so
    a long benchmark would otherwise measure whatever src/ holds at each step.
    Returns the ripcord executable and the full commit id.
    """
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    home = Path(f"/tmp/rc-pin-{commit[:12]}")
    exe = home / "venv" / "bin" / "ripcord"
    if not exe.exists():
        shutil.rmtree(home, ignore_errors=True)
        (home / "src").mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "src", "pyproject.toml", "README.md"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(home / "src")], input=archive, check=True)
        subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
        pip = [str(home / "venv" / "bin" / "pip"), "install", "-q", str(home / "src")]
        subprocess.run(pip, check=True)
    return str(exe), commit


def add_build_args(ap: argparse.ArgumentParser) -> None:
    """The options that say which build to make or reuse, and which ripcord to run."""
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument(
        "--work",
        type=lambda text: Path(text).resolve(),
        default=HERE / "work" / "daily",
        help="absolute once parsed: both tools store the path backed up as given",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="keep the repositories already built in --work if days and scale match",
    )
    which = ap.add_mutually_exclusive_group()
    which.add_argument(
        "--commit", metavar="REV", help="install and measure ripcord at this commit (pinned)"
    )
    which.add_argument(
        "--ripcord",
        default=shutil.which("ripcord") or str(VENV_RIPCORD),
        help="ripcord executable (not pinned: recorded as such)",
    )


def ripcord_of(args: argparse.Namespace) -> tuple[str, str]:
    """The ripcord to run and its commit ("" when it is not a pinned install)."""
    return pin(args.commit) if args.commit else (args.ripcord, "")


def describe(ripcord: str, commit: str) -> str:
    return f"ripcord {commit[:7]}" if commit else f"ripcord at {ripcord} (not pinned)"


def time_history(site: Site, paths: dict[str, str], ripcord: str) -> dict[str, dict[str, Timing]]:
    """Per history label: ripcord history and restic find of that path, each cold."""
    env, rows = site.env(), {}
    for label, path in paths.items():
        rc = timed([ripcord, "-r", str(site.rc_repo), "history", path, "--json"], env)
        rs = timed(["restic", "-r", str(site.restic_repo), "find", "--json", path], env)
        rows[label] = {"ripcord": rc, "restic": rs}
    return rows


def versions(out: str) -> int:
    """Versions `ripcord history --json` lists (a sanity check that it found the path)."""
    return sum(e["kind"] == "version" for p in json.loads(out) for e in p["events"])


def snapshots_matched(out: str) -> int:
    """Snapshots in which `restic find --json` matched the path."""
    return len(json.loads(out))


def history_table(rows: dict[str, dict[str, Timing]]) -> str:
    lines = [
        "| path | ripcord history | restic find | ratio | ripcord RSS | restic RSS"
        " | versions (ripcord) | snapshots matched (restic) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, row in rows.items():
        rc, rs = row["ripcord"], row["restic"]
        times = f"{rc.wall_s:.2f} s | {rs.wall_s:.2f} s | {rc.wall_s / rs.wall_s:.2f}×"
        rss = f"{rc.rss_kib / 1024:.0f} MiB | {rs.rss_kib / 1024:.0f} MiB"
        found = f"{versions(rc.out)} | {snapshots_matched(rs.out)}"
        lines.append(f"| {label} | {times} | {rss} | {found} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_build_args(ap)
    args = ap.parse_args()
    ripcord, commit = ripcord_of(args)
    made = prepare(args, ripcord, commit)
    rows = time_history(made.site, made.paths, ripcord)
    print(
        f"{made.days} daily snapshots of mixed at scale {made.scale}, {describe(ripcord, commit)}"
    )
    print(history_table(rows))


if __name__ == "__main__":
    main()
