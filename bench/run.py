#!/usr/bin/env python3
"""Run ripcord, restic and Borg side by side on the same seeded data and print ratios.

For each dataset and tool, in one run: init, first backup, no-change backup, backup
after a seeded mutation, full restore (verified against the source, untimed), full
data read-back and repository size. Every timed step starts with a cold page cache
and runs under ``/usr/bin/time -v`` (wall time, peak RSS). Ratios compare the first
tool of ``--tools`` with each of the others (by default ripcord/restic, ripcord/borg).

    python3 bench/run.py --dataset all                 # full size (~1.1 GiB of data)
    python3 bench/run.py --dataset all --scale 0.1     # quick run
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gen

BENCH_DIR = Path(__file__).resolve().parent
VENV_RIPCORD = BENCH_DIR.parent / ".venv" / "bin" / "ripcord"
TIME_BIN = "/usr/bin/time"
MIB = 1024 * 1024
DATASETS = ("mixed", "many")

Cmd = tuple[str, ...]


# --------------------------------------------------------------------------- tools as data


@dataclass(frozen=True)
class ToolSpec:
    """Command templates; placeholders: {exe} {repo} {src} {target} {n} (backup number)."""

    name: str
    exe: str
    version: Cmd
    init: Cmd
    backup: Cmd
    restore: Cmd
    check: Cmd
    restore_cwd: str | None = None  # template for the working directory of restore
    check_probe: Cmd | None = None  # check runs only if this exits 0
    fallback: str | None = None  # executable to try when `exe` is not on PATH
    ok_codes: frozenset[int] = frozenset({0})


TOOLS: dict[str, ToolSpec] = {
    "ripcord": ToolSpec(
        name="ripcord",
        exe="ripcord",
        version=("{exe}", "--version"),
        init=("{exe}", "-r", "{repo}", "init"),
        backup=("{exe}", "-r", "{repo}", "backup", "{src}"),
        restore=("{exe}", "-r", "{repo}", "restore", "latest", "--target", "{target}"),
        check=("{exe}", "-r", "{repo}", "check", "--read-data"),
        check_probe=("{exe}", "check", "--help"),
        fallback=str(VENV_RIPCORD),
    ),
    "restic": ToolSpec(
        name="restic",
        exe="restic",
        version=("{exe}", "version"),
        init=("{exe}", "-r", "{repo}", "init"),
        backup=("{exe}", "-r", "{repo}", "backup", "{src}"),
        restore=("{exe}", "-r", "{repo}", "restore", "latest", "--target", "{target}"),
        check=("{exe}", "-r", "{repo}", "check", "--read-data"),
    ),
    "borg": ToolSpec(
        name="borg",
        exe="borg",
        version=("{exe}", "--version"),
        init=("{exe}", "init", "--encryption=repokey-blake2", "{repo}"),
        backup=("{exe}", "create", "--compression", "zstd,3", "{repo}::snap-{n}", "{src}"),
        restore=("{exe}", "extract", "{repo}::snap-{n}"),
        restore_cwd="{target}",
        check=("{exe}", "check", "--verify-data", "{repo}"),
        ok_codes=frozenset({0, 1}),  # 1 = completed with warnings
    ),
}


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    command: str  # which ToolSpec template: init | backup | restore | check
    n: int = 0  # backup number; restore and check refer to the last backup


BEFORE_MUTATE = (
    Step("init", "init", "init"),
    Step("backup1", "first backup", "backup", 1),
    Step("backup2", "no-change backup", "backup", 2),
)
AFTER_MUTATE = (
    Step("backup3", "backup after mutate", "backup", 3),
    Step("restore", "full restore", "restore", 3),
    Step("check", "full read-back", "check", 3),
)
ALL_STEPS = BEFORE_MUTATE + AFTER_MUTATE
SIZE_ROWS = (
    ("backup1", "first backup"),
    ("backup2", "no-change backup"),
    ("backup3", "post-mutate backup"),
)


# --------------------------------------------------------------------------- results


@dataclass
class StepResult:
    status: str  # ok | failed | n/a | skipped
    wall_s: float | None = None
    max_rss_kib: int | None = None
    user_s: float | None = None
    sys_s: float | None = None
    exit_code: int | None = None
    cache_dropped: bool = False
    load1: float | None = None  # 1-minute load average when the step started
    error: str = ""
    command: list[str] = field(default_factory=list)
    log: str = ""


@dataclass
class ToolRun:
    name: str
    exe: str
    version: str = ""
    steps: dict[str, StepResult] = field(default_factory=dict)
    repo_bytes: dict[str, int] = field(default_factory=dict)  # after each backup step
    restore_verified: str = ""


@dataclass
class DatasetRun:
    name: str
    scale: float
    seed: int
    files: int
    bytes: int
    files_after_mutate: int = 0
    bytes_after_mutate: int = 0
    mutation: dict[str, int] = field(default_factory=dict)
    tools: dict[str, ToolRun] = field(default_factory=dict)  # medians over the rounds
    rounds: list[dict[str, ToolRun]] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """Everything a step needs besides the tool and the step."""

    dataset: str
    src: Path
    work: Path
    env: dict[str, str]
    timeout: float

    def repo(self, tool: str) -> Path:
        return self.work / "repos" / self.dataset / tool

    def target(self, tool: str) -> Path:
        return self.work / "restore" / self.dataset / tool

    def logs(self, tool: str) -> Path:
        return self.work / "logs" / self.dataset / tool


# --------------------------------------------------------------------------- running a step


def drop_caches() -> bool:
    subprocess.run(["sync"], check=False)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def parse_elapsed(text: str) -> float:
    """``h:mm:ss`` or ``m:ss.ss`` from GNU time into seconds."""
    seconds = 0.0
    for part in text.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_time_v(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    if not path.exists():
        return fields
    for line in path.read_text(errors="replace").splitlines():
        if "Elapsed (wall clock)" in line:
            fields["elapsed"] = line.rsplit(" ", 1)[1]
        elif ": " in line:
            key, _, value = line.strip().partition(": ")
            fields[key] = value
    return fields


def seconds_field(stats: dict[str, str], key: str) -> float | None:
    return float(stats[key]) if key in stats else None


def tail(path: Path, lines: int = 4) -> str:
    if not path.exists():
        return ""
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


def wait_or_kill(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for ``proc``; on timeout kill its whole process group. True if it finished."""
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return False
    except BaseException:  # Ctrl-C: the step runs in its own session, so end it too
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def run_timed(
    cmd: Cmd,
    env: dict[str, str],
    cwd: Path | None,
    log_base: Path,
    timeout: float,
    ok_codes: frozenset[int],
) -> StepResult:
    log_base.parent.mkdir(parents=True, exist_ok=True)
    time_file, out_file, err_file = (log_base.with_suffix(s) for s in (".time", ".out", ".err"))
    time_file.unlink(missing_ok=True)
    result = StepResult(status="failed", command=list(cmd), log=str(log_base) + ".{out,err,time}")
    result.cache_dropped = drop_caches()
    result.load1 = os.getloadavg()[0]
    with out_file.open("wb") as out, err_file.open("wb") as err:
        proc = subprocess.Popen(
            [TIME_BIN, "-v", "-o", str(time_file), *cmd],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        finished = wait_or_kill(proc, timeout)
    stats = parse_time_v(time_file)
    result.exit_code = proc.returncode
    result.wall_s = parse_elapsed(stats["elapsed"]) if "elapsed" in stats else None
    result.max_rss_kib = int(stats.get("Maximum resident set size (kbytes)", "0")) or None
    result.user_s = seconds_field(stats, "User time (seconds)")
    result.sys_s = seconds_field(stats, "System time (seconds)")
    if not finished:
        result.error = f"timed out after {timeout:g} s"
    elif proc.returncode in ok_codes:
        result.status = "ok"
    else:
        result.error = f"exit {proc.returncode}: {tail(err_file) or tail(out_file) or 'no output'}"
    return result


def render(template: Cmd, **values: object) -> Cmd:
    return tuple(part.format(**values) for part in template)


def probe_ok(cmd: Cmd, env: dict[str, str]) -> bool:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def tool_version(spec: ToolSpec, exe: str, env: dict[str, str]) -> str:
    try:
        done = subprocess.run(
            render(spec.version, exe=exe),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else f"unknown (exit {done.returncode})"


# --------------------------------------------------------------------------- measuring around steps


def repo_size(path: Path) -> int:
    """Apparent size in bytes, as ``du -sb`` reports it."""
    done = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=False)
    if done.returncode == 0 and done.stdout.split():
        return int(done.stdout.split()[0])
    return sum(p.lstat().st_size for p in path.rglob("*"))


def file_digests(root: Path) -> dict[str, tuple[int, str]]:
    digests: dict[str, tuple[int, str]] = {}
    for rel in gen.list_files(root):
        path = root / rel
        h = hashlib.blake2b()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digests[rel] = (path.lstat().st_size, h.hexdigest())
    return digests


def locate_restored(target: Path, src: Path) -> Path:
    """Tools put the restored tree at target/<abs src>, target/<src name> or target."""
    for candidate in (target / src.relative_to(src.anchor), target / src.name):
        if candidate.is_dir():
            return candidate
    return target


def verify_restore(target: Path, src: Path) -> str:
    restored = locate_restored(target, src)
    want, got = file_digests(src), file_digests(restored)
    missing = len(want.keys() - got.keys())
    extra = len(got.keys() - want.keys())
    differ = sum(1 for k in want.keys() & got.keys() if want[k] != got[k])
    if missing == extra == differ == 0:
        return f"ok ({len(want)} files identical)"
    return f"MISMATCH in {restored}: {missing} missing, {extra} extra, {differ} differ"


# --------------------------------------------------------------------------- one tool, one dataset


def resolve_exe(spec: ToolSpec, override: str | None) -> str | None:
    """``override`` (e.g. --ripcord) if given, else ``exe`` on PATH, else the fallback path."""
    for cand in (override,) if override else (spec.exe, spec.fallback):
        found = cand and shutil.which(cand)
        if found:
            return os.path.abspath(found)
    return None


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_step(spec: ToolSpec, run: ToolRun, step: Step, ctx: Context) -> StepResult:
    values = {
        "exe": run.exe,
        "repo": ctx.repo(spec.name),
        "src": ctx.src,
        "target": ctx.target(spec.name),
        "n": step.n,
    }
    probe = render(spec.check_probe, **values) if spec.check_probe else None
    if step.command == "check" and probe and not probe_ok(probe, ctx.env):
        return StepResult(status="n/a", error=f"`{' '.join(probe)}` did not exit 0")
    if step.command == "restore":
        fresh_dir(ctx.target(spec.name))
    cwd = (
        Path(spec.restore_cwd.format(**values))
        if step.command == "restore" and spec.restore_cwd
        else None
    )
    cmd = render(getattr(spec, step.command), **values)
    log_base = ctx.logs(spec.name) / step.key
    return run_timed(cmd, ctx.env, cwd, log_base, ctx.timeout, spec.ok_codes)


def after_step(spec: ToolSpec, run: ToolRun, step: Step, ctx: Context, keep: bool) -> None:
    result = run.steps[step.key]
    if step.command == "backup" and ctx.repo(spec.name).exists():
        run.repo_bytes[step.key] = repo_size(ctx.repo(spec.name))
    if step.command == "restore":
        target = ctx.target(spec.name)
        run.restore_verified = (
            verify_restore(target, ctx.src) if result.status == "ok" else "not restored"
        )
        if not keep:
            shutil.rmtree(target, ignore_errors=True)


def describe(result: StepResult) -> str:
    if result.status != "ok":
        return f"{result.status.upper()} {result.error}"
    rss = (result.max_rss_kib or 0) / 1024
    return f"{result.wall_s:.2f} s, {rss:.0f} MiB"


def run_phase(
    specs: Sequence[ToolSpec],
    runs: dict[str, ToolRun],
    steps: Sequence[Step],
    ctx: Context,
    keep: bool,
) -> None:
    for spec in specs:
        run = runs[spec.name]
        for step in steps:
            if not run.exe:
                run.steps[step.key] = StepResult(status="skipped", error="not installed")
                continue
            run.steps[step.key] = run_step(spec, run, step, ctx)
            after_step(spec, run, step, ctx, keep)
            log(f"[{ctx.dataset}] {spec.name:8} {step.label:20} {describe(run.steps[step.key])}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_round(
    ds: DatasetRun, specs: Sequence[ToolSpec], runs: dict[str, ToolRun], ctx: Context, keep: bool
) -> None:
    """Fresh data and repositories, then every step for every tool."""
    log(f"[{ds.name}] generating (scale {ds.scale}, seed {ds.seed}) in {ctx.src}")
    gen.generate(ds.name, ds.seed, ctx.src, ds.scale)
    ds.files, ds.bytes = gen.tree_stats(ctx.src)
    for spec in specs:
        shutil.rmtree(ctx.repo(spec.name), ignore_errors=True)
    run_phase(specs, runs, BEFORE_MUTATE, ctx, keep)
    ds.mutation = gen.mutate(ds.seed + 1000, ctx.src)
    ds.files_after_mutate, ds.bytes_after_mutate = gen.tree_stats(ctx.src)
    log(f"[{ds.name}] mutated: {ds.mutation}")
    run_phase(specs, runs, AFTER_MUTATE, ctx, keep)


def median_step(results: list[StepResult]) -> StepResult:
    """The first failure if any round failed, else the median (lower middle) of each figure."""
    failed = [r for r in results if r.status != "ok"]
    if failed or len(results) == 1:
        return (failed or results)[0]

    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median_low(present) if present else None

    rss = [r.max_rss_kib for r in results if r.max_rss_kib is not None]
    return dataclasses.replace(
        results[0],
        wall_s=med([r.wall_s for r in results]),
        user_s=med([r.user_s for r in results]),
        sys_s=med([r.sys_s for r in results]),
        load1=med([r.load1 for r in results]),
        max_rss_kib=statistics.median_low(rss) if rss else None,
    )


def median_run(rounds: list[ToolRun]) -> ToolRun:
    first = rounds[0]
    steps = {key: median_step([r.steps[key] for r in rounds]) for key in first.steps}
    sizes = {
        key: statistics.median_low([r.repo_bytes[key] for r in rounds if key in r.repo_bytes])
        for key in first.repo_bytes
    }
    verdicts = [r.restore_verified for r in rounds]
    verified = next((v for v in verdicts if not v.startswith("ok")), verdicts[0])
    return ToolRun(first.name, first.exe, first.version, steps, sizes, verified)


def bench_dataset(
    name: str,
    args: argparse.Namespace,
    specs: Sequence[ToolSpec],
    exes: dict[str, str | None],
    env: dict[str, str],
) -> DatasetRun:
    ds = DatasetRun(name, args.scale, args.seed, 0, 0)
    ctx = Context(name, args.work / "data" / name, args.work, env, args.timeout)
    versions = {s.name: tool_version(s, exes[s.name] or "", env) for s in specs if exes[s.name]}
    for number in range(1, args.repeat + 1):
        log(f"[{name}] round {number}/{args.repeat}")
        runs = {
            s.name: ToolRun(s.name, exes[s.name] or "", versions.get(s.name, "not installed"))
            for s in specs
        }
        bench_round(ds, specs, runs, ctx, args.keep)
        ds.rounds.append(runs)
    ds.tools = {s.name: median_run([r[s.name] for r in ds.rounds]) for s in specs}
    return ds


# --------------------------------------------------------------------------- report


def fmt_cell(value: float | None, result: StepResult | None, digits: int) -> str:
    if result is not None and result.status != "ok":
        return {"failed": "FAIL", "n/a": "n/a", "skipped": "—"}.get(result.status, "?")
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a is not None and b else "—"


Metric = Callable[[ToolRun], tuple[float | None, StepResult | None]]


def step_metric(key: str, attr: str, divisor: float) -> Metric:
    def metric(run: ToolRun) -> tuple[float | None, StepResult | None]:
        result = run.steps.get(key)
        if result is None or result.status != "ok":
            return None, result
        raw: float | int | None = getattr(result, attr)
        return (None if raw is None else raw / divisor), result

    return metric


def size_metric(key: str) -> Metric:
    def metric(run: ToolRun) -> tuple[float | None, StepResult | None]:
        size = run.repo_bytes.get(key)
        result = run.steps.get(key)
        if result is not None and result.status == "ok" and size is not None:
            return size / MIB, None
        return None, result

    return metric


def table(
    title: str, rows: Sequence[tuple[str, Metric]], runs: Sequence[ToolRun], digits: int
) -> list[str]:
    first, others = runs[0], runs[1:]
    head = ["", *(r.name for r in runs), *(f"{first.name}/{o.name}" for o in others)]
    lines = [
        f"**{title}**",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    for label, metric in rows:
        values = [metric(r) for r in runs]
        cells = [fmt_cell(v, res, digits) for v, res in values]
        ratios = [fmt_ratio(values[0][0], v) for v, _ in values[1:]]
        lines.append("| " + " | ".join([label, *cells, *ratios]) + " |")
    return [*lines, ""]


def problems(run: ToolRun) -> list[str]:
    """Failed steps of one tool, one line per distinct error."""
    by_error: dict[str, list[str]] = {}
    for key, res in run.steps.items():
        if res.status != "ok":
            by_error.setdefault(f"{res.status} — {res.error}", []).append(key)
    return [f"{', '.join(keys)}: {error}" for error, keys in by_error.items()]


def ran_warm(run: ToolRun) -> bool:
    """True if some step ran without a cold page cache."""
    return any(x.status in ("ok", "failed") and not x.cache_dropped for x in run.steps.values())


def dataset_report(ds: DatasetRun) -> str:
    runs = list(ds.tools.values())
    lines = [
        f"### {ds.name} — scale {ds.scale}, seed {ds.seed}: {ds.files:,} files, "
        f"{ds.bytes / MIB:.1f} MiB (after mutate {ds.files_after_mutate:,} files, "
        f"{ds.bytes_after_mutate / MIB:.1f} MiB; {ds.mutation})",
        "",
    ]
    lines += table(
        "wall time, s", [(s.label, step_metric(s.key, "wall_s", 1)) for s in ALL_STEPS], runs, 2
    )
    lines += table(
        "peak RSS, MiB",
        [(s.label, step_metric(s.key, "max_rss_kib", 1024)) for s in ALL_STEPS],
        runs,
        0,
    )
    sizes = [(f"after {label}", size_metric(key)) for key, label in SIZE_ROWS]
    lines += table("repository size, MiB (du -sb)", sizes, runs, 1)
    lines += [f"- {r.name}: {r.version}; restore: {r.restore_verified or '—'}" for r in runs]
    lines += [f"- {r.name}: {problem}" for r in runs for problem in problems(r)]
    warm = [r.name for r in runs if ran_warm(r)]
    loads = [x.load1 for r in runs for x in r.steps.values() if x.load1 is not None]
    if loads:
        lines.append(f"- 1-min load average at step start: {min(loads):.1f}–{max(loads):.1f}")
    if warm:
        lines.append(f"- WARNING: page cache not dropped for {', '.join(warm)} (not root?)")
    return "\n".join([*lines, ""])


# --------------------------------------------------------------------------- setup and main


def bench_env(work: Path, password: str) -> dict[str, str]:
    """Same password for all tools; caches and configs kept under ``work/home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        RESTIC_PASSWORD=password,
        BORG_PASSPHRASE=password,
        RIPCORD_PASSWORD=password,
        BORG_DISPLAY_PASSPHRASE="no",
    )
    return env


def preflight(names: Sequence[str], ripcord: str | None, setup: bool) -> dict[str, str | None]:
    missing = [n for n in ("restic", "borg") if n in names and not shutil.which(n)]
    if not Path(TIME_BIN).exists():
        missing.append("time")
    if missing and setup:
        subprocess.run(["sh", str(BENCH_DIR / "setup.sh")], check=True)
    elif missing:
        log(f"missing: {', '.join(missing)} — run `sudo sh bench/setup.sh` or pass --setup")
        if "time" in missing:
            raise SystemExit(2)
    exes = {n: resolve_exe(TOOLS[n], ripcord if n == "ripcord" else None) for n in names}
    for name, exe in exes.items():
        log(f"{name}: {exe or 'NOT FOUND (steps will be recorded as skipped)'}")
    return exes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", choices=[*DATASETS, "all"], default="all")
    p.add_argument("--scale", type=float, default=1.0, help="dataset size factor (0.1 = quick)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", type=Path, default=BENCH_DIR / "work")
    p.add_argument(
        "--tools",
        default="ripcord,restic,borg",
        help="comma list; ratios are the first tool over each other one",
    )
    p.add_argument("--ripcord", help=f"ripcord executable (default: PATH, else {VENV_RIPCORD})")
    p.add_argument("--json-out", type=Path, help="default: WORK/results.json")
    p.add_argument("--md-out", type=Path, help="also write the tables as Markdown here")
    p.add_argument("--password", default="ripcord-bench-password")
    p.add_argument("--repeat", type=int, default=1, help="rounds per dataset; tables show medians")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="per step, seconds")
    p.add_argument("--keep", action="store_true", help="keep restored trees")
    p.add_argument("--setup", action="store_true", help="run bench/setup.sh if tools are missing")
    p.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="run nothing: print the tables of a saved run for --tools, in that order",
    )
    args = p.parse_args(argv)
    args.work = args.work.resolve()
    unknown = set(args.tools.split(",")) - TOOLS.keys()
    if unknown:
        p.error(f"unknown tools: {', '.join(sorted(unknown))}")
    return args


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def meta(args: argparse.Namespace, started: str) -> dict[str, object]:
    return {
        "started": started,
        "finished": now(),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "argv": sys.argv,
        "args": {k: str(v) for k, v in vars(args).items() if k != "password"},
    }


def load_tool_run(doc: dict[str, Any]) -> ToolRun:
    steps = {key: StepResult(**step) for key, step in doc["steps"].items()}
    return ToolRun(
        doc["name"], doc["exe"], doc["version"], steps, doc["repo_bytes"], doc["restore_verified"]
    )


def load_results(path: Path, names: Sequence[str]) -> list[DatasetRun]:
    """Datasets of a saved run with the median results of ``names``, in that order."""
    loaded = []
    summary = ("name", "scale", "seed", "files", "bytes", "files_after_mutate")
    for doc in json.loads(path.read_text())["datasets"]:
        ds = DatasetRun(
            **{k: doc[k] for k in summary}, bytes_after_mutate=doc["bytes_after_mutate"]
        )
        ds.mutation = doc["mutation"]
        ds.tools = {n: load_tool_run(doc["tools"][n]) for n in names if n in doc["tools"]}
        if ds.tools:
            loaded.append(ds)
    return loaded


def benchmark(args: argparse.Namespace, names: Sequence[str]) -> list[DatasetRun]:
    started = now()
    exes = preflight(names, args.ripcord, args.setup)
    shutil.rmtree(args.work / "home", ignore_errors=True)
    env = bench_env(args.work, args.password)
    specs = [TOOLS[n] for n in names]
    datasets = DATASETS if args.dataset == "all" else (args.dataset,)
    results = [bench_dataset(d, args, specs, exes, env) for d in datasets]
    json_out: Path = args.json_out or args.work / "results.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta(args, started), "datasets": [dataclasses.asdict(ds) for ds in results]}
    json_out.write_text(json.dumps(payload, indent=2) + "\n")
    log(f"results: {json_out}")
    return results


def stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with `&`
    signal.signal(signal.SIGTERM, stop)  # so that wait_or_kill ends the running step
    args = parse_args(argv)
    names = args.tools.split(",")
    results = load_results(args.from_json, names) if args.from_json else benchmark(args, names)
    report = "\n".join(dataset_report(ds) for ds in results)
    print(report)
    if args.md_out:
        args.md_out.write_text(report)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        log("interrupted")
        raise SystemExit(130) from None
