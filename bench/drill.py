#!/usr/bin/env python3
"""Time `ripcord drill` of 50 files and of 1 % of the mixed set, with a cold page cache.

Builds a ripcord repository of the mixed set (bench/gen.py) with two backups and a
seeded mutation between them, so that a drill has a latest and an older snapshot,
and a restic repository of the same two states beside it. Then, for each of
--rounds drill seeds, each timed alone under /usr/bin/time after dropping the page
cache (bench/run.py's run_timed):

1. `ripcord drill --sample 50` (default --bytes);
2. `ripcord drill --sample <1 % of the files> --bytes <the whole set>`;

and, for context, since neither restic nor Borg has a drill, restores of exactly the
files each drill sampled, one command per snapshot the drill took them from (their
times and peak RSS are summed and maxed): `ripcord restore SNAPSHOT PATHS... --verify`
and `restic restore SNAPSHOT --include PATH... --verify`. A drill restores each file
alone into a target of its own and proves it against the snapshot and the live
source; a restore writes them in one go.

The build is kept in --work with a build.json; --reuse takes it when scale and seed
match. ripcord is looked up as in bench/run.py (--ripcord, PATH, the venv); pin it
to a commit as bench/README.md shows.

    python3 bench/drill.py --rounds 3
    python3 bench/drill.py --scale 0.1 --rounds 2 --no-restic     # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gen
from run import (
    MIB,
    TOOLS,
    Cmd,
    StepResult,
    bench_env,
    fresh_dir,
    log,
    resolve_exe,
    run_timed,
    tool_version,
)

HERE = Path(__file__).resolve().parent
DATASET = "mixed"
OK = frozenset({0})
GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


@dataclass(frozen=True)
class Built:
    """What build() made in the work directory (build.json)."""

    scale: float
    seed: int
    ripcord: str
    files: int  # after the mutation, in the latest snapshot
    bytes: int
    mutation: dict[str, int]
    snapshots: dict[str, list[str]]  # tool -> snapshot ids, oldest first
    seconds: dict[str, float]  # build step -> wall seconds


@dataclass
class Timed:
    """One or more commands run as one measurement: wall times summed, peak RSS maxed."""

    parts: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.parts) and all(p.status == "ok" for p in self.parts)

    @property
    def wall_s(self) -> float:
        return sum(p.wall_s or 0.0 for p in self.parts)

    @property
    def rss_mib(self) -> float:
        return max((p.max_rss_kib or 0) for p in self.parts) / 1024

    @property
    def load1(self) -> float:
        return max((p.load1 or 0.0) for p in self.parts)

    def error(self) -> str:
        return "; ".join(p.error for p in self.parts if p.status != "ok")


@dataclass(frozen=True)
class DrillSize:
    name: str
    sample: int  # --sample
    max_bytes: int | None  # --bytes; None: the default (1 GiB)


@dataclass
class Case:
    """One drill (one seed, one size) and the restores of the same files."""

    name: str
    seed: int
    drill: Timed
    record: dict[str, Any]  # `drill --json`, without `sampled`
    restores: dict[str, Timed]  # tool -> restore of the same files
    restored_files: dict[str, int]  # tool -> regular files and symlinks found in the target


class Bench:
    """Paths, environment and executables of one run."""

    def __init__(self, args: argparse.Namespace, ripcord: str) -> None:
        self.work: Path = args.work
        self.ripcord = ripcord
        self.timeout: float = args.timeout
        self.env = bench_env(self.work, args.password)
        self.env["RIPCORD_NO_PROGRESS"] = "1"
        self.data = self.work / "data" / DATASET
        self.scratch = self.work / "scratch"
        self.target = self.work / "restore"

    def repo(self, tool: str) -> Path:
        return self.work / "repos" / tool

    def rc(self, *args: str) -> Cmd:
        return (self.ripcord, "-r", str(self.repo("ripcord")), *args)

    def restic(self, *args: str) -> Cmd:
        return ("restic", "-r", str(self.repo("restic")), *args)

    def timed(self, cmd: Cmd, log_name: str) -> StepResult:
        return run_timed(cmd, self.env, None, self.work / "logs" / log_name, self.timeout, OK)

    def must(self, cmd: Cmd, log_name: str) -> StepResult:
        """Run a build step; a failure ends the benchmark (there is nothing to drill)."""
        done = self.timed(cmd, log_name)
        if done.status != "ok":
            raise SystemExit(f"{' '.join(cmd)}: {done.error} (logs: {done.log})")
        return done

    def stdout(self, log_name: str) -> str:
        return (self.work / "logs" / log_name).with_suffix(".out").read_text()


# --------------------------------------------------------------------------- build


def snapshot_ids(bench: Bench, tools: Sequence[str]) -> dict[str, list[str]]:
    """Each tool's snapshot ids, oldest first."""
    ids: dict[str, list[str]] = {}
    if "ripcord" in tools:
        bench.must(bench.rc("snapshots", "--json"), "build/ripcord-snapshots")
        ids["ripcord"] = [s["id"] for s in json.loads(bench.stdout("build/ripcord-snapshots"))]
    if "restic" in tools:
        bench.must(bench.restic("snapshots", "--json"), "build/restic-snapshots")
        found = json.loads(bench.stdout("build/restic-snapshots"))
        ids["restic"] = [s["id"] for s in sorted(found, key=lambda s: s["time"])]
    return ids


