#!/usr/bin/env python3
"""Ordinary days and attacks, to choose and prove the change guard's thresholds.

Each scenario gets a fresh tree (bench/gen.py's mixed set plus an office share,
a build directory, a SQLite database and a server log: bench/guard_days.py), a
fresh local repository, a first backup, then one backup a day:

- ``ordinary``: 30 working days (edits, office saves, new files, a few
  deletions; on some days a build, a clean rebuild, a photo import, an unpacked
  archive or a reorganisation by moving; weekends only the server's log and
  database);
- one scenario per attack (bench/guard_attacks.py): the same ordinary days up to
  --attack-day, then on that day's evening the attack: in-place encryption of 5,
  20 and 60 % of the files, encryption with renaming and ransom notes, encryption
  of the first 4 KiB only, deletion of a large folder, and slow encryption of 2 %
  of the files a day for 10 days with the ordinary work going on; then --after
  ordinary days (1), to see how the guard judges the days after an attack.

It records the guard's verdict, score and reasons for every backup (the
``guard`` key of `backup --json`, "no verdict" while there is none) and prints a
confusion matrix, when each attack was caught, the scores, and a per-day table.
After an alarm it runs `ripcord guard ack SNAPSHOT` before the next day (not
with --no-ack). Deterministic by --seed; --scale sizes the tree like gen.py's.

    python3 bench/guard.py                                   # all scenarios, ~12 min on 2 cores
    python3 bench/guard.py --scenarios ordinary,encrypt-5 --scale 0.05   # quick
    python3 bench/guard.py --from-json bench/work/guard/results.json     # re-print
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from guard_attacks import attacks
from guard_harness import Options, Scenario, ScenarioResult, as_json, run_scenario
from guard_report import report
from run import TOOLS, VENV_RIPCORD, bench_env, log, meta, now, resolve_exe, tool_version

HERE = Path(__file__).resolve().parent


def scenarios(days: int, attack_day: int, after: int) -> list[Scenario]:
    out = [Scenario("ordinary", None, days + 1, days)]
    for attack in attacks():
        last = attack_day + attack.days - 1 + after
        out.append(Scenario(attack.name, attack, attack_day, last))
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    names = [s.name for s in scenarios(30, 11, 1)]
    p.add_argument("--scenarios", default="all", help=f"comma list of: {', '.join(names)}")
    p.add_argument("--scale", type=float, default=1.0, help="tree size factor (gen.py's)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--days", type=int, default=30, help="ordinary days of the ordinary scenario")
    p.add_argument("--attack-day", type=int, default=11, help="the day each attack starts")
    p.add_argument("--after", type=int, default=1, help="ordinary days after each attack")
    p.add_argument("--no-ack", action="store_true", help="never run `guard ack` after an alarm")
    p.add_argument("--work", type=Path, default=HERE / "work" / "guard")
    p.add_argument("--ripcord", help=f"ripcord executable (default: PATH, else {VENV_RIPCORD})")
    p.add_argument("--timeout", type=float, default=1800, help="per ripcord command, seconds")
    p.add_argument("--keep", action="store_true", help="keep each scenario's tree and repository")
    p.add_argument("--json-out", type=Path, help="default: WORK/results.json")
    p.add_argument("--md-out", type=Path, help="also write the report here")
    p.add_argument("--from-json", type=Path, metavar="FILE", help="run nothing: re-print FILE")
    args = p.parse_args(argv)
    chosen = names if args.scenarios == "all" else args.scenarios.split(",")
    unknown = set(chosen) - set(names)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.chosen = chosen
    args.work = args.work.resolve()
    return args


def header(doc: dict[str, object]) -> list[str]:
    m = doc["meta"]
    assert isinstance(m, dict)
    a = m["args"]
    return [
        f"bench/guard.py --scale {a['scale']} --seed {a['seed']} --attack-day {a['attack_day']}"
        f"{' --no-ack' if a['no_ack'] == 'True' else ''}: {doc['version']},"
        f" {m['cpus']} CPUs, {doc['seconds']:.0f} s ({m['started']} to {m['finished']})",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        doc = json.loads(args.from_json.read_text())
        print(report([ScenarioResult.load(r) for r in doc["scenarios"]], header(doc)))
        return 0
    exe = resolve_exe(TOOLS["ripcord"], args.ripcord)
    if exe is None:
        log("ripcord not found: pass --ripcord PATH")
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**bench_env(args.work, "guard-bench"), "RIPCORD_NO_PROGRESS": "1"}
    opts = Options(args.seed, args.scale, not args.no_ack, args.keep, args.timeout)
    started, start = now(), time.perf_counter()
    results = [
        run_scenario(sc, exe, env, args.work, opts)
        for sc in scenarios(args.days, args.attack_day, args.after)
        if sc.name in args.chosen
    ]
    doc = {
        "version": tool_version(TOOLS["ripcord"], exe, env),
        "seconds": round(time.perf_counter() - start, 1),
        "meta": meta(args, started),
        "scenarios": as_json(results),
    }
    out = args.json_out or args.work / "results.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    text = report(results, header(doc))
    if args.md_out:
        args.md_out.write_text(text + "\n")
    print(text)
    log(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
