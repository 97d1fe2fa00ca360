#!/usr/bin/env python3
"""`ripcord copy` against `restic copy`: the mixed set copied from a local repository to
another local one and to S3 (SeaweedFS), first whole, then again (nothing to do), then the
one snapshot taken after a mutation.

    .venv/bin/python bench/copy.py --scale 0.25
    .venv/bin/python bench/copy.py --scale 0.25 --tools ripcord --targets local
    .venv/bin/python bench/copy.py --scale 0.25 --ripcord /tmp/rc-pin/venv/bin/ripcord

Each tool first backs the set up twice into a local source repository (untimed; the
second backup after ``gen.mutate`` changed ~1 % of the files). For each target it then
makes a repository that shares the source's chunker parameters (`init --copy-params-from`,
restic's `init --from-repo --copy-chunker-params`) and times, under ``/usr/bin/time -v``
with a cold page cache (as bench/run.py's steps):

- copy 1: the first snapshot, whole;
- copy 2: the same again (the target holds it: nothing to send);
- copy 3: every snapshot (only the second is new: an incremental copy).

Then the latest snapshot is restored from the target and compared file by file with the
mutated source (untimed). Stored bytes are the target's size after copy 3 (du, or the sum of
the S3 objects); ripcord also says what it sent (`bytes_copied`, before compression).

It starts SeaweedFS from the test suite's fixture (tests/s3server.py), so it needs the
project venv. Ratios are the first tool over the other.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gen
import run
from run import MIB, StepResult, ToolRun, log

sys.path.insert(0, str(run.BENCH_DIR.parent))  # the test fixture that starts SeaweedFS
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, S3Server, Seaweed

TARGETS = ("local", "s3")
COPIES = (
    ("copy1", "copy 1 (first, whole)"),
    ("copy2", "copy 2 (again)"),
    ("copy3", "copy 3 (new)"),
)


@dataclass(frozen=True)
class CopySpec:
    """Command templates; {exe} {src} {dst} {snap} {target}."""

    init_src: tuple[str, ...]
    backup: tuple[str, ...]
    snapshots: tuple[str, ...]  # JSON list of objects with an "id"
    init_dst: tuple[str, ...]
    copy_one: tuple[str, ...]
    copy_all: tuple[str, ...]
    restore: tuple[str, ...]


SPECS = {
    "ripcord": CopySpec(
        init_src=("{exe}", "-r", "{src}", "init"),
        backup=("{exe}", "-r", "{src}", "backup", "{data}"),
        snapshots=("{exe}", "-r", "{src}", "snapshots", "--json"),
        init_dst=("{exe}", "-r", "{dst}", "init", "--copy-params-from", "{src}"),
        copy_one=("{exe}", "-r", "{src}", "copy", "--to", "{dst}", "--json", "{snap}"),
        copy_all=("{exe}", "-r", "{src}", "copy", "--to", "{dst}", "--json"),
        restore=("{exe}", "-r", "{dst}", "restore", "latest", "--target", "{target}"),
    ),
    "restic": CopySpec(
        init_src=("{exe}", "-r", "{src}", "init"),
        backup=("{exe}", "-r", "{src}", "backup", "{data}"),
        snapshots=("{exe}", "-r", "{src}", "snapshots", "--json"),
        init_dst=(
            "{exe}",
            "-r",
            "{dst}",
            "init",
            "--from-repo",
            "{src}",
            "--copy-chunker-params",
        ),
        copy_one=("{exe}", "-r", "{dst}", "copy", "--from-repo", "{src}", "{snap}"),
        copy_all=("{exe}", "-r", "{dst}", "copy", "--from-repo", "{src}"),
        restore=("{exe}", "-r", "{dst}", "restore", "latest", "--target", "{target}"),
    ),
}


@dataclass
class Outcome:
    """One tool's copies to one target."""

    steps: dict[str, StepResult] = dataclasses.field(default_factory=dict)
    stored: int | None = None  # the target's bytes after copy 3
    sent: dict[str, int] = dataclasses.field(default_factory=dict)  # ripcord: bytes_copied
    restore: str = ""


