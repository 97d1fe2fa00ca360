#!/usr/bin/env python3
"""Time `ripcord history` against `restic find` on a repository of daily snapshots.

Generates the mixed set, then for each of --days days mutates ~1 % of it
(bench/gen.py mutate, seeded by the day) and backs it up with both tools
(ripcord with --time one day apart). Then times, cold cache, the history of
one folder and one file that exist throughout, and of a folder deleted
half-way; restic's nearest equivalent is `restic find` of the same path.

    python3 bench/history.py --days 365                # the issue's setup (long)
    python3 bench/history.py --days 30 --scale 0.1     # quick
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one cold-cache run."""
    subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=False)
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", *argv], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stderr[-500:]}")
    wall, rss = done.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--work", type=Path, default=HERE / "work" / "history")
    ap.add_argument(
        "--ripcord", default=shutil.which("ripcord") or str(HERE.parent / ".venv/bin/ripcord")
    )
    args = ap.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    data, rc_repo, restic_repo = work / "data", work / "ripcord", work / "restic"
    env = {
        **os.environ,
        "RIPCORD_PASSWORD": "bench",
        "RESTIC_PASSWORD": "bench",
        "RIPCORD_CACHE_DIR": str(work / "cache"),
        "RIPCORD_NO_PROGRESS": "1",
        "XDG_CACHE_HOME": str(work / "xdg"),
    }
    gen = [sys.executable, str(HERE / "gen.py")]
    run([*gen, "mixed", "--seed", "1", "--scale", str(args.scale), "--out", str(data)], env)
    folders = sorted(p for p in data.iterdir() if p.is_dir())
    kept, doomed = folders[0], folders[-1]
    a_file = next(p for p in sorted(kept.rglob("*")) if p.is_file())
    run([args.ripcord, "-r", str(rc_repo), "init"], env)
    run(["restic", "-r", str(restic_repo), "init"], env)
    start = datetime(2025, 1, 1, 18, 0, tzinfo=UTC)
    for day in range(args.days):
        if day:
            run([*gen, "mutate", "--seed", str(1000 + day), "--out", str(data)], env)
        if day == args.days // 2 and doomed.exists():
            shutil.rmtree(doomed)
        when = (start + timedelta(days=day)).isoformat()
        run([args.ripcord, "-r", str(rc_repo), "backup", str(data), "--time", when], env)
        run(
            [
                "restic",
                "-r",
                str(restic_repo),
                "backup",
                "-q",
                str(data),
                "--time",
                re.sub(r"\+00:00$", "", when).replace("T", " "),
            ],
            env,
        )
        print(f"day {day + 1}/{args.days}", end="\r", flush=True)
    print()
    rows = []
    for label, path in (("folder", kept), ("file", a_file), ("deleted folder", doomed)):
        rc = timed([args.ripcord, "-r", str(rc_repo), "history", str(path), "--json"], env)
        rs = timed(["restic", "-r", str(restic_repo), "find", "--json", str(path)], env)
        rows.append((label, rc, rs))
    print(f"{args.days} daily snapshots of mixed at scale {args.scale}")
    print("| path | ripcord history | restic find | ratio | ripcord RSS | restic RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, (rw, rm), (sw, sm) in rows:
        times = f"{rw:.2f} s | {sw:.2f} s | {rw / sw:.2f}×"
        print(f"| {label} | {times} | {rm / 1024:.0f} MiB | {sm / 1024:.0f} MiB |")


if __name__ == "__main__":
    main()
