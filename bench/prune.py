#!/usr/bin/env python3
"""Time history, forget and prune of ripcord against restic on N daily snapshots.

Builds (or with --reuse takes) the repositories of bench/history.py: the mixed
set mutated ~1 % a day, backed up daily by both tools. Then, --rounds times, on a
fresh copy of both repositories and their caches (forget and prune change them):

1. history of a folder, a file and a folder deleted half-way (`restic find`);
2. forget with the same policy on both (--keep-daily 7 --keep-weekly 5
   --keep-monthly 12), and a check that both kept the same snapshot dates;
3. prune with the default 5 % of unused space tolerated on both;
4. a second prune right after, which has nothing to do;

each with a cold page cache (the tools' own caches stay as the backups left
them), under /usr/bin/time for peak RSS, with the repository size (du -sb)
before and after. After the last step both repositories are checked (untimed).

    python3 bench/prune.py --days 365 --commit HEAD --rounds 2   # the issue's setup
    python3 bench/prune.py --days 30 --scale 0.1                 # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from history import (
    Build,
    Site,
    Timing,
    add_build_args,
    describe,
    history_table,
    prepare,
    ripcord_of,
    time_history,
    timed,
)
from run import repo_size

POLICY = ["--keep-daily", "7", "--keep-weekly", "5", "--keep-monthly", "12"]
MIB = 1024 * 1024


def commands(site: Site, ripcord: str) -> dict[str, dict[str, list[str]]]:
    """Per measured step, the command of each tool."""
    rc = [ripcord, "-r", str(site.rc_repo)]
    rs = ["restic", "-r", str(site.restic_repo)]
    return {
        "forget": {
            "ripcord": [*rc, "forget", *POLICY, "--json"],
            "restic": [*rs, "forget", *POLICY],
        },
        "prune": {"ripcord": [*rc, "prune", "--json"], "restic": [*rs, "prune"]},
        "second prune": {"ripcord": [*rc, "prune", "--json"], "restic": [*rs, "prune"]},
    }


def sizes(site: Site) -> dict[str, int]:
    return {"ripcord": repo_size(site.rc_repo), "restic": repo_size(site.restic_repo)}


def snapshot_times(site: Site, ripcord: str) -> dict[str, list[str]]:
    """The dates of the snapshots each repository holds, oldest first."""
    env = site.env()
    out = {
        "ripcord": [ripcord, "-r", str(site.rc_repo), "snapshots", "--json"],
        "restic": ["restic", "-r", str(site.restic_repo), "snapshots", "--json"],
    }
    times = {}
    for tool, argv in out.items():
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        times[tool] = sorted(str(s["time"])[:10] for s in json.loads(done.stdout))
    return times


def check(site: Site, ripcord: str) -> dict[str, str]:
    """Both repositories still consistent after the prunes (ripcord's only if it has check)."""
    env = site.env()
    argv = {
        "ripcord": [ripcord, "-r", str(site.rc_repo), "check"],
        "restic": ["restic", "-r", str(site.restic_repo), "check"],
    }
    if subprocess.run([ripcord, "check", "--help"], capture_output=True, env=env).returncode:
        del argv["ripcord"]
    result = {"ripcord": "n/a (no check command)"}
    for tool, cmd in argv.items():
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
        result[tool] = (
            "ok" if done.returncode == 0 else f"FAILED (exit {done.returncode}): {tail[0]}"
        )
    return result


def measure(made: Build, site: Site, ripcord: str) -> dict[str, Any]:
    """One round on `site`, a fresh copy of the build."""
    env = site.env()
    history = time_history(site, made.paths, ripcord)
    size = {"before": sizes(site)}
    steps: dict[str, dict[str, Timing]] = {}
    for step, argv in commands(site, ripcord).items():
        steps[step] = {tool: timed(cmd, env) for tool, cmd in argv.items()}
        size[f"after {step}"] = sizes(site)
        print(f"  {step} done", file=sys.stderr)
    kept = snapshot_times(site, ripcord)
    return {
        "history": history,
        "steps": steps,
        "sizes": size,
        "kept": kept,
        "same_kept": kept["ripcord"] == kept["restic"],
        "ripcord_prune": [json.loads(steps[s]["ripcord"].out) for s in ("prune", "second prune")],
        "restic_prune": [summary(steps[s]["restic"].out) for s in ("prune", "second prune")],
        "check": check(site, ripcord),
        "load1": os.getloadavg()[0],
    }


def summary(restic_out: str) -> str:
    """The lines of restic prune's report that say what it did."""
    keep = ("to repack", "to delete", "total prune", "remaining", "unused size after")
    lines = [ln.strip() for ln in restic_out.splitlines()]
    return "; ".join(ln for ln in lines if ln.startswith(keep)) or " | ".join(lines[-3:])


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


def steps_table(steps: dict[str, dict[str, Timing]]) -> str:
    lines = [
        "| step | ripcord | restic | ratio | ripcord RSS | restic RSS | RSS ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step, t in steps.items():
        rc, rs = t["ripcord"], t["restic"]
        lines.append(
            f"| {step} | {rc.wall_s:.2f} s | {rs.wall_s:.2f} s | {ratio(rc.wall_s, rs.wall_s)}"
            f" | {rc.rss_kib / 1024:.0f} MiB | {rs.rss_kib / 1024:.0f} MiB"
            f" | {ratio(rc.rss_kib, rs.rss_kib)} |"
        )
    return "\n".join(lines)


def sizes_table(size: dict[str, dict[str, int]]) -> str:
    lines = ["| repository | ripcord | restic | ratio |", "| --- | ---: | ---: | ---: |"]
    for when, s in size.items():
        rc, rs = s["ripcord"], s["restic"]
        lines.append(f"| {when} | {rc / MIB:.1f} MiB | {rs / MIB:.1f} MiB | {ratio(rc, rs)} |")
    return "\n".join(lines)


def report(made: Build, ripcord: str, commit: str, rounds: list[dict[str, Any]]) -> str:
    built_by = describe(made.ripcord, made.commit)
    parts = [
        f"{made.days} daily snapshots of mixed at scale {made.scale}; measured: "
        f"{describe(ripcord, commit)}; built by {built_by} in {made.seconds / 60:.1f} min",
    ]
    for n, r in enumerate(rounds, 1):
        p1, p2 = r["ripcord_prune"]
        parts += [
            f"\n### round {n} (1-min load average at the end: {r['load1']:.1f})\n",
            history_table(r["history"]),
            "",
            steps_table(r["steps"]),
            "",
            sizes_table(r["sizes"]),
            "",
            f"- kept after forget: ripcord {len(r['kept']['ripcord'])}, restic"
            f" {len(r['kept']['restic'])} snapshots; same dates: {r['same_kept']}",
            f"- ripcord prune: packs deleted {p1['packs_deleted']}, repacked"
            f" {p1['packs_repacked']}, {p1['bytes_deleted'] / MIB:.1f} MiB deleted,"
            f" {p1['bytes_written'] / MIB:.1f} MiB written, freed {p1['freed'] / MIB:.1f} MiB;"
            f" second prune: packs deleted {p2['packs_deleted']}, repacked {p2['packs_repacked']}",
            f"- restic prune: {r['restic_prune'][0]}",
            f"- restic second prune: {r['restic_prune'][1]}",
            f"- check after: ripcord {r['check']['ripcord']}, restic {r['check']['restic']}",
        ]
    return "\n".join(parts)


def restic_version() -> str:
    done = subprocess.run(["restic", "version"], capture_output=True, text=True)
    return done.stdout.strip()


def jsonable(value: Any) -> Any:
    if isinstance(value, Timing):
        return asdict(value) | {"out": value.out[-4000:]}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_build_args(ap)
    ap.add_argument("--rounds", type=int, default=1, help="measure this many fresh copies")
    ap.add_argument("--json-out", type=Path, help="default: WORK/prune.json")
    args = ap.parse_args()
    ripcord, commit = ripcord_of(args)
    made = prepare(args, ripcord, commit)
    rounds = []
    for n in range(1, args.rounds + 1):
        print(f"round {n}/{args.rounds}: copying the repositories", file=sys.stderr)
        site = made.site.copy_to(args.work / "round")
        rounds.append(measure(made, site, ripcord))
    text = report(made, ripcord, commit, rounds)
    print(text)
    doc = {
        "build": asdict(made),
        "ripcord": ripcord,
        "commit": commit,
        "restic": restic_version(),
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": jsonable(rounds),
        "report": text,
    }
    out = args.json_out or args.work / "prune.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"results in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