def build(bench: Bench, scale: float, seed: int, tools: Sequence[str]) -> Built:
    """The mixed set backed up twice by each tool, ~1 % of it mutated in between."""
    shutil.rmtree(bench.work / "repos", ignore_errors=True)
    fresh_dir(bench.work / "home")  # the tools' caches and configs
    log(f"generating {DATASET} (scale {scale}, seed {seed}) in {bench.data}")
    gen.generate(DATASET, seed, bench.data, scale)
    init = {"ripcord": bench.rc("init"), "restic": bench.restic("init")}
    backup = {
        "ripcord": bench.rc("backup", str(bench.data)),
        "restic": bench.restic("backup", str(bench.data)),
    }
    seconds: dict[str, float] = {}
    mutation: dict[str, int] = {}
    for step in ("init", "backup1", "backup2"):
        if step == "backup2":
            mutation = gen.mutate(seed + 1000, bench.data)
            log(f"mutated: {mutation}")
        for tool in tools:
            cmd = init[tool] if step == "init" else backup[tool]
            seconds[f"{tool} {step}"] = bench.must(cmd, f"build/{tool}-{step}").wall_s or 0.0
            log(f"{tool} {step}: {seconds[f'{tool} {step}']:.2f} s")
    files, size = gen.tree_stats(bench.data)
    ids = snapshot_ids(bench, tools)
    return Built(scale, seed, bench.ripcord, files, size, mutation, ids, seconds)


def prepare(bench: Bench, args: argparse.Namespace, tools: Sequence[str]) -> Built:
    """The build in --work: reused when asked and it matches, else made anew."""
    record = bench.work / "build.json"
    if args.reuse and record.exists():
        made = Built(**json.loads(record.read_text()))
        same = (made.scale, made.seed) == (args.scale, args.seed)
        if same and set(tools) <= made.snapshots.keys():
            log(f"reusing {bench.work} (built by {made.ripcord})")
            return made
        log(f"{bench.work} holds another build: rebuilding")
    made = build(bench, args.scale, args.seed, tools)
    record.write_text(json.dumps(asdict(made), indent=2) + "\n")
    return made


# --------------------------------------------------------------------------- one drill


