#!/usr/bin/env python3
"""What `init --parity` costs: repository size and first-backup time at 0, 5 and 10 %.

Generates the mixed set once (bench/gen.py, seed 1) and, for each round, backs it
up into a fresh repository at each parity setting, in turn, so that a slow moment
of a shared machine does not land on one setting only. The source is read once
before the first round and stays in the page cache: the figures are the CPU and
write cost of parity, not the disk's read speed. Medians are reported.

    python3 bench/parity.py --scale 0.25 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SETTINGS = (0, 5, 10)


def stored(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def quiet(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=HERE / "work" / "parity")
    ap.add_argument("--ripcord", default=str(ROOT / ".venv" / "bin" / "ripcord"))
    args = ap.parse_args()

    data = args.work / f"mixed-{args.scale}"
    if not data.exists():
        gen = [sys.executable, str(HERE / "gen.py"), "mixed", "--seed", "1"]
        subprocess.run([*gen, "--out", str(data), "--scale", str(args.scale)], check=True)
    source = stored(data)
    for p in data.rglob("*"):  # into the page cache, for every setting alike
        if p.is_file():
            p.read_bytes()
    env = {
        **os.environ,
        "RIPCORD_PASSWORD": "bench",
        "RIPCORD_CACHE_DIR": str(args.work / "cache"),
        "RIPCORD_NO_PROGRESS": "1",
    }
    times: dict[int, list[float]] = {s: [] for s in SETTINGS}
    sizes: dict[int, tuple[int, int]] = {}
    for _ in range(args.rounds):
        for percent in SETTINGS:
            repo = args.work / f"repo-{percent}"
            shutil.rmtree(repo, ignore_errors=True)
            shutil.rmtree(args.work / "cache", ignore_errors=True)
            rc = [args.ripcord, "-r", str(repo)]
            quiet([*rc, "init", "--parity", f"{percent}%"], env)
            start = time.perf_counter()
            quiet([*rc, "backup", str(data)], env)
            times[percent].append(time.perf_counter() - start)
            sizes[percent] = (stored(repo / "data"), stored(repo / "parity"))

    base_t = statistics.median(times[0])
    base_s = sum(sizes[0])
    print(f"mixed --scale {args.scale}: {source / 2**20:.1f} MiB of source, {args.rounds} rounds")
    print("| parity | packs, MiB | parity, MiB | repository vs none | first backup, s | vs none |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for percent in SETTINGS:
        packs, parity = sizes[percent]
        t = statistics.median(times[percent])
        print(
            f"| {percent}% | {packs / 2**20:.1f} | {parity / 2**20:.2f} |"
            f" {(packs + parity) / base_s:.3f}× | {t:.2f} ({min(times[percent]):.2f}–"
            f"{max(times[percent]):.2f}) | {t / base_t:.2f}× |"
        )


if __name__ == "__main__":
    main()