def quiet(cmd: Sequence[str], env: dict[str, str]) -> str:
    """Run an untimed setup command; its stdout, or SystemExit with its error."""
    done = subprocess.run(list(cmd), env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def s3_stored(server: S3Server, bucket: str) -> int:
    client: Any = server.client()
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sum(o["Size"] for page in pages for o in page.get("Contents", ()))
    finally:
        client.close()


def copy_to(
    tool: str,
    exe: str,
    target: str,
    first: str,
    values: dict[str, Any],
    server: S3Server | None,
    args: argparse.Namespace,
    env: dict[str, str],
) -> Outcome:
    spec, out = SPECS[tool], Outcome()
    bucket = server.new_bucket() if server is not None and target == "s3" else ""
    dst_dir = args.work / "repos" / f"{tool}-{target}"
    shutil.rmtree(dst_dir, ignore_errors=True)
    if target == "local":
        dst = str(dst_dir)
    else:
        assert server is not None
        host = server.endpoint.removeprefix("http://")
        dst = server.url(bucket, tool) if tool == "ripcord" else f"s3:http://{host}/{bucket}/{tool}"
    v = {**values, "exe": exe, "dst": dst, "snap": first}
    quiet(run.render(spec.init_dst, **v), env)
    for key, label in COPIES:
        template = spec.copy_one if key != "copy3" else spec.copy_all
        cmd = run.render(template, **v)
        logs = args.work / "logs" / target / tool / key
        res = run.run_timed(cmd, env, None, logs, args.timeout, frozenset({0}))
        out.steps[key] = res
        log(f"[{target}] {tool:8} {label:24} {run.describe(res)}")
        if res.status != "ok":
            return out
        if tool == "ripcord":
            doc = json.loads(logs.with_suffix(".out").read_text())
            out.sent[key] = int(doc["bytes_copied"])
    if server is None or target == "local":
        out.stored = run.repo_size(dst_dir)
    else:
        out.stored = s3_stored(server, bucket)
    restore_dir = run.fresh_dir(args.work / "restore" / f"{tool}-{target}")
    quiet(run.render(spec.restore, **v, target=restore_dir), env)
    out.restore = run.verify_restore(restore_dir, Path(values["data"]))
    shutil.rmtree(restore_dir, ignore_errors=True)
    return out


def sources(
    names: Sequence[str],
    exes: dict[str, str | None],
    data: Path,
    args: argparse.Namespace,
    env: dict[str, str],
) -> dict[str, tuple[dict[str, Any], str]]:
    """Each tool's source repository with two backups of `data` (mutated between them):
    its template values and the id of its first snapshot."""
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for name in names:
        exe = exes[name]
        if not exe:
            continue
        src = args.work / "repos" / f"{name}-source"
        shutil.rmtree(src, ignore_errors=True)
        values: dict[str, Any] = {"exe": exe, "src": src, "data": data}
        quiet(run.render(SPECS[name].init_src, **values), env)
        quiet(run.render(SPECS[name].backup, **values), env)
        out[name] = (values, "")
    mutation = gen.mutate(args.seed + 1000, data)
    log(f"mutated: {mutation}")
    for name, (values, _) in out.items():
        quiet(run.render(SPECS[name].backup, **values), env)
        listed = json.loads(quiet(run.render(SPECS[name].snapshots, **values), env))
        first = min(listed, key=lambda s: s["time"])["id"]
        out[name] = (values, first)
    return out


def report(
    results: dict[str, dict[str, Outcome]],
    names: Sequence[str],
    files: int,
    size: int,
    args: argparse.Namespace,
) -> str:
    lines = [
        f"### mixed — scale {args.scale}, seed {args.seed}: {files:,} files, {size / MIB:.1f} MiB",
        "",
    ]
    runs = {
        n: ToolRun(
            n, "", "", {f"{t}-{k}": s for t, o in results[n].items() for k, s in o.steps.items()}
        )
        for n in names
        if n in results
    }
    ordered = [runs[n] for n in names if n in runs]
    targets = [t for t in TARGETS if t in args.targets]
    rows = [
        (f"{t} {label}", run.step_metric(f"{t}-{k}", "wall_s", 1))
        for t in targets
        for k, label in COPIES
    ]
    lines += run.table("wall time, s", rows, ordered, 2)
    rows = [
        (f"{t} {label}", run.step_metric(f"{t}-{k}", "max_rss_kib", 1024))
        for t in targets
        for k, label in COPIES
    ]
    lines += run.table("peak RSS, MiB", rows, ordered, 0)
    stored_rows = []
    for t in targets:

        def stored(r: ToolRun, t: str = t) -> tuple[float | None, StepResult | None]:
            found = results[r.name].get(t)
            return (found.stored / MIB if found and found.stored else None), None

        stored_rows.append((f"{t}: target after copy 3", stored))
    lines += run.table("stored, MiB", stored_rows, ordered, 1)
    for n in names:
        for t, o in results.get(n, {}).items():
            sent = ", ".join(f"{k} {v / MIB:.1f} MiB" for k, v in o.sent.items())
            lines.append(
                f"- {n} → {t}: restore {o.restore or '—'}" + (f"; sent {sent}" if sent else "")
            )
    return "\n".join([*lines, ""])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=float, default=0.25, help="mixed set size factor (1.0 ≈ 1 GiB)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tools", default="ripcord,restic", help="ratios: the first over the other")
    p.add_argument("--targets", default="local,s3", help="comma list of local, s3")
    p.add_argument("--ripcord", help=f"ripcord executable (default: PATH, else {run.VENV_RIPCORD})")
    p.add_argument("--work", type=Path, default=run.BENCH_DIR / "work" / "copy")
    p.add_argument("--timeout", type=float, default=3600, help="per step, seconds")
    p.add_argument("--json-out", type=Path, help="default: WORK/results.json")
    p.add_argument("--md-out", type=Path, help="also write the tables here")
    p.add_argument("--password", default="ripcord-bench-password")
    args = p.parse_args(argv)
    args.work = args.work.resolve()
    args.targets = args.targets.split(",")
    if set(args.targets) - set(TARGETS) or set(args.tools.split(",")) - SPECS.keys():
        p.error("unknown tool or target")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.tools.split(",")
    started = run.now()
    exes = run.preflight(names, args.ripcord, setup=False)
    shutil.rmtree(args.work / "home", ignore_errors=True)
    env = run.bench_env(args.work, args.password)
    env.update(
        RIPCORD_FROM_PASSWORD=args.password,
        RIPCORD_TO_PASSWORD=args.password,
        RESTIC_FROM_PASSWORD=args.password,
        RIPCORD_NO_PROGRESS="1",
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
    )
    generated = args.work / "data" / f"mixed-{args.scale}-{args.seed}"
    if not generated.exists():  # made aside and renamed: an interrupted run leaves no half set
        log(f"generating the mixed set (scale {args.scale}, seed {args.seed}) in {generated}")
        partial = generated.with_name(generated.name + ".partial")
        gen.generate("mixed", args.seed, partial, args.scale)
        partial.rename(generated)
    data = args.work / "src"  # mutated by the run: a fresh copy each time
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(generated, data, symlinks=True)
    made = sources(names, exes, data, args, env)
    files, size = gen.tree_stats(data)
    results: dict[str, dict[str, Outcome]] = {n: {} for n in made}
    weed = Seaweed(args.work / "servers" / "seaweedfs") if "s3" in args.targets else None
    with contextlib.ExitStack() as stack:
        server = None
        if weed is not None:
            shutil.rmtree(weed.workdir / "data", ignore_errors=True)
            (weed.workdir / "data").mkdir(parents=True)
            stack.callback(weed.stop)
            server = weed.start()
        for target in TARGETS:
            if target not in args.targets:
                continue
            for name, (values, first) in made.items():
                exe = exes[name]
                assert exe
                results[name][target] = copy_to(name, exe, target, first, values, server, args, env)
    text = report(results, names, files, size, args)
    print(text)
    if args.md_out:
        args.md_out.write_text(text)
    json_out: Path = args.json_out or args.work / "results.json"
    payload = {
        "meta": run.meta(args, started),
        "files": files,
        "bytes": size,
        "results": {
            n: {t: dataclasses.asdict(o) for t, o in r.items()} for n, r in results.items()
        },
    }
    json_out.write_text(json.dumps(payload, indent=2) + "\n")
    log(f"results: {json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