def by_snapshot(sampled: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Paths a drill sampled, grouped by the snapshot it took them from."""
    groups: dict[str, list[str]] = {}
    for entry in sampled:
        groups.setdefault(entry["snapshot"], []).append(entry["path"])
    return groups


def count_restored(target: Path) -> int:
    return sum(1 for p in target.rglob("*") if p.is_symlink() or p.is_file())


def restore_same_files(
    bench: Bench, built: Built, tool: str, groups: dict[str, list[str]], label: str
) -> tuple[Timed, int]:
    """Restore exactly the drilled files with `tool`, one command per snapshot."""
    timed = Timed()
    fresh_dir(bench.target)
    for snap, paths in groups.items():
        index = built.snapshots["ripcord"].index(snap)
        if tool == "ripcord":
            cmd = bench.rc("restore", snap, *paths, "--target", str(bench.target), "--verify")
        else:
            includes = [a for p in paths for a in ("--include", p.translate(GLOB_SPECIAL))]
            cmd = bench.restic(
                "restore",
                built.snapshots["restic"][index],
                "--target",
                str(bench.target),
                "--verify",
                *includes,
            )
        timed.parts.append(bench.timed(cmd, f"{label}/{tool}-restore-{index}"))
    restored = count_restored(bench.target)
    shutil.rmtree(bench.target, ignore_errors=True)
    return timed, restored


def drill_case(
    bench: Bench, built: Built, size: DrillSize, seed: int, tools: Sequence[str]
) -> Case:
    """One timed drill, then the restores of the files it sampled."""
    label = f"drill/seed{seed}-sample{size.sample}"
    bench.scratch.mkdir(parents=True, exist_ok=True)
    limit = ("--bytes", str(size.max_bytes)) if size.max_bytes else ()
    options = ("--sample", str(size.sample), *limit, "--seed", str(seed))
    cmd = bench.rc("drill", *options, "--scratch", str(bench.scratch), "--json")
    drill = Timed([bench.timed(cmd, f"{label}/drill")])
    out = bench.stdout(f"{label}/drill")
    doc: dict[str, Any] = json.loads(out) if out.strip() else {}
    sampled = doc.pop("sampled", [])
    case = Case(size.name, seed, drill, doc, {}, {})
    for tool in tools:
        if sampled:
            case.restores[tool], case.restored_files[tool] = restore_same_files(
                bench, built, tool, by_snapshot(sampled), label
            )
    log(
        f"seed {seed} {size.name}: {drill.wall_s:.2f} s, {drill.rss_mib:.0f} MiB, "
        f"{doc.get('files')} files, {doc.get('bytes', 0) / MIB:.1f} MiB, {doc.get('result')}; "
        + ", ".join(f"{t} restore {r.wall_s:.2f} s" for t, r in case.restores.items())
    )
    return case


# --------------------------------------------------------------------------- report


def cell(timed: Timed | None) -> str:
    if timed is None:
        return "—"
    if not timed.ok:
        return "FAIL"
    return f"{timed.wall_s:.2f} s, {timed.rss_mib:.0f} MiB"


def rounds_table(cases: Sequence[Case], tools: Sequence[str]) -> list[str]:
    head = ["drill", "seed", "files", "MiB", "from source", "result", "wall", "drill's own"]
    head += [f"{t} restore of the same" for t in tools] + ["load"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for c in cases:
        r = c.record
        row = [
            c.name,
            str(c.seed),
            str(r.get("files", "—")),
            f"{r.get('bytes', 0) / MIB:.1f}",
            str(r.get("source_compared", "—")),
            str(r.get("result", "FAIL")) if c.drill.ok else f"FAIL ({c.drill.error()})",
            cell(c.drill),
            f"{r['duration']:.2f} s" if "duration" in r else "—",
            *(cell(c.restores.get(t)) for t in tools),
            f"{c.drill.load1:.1f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def spread(values: Sequence[float], digits: int = 2) -> str:
    if not values:
        return "—"
    mid = statistics.median_low(values)
    return f"{mid:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def summary_table(cases: Sequence[Case], tools: Sequence[str]) -> list[str]:
    head = ["drill", "rounds", "files", "MiB", "wall, s", "peak RSS, MiB"]
    head += [f"{t} restore, s" for t in tools] + [f"drill/{t} restore" for t in tools]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name in dict.fromkeys(c.name for c in cases):
        group = [c for c in cases if c.name == name and c.drill.ok]
        walls = [c.drill.wall_s for c in group]
        restore_walls = {
            t: [c.restores[t].wall_s for c in group if t in c.restores and c.restores[t].ok]
            for t in tools
        }
        ratios = [
            spread(
                [
                    c.drill.wall_s / c.restores[t].wall_s
                    for c in group
                    if t in c.restores and c.restores[t].ok and c.restores[t].wall_s
                ]
            )
            for t in tools
        ]
        row = [
            name,
            str(len(group)),
            spread([c.record["files"] for c in group], 0),
            spread([c.record["bytes"] / MIB for c in group], 1),
            spread(walls),
            spread([c.drill.rss_mib for c in group], 0),
            *(spread(restore_walls[t]) for t in tools),
            *ratios,
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def report(built: Built, cases: Sequence[Case], tools: Sequence[str], versions: str) -> str:
    loads = [c.drill.load1 for c in cases]
    lines = [
        f"mixed at scale {built.scale}, seed {built.seed}: {built.files:,} files, "
        f"{built.bytes / MIB:.1f} MiB in the latest snapshot (mutation {built.mutation}); "
        f"{versions}",
        "",
        "Medians (min–max) over the rounds:",
        "",
        *summary_table(cases, tools),
        "",
        "Each round (wall time and peak RSS; restores: summed over the snapshots, RSS maxed):",
        "",
        *rounds_table(cases, tools),
        "",
        f"1-min load average at drill start: {min(loads):.1f}–{max(loads):.1f}" if loads else "",
    ]
    for c in cases:
        for tool, count in c.restored_files.items():
            if count != c.record.get("files"):
                lines.append(
                    f"- WARNING: {tool} restored {count} files for {c.name} seed {c.seed}, "
                    f"the drill sampled {c.record.get('files')}"
                )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", type=float, default=1.0, help="mixed set size factor")
    ap.add_argument("--seed", type=int, default=1, help="of the data set (gen.py)")
    ap.add_argument("--rounds", type=int, default=3, help="drill seeds 1..N, one round each")
    ap.add_argument("--work", type=Path, default=HERE / "work" / "drill")
    ap.add_argument("--ripcord", help="ripcord executable (default as in run.py)")
    ap.add_argument("--no-restic", action="store_true", help="no restic repository or restores")
    ap.add_argument("--reuse", action="store_true", help="keep the build in --work if it matches")
    ap.add_argument("--password", default="ripcord-bench-password")
    ap.add_argument("--timeout", type=float, default=3600, help="per command, seconds")
    ap.add_argument("--json-out", type=Path, help="default: WORK/drill.json")
    ap.add_argument("--md-out", type=Path, help="also write the report here")
    args = ap.parse_args(argv)
    args.work = args.work.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ripcord = resolve_exe(TOOLS["ripcord"], args.ripcord)
    if ripcord is None:
        raise SystemExit("ripcord not found: pass --ripcord")
    tools = ["ripcord"] if args.no_restic else ["ripcord", "restic"]
    started = datetime.now(UTC).isoformat(timespec="seconds")
    bench = Bench(args, ripcord)
    built = prepare(bench, args, tools)
    one_percent = max(1, built.files // 100)
    sizes = (
        DrillSize("50 files", 50, None),  # the issue's `ripcord drill --sample 50`
        DrillSize(f"1 % ({one_percent} files)", one_percent, max(built.bytes, 1 << 20)),
    )
    cases = [
        drill_case(bench, built, size, seed, tools)
        for seed in range(1, args.rounds + 1)
        for size in sizes
    ]
    versions = "; ".join(
        tool_version(TOOLS[t], ripcord if t == "ripcord" else t, bench.env) for t in tools
    )
    text = report(built, cases, tools, versions)
    print(text)
    if args.md_out:
        args.md_out.write_text(text)
    json_out: Path = args.json_out or args.work / "drill.json"
    payload = {
        "meta": {
            "started": started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "argv": sys.argv,
            "versions": versions,
        },
        "build": asdict(built),
        "cases": [asdict(c) for c in cases],
    }
    json_out.write_text(json.dumps(payload, indent=2) + "\n")
    log(f"results: {json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
