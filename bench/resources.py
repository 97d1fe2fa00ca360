#!/usr/bin/env python3
"""Peak memory of ripcord backing up the shapes that break naive backup tools.

Three sources, each backed up into a fresh local repository by the installed
binary, then restored (and the restore compared); the peak RSS of each process
is read from the kernel (wait4's ru_maxrss), the time from the wall clock, and
the disk each result takes (the repository after a backup, the restored tree
after a restore) from st_blocks, so a sparse file restored whole shows:

- a sparse file of 50 GiB (nothing on disk, all of it zeros to read);
- a file of 10 million zero bytes;
- a directory with 1 million empty files (synthetic: one level, names f0000000...),
  backed up three times: the first, again with no change, and after one file is added
  in the middle (the repository's growth is what that one file cost), then restored.

`--restic` runs restic on the same source beside it (restic 0.14 cannot restore a
file sparse, so the sparse file is read back with `restic dump` to /dev/null
instead of restored, which would write 50 GiB). A failed step is recorded and the
run goes on. `--scale` shrinks the sparse file and the directory (not the 10 MB
file). The scaled-down versions run in CI (tests/integration/test_resources.py).

    python3 bench/resources.py --restic        # the issue's sizes (~1 h, 1M inodes)
    python3 bench/resources.py --scale 0.05    # quick
    python3 bench/resources.py --cases entries --scale 0.2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SPARSE = 50 << 30
ZEROS = 10_000_000
ENTRIES = 1_000_000
PASSWORD = "bench-resources"


@dataclass(frozen=True)
class Run:
    what: str
    seconds: float
    peak_rss_mib: float
    disk_mib: float = 0.0  # the repository after a backup, the restored tree after a restore
    error: str = ""


@dataclass(frozen=True)
class Case:
    key: str
    what: str
    make: Callable[[Path], Path]
    huge: bool = False  # restic would write it whole on restore: read it with dump
    again: Callable[[Path], None] | None = None  # a change for a third backup, after a second


def add_one(root: Path) -> None:
    """One more empty file, named to sort into the middle of many_entries' names."""
    names = sorted(os.listdir(root))
    os.close(os.open(root / (names[len(names) // 2] + "a"), os.O_CREAT | os.O_WRONLY, 0o644))


def remove_added(root: Path) -> None:
    for name in os.listdir(root):
        if name.endswith("a"):
            os.unlink(root / name)


def ripcord() -> str:
    exe = Path(sys.executable).parent / "ripcord"
    found = str(exe) if exe.exists() else shutil.which("ripcord")
    if not found:
        sys.exit("ripcord is not installed beside this python, nor on PATH")
    return found


def allocated_mib(root: Path) -> float:
    """What `du` says: the blocks allocated under `root` (holes take none)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            total += os.lstat(Path(dirpath) / f).st_blocks * 512
    return total / (1 << 20)


def measured(what: str, argv: list[str], env: dict[str, str], disk: Path | None = None) -> Run:
    """Run `argv` to its end; its wall time and the peak RSS the kernel saw."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode() if proc.stderr else ""  # before wait: a full pipe blocks
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    failed = f"exit {code}: {err.strip().splitlines()[-1] if err.strip() else ''}" if code else ""
    on_disk = allocated_mib(disk) if disk is not None and disk.exists() else 0.0
    run = Run(what, seconds, usage.ru_maxrss / 1024, on_disk, failed)
    print(
        f"{run.what}: {run.seconds:.1f} s, {run.peak_rss_mib:.0f} MiB, "
        f"{run.disk_mib:.2f} MiB on disk {run.error}",
        flush=True,
    )
    return run


def sparse_file(root: Path, size: int) -> Path:
    root.mkdir(parents=True)
    with open(root / "sparse.img", "wb") as f:
        f.truncate(size)
    return root


def zeros_file(root: Path, size: int) -> Path:
    root.mkdir(parents=True)
    (root / "zeros.bin").write_bytes(bytes(size))
    return root


def many_entries(root: Path, count: int) -> Path:
    root.mkdir(parents=True)
    for i in range(count):
        os.close(os.open(root / f"f{i:07}", os.O_CREAT | os.O_WRONLY, 0o644))
    return root


def same_sizes(a: Path, b: Path) -> bool:
    """Every file of `a` is in `b` with its size (the content of these sources is all
    zeros, and restore --verify proved every hash)."""
    for dirpath, _dirs, files in os.walk(a):
        rel = Path(dirpath).relative_to(a)
        for f in files:
            there = b / rel / f
            if not there.exists() or os.stat(Path(dirpath) / f).st_size != there.stat().st_size:
                return False
    return True


def cases(scale: float) -> list[Case]:
    sparse, entries = int(SPARSE * scale), int(ENTRIES * scale)
    return [
        Case(
            "sparse",
            f"sparse file of {sparse / (1 << 30):.1f} GiB",
            lambda p: sparse_file(p, sparse),
            huge=True,
        ),
        Case("zeros", f"file of {ZEROS:,} zero bytes", lambda p: zeros_file(p, ZEROS)),
        Case(
            "entries",
            f"directory of {entries:,} entries",
            lambda p: many_entries(p, entries),
            again=add_one,
        ),
    ]


def ripcord_runs(case: Case, src: Path, work: Path) -> list[Run]:
    exe = ripcord()
    env = {
        **os.environ,
        "RIPCORD_PASSWORD": PASSWORD,
        "RIPCORD_CACHE_DIR": str(work / "cache"),
        "RIPCORD_NO_PROGRESS": "1",
    }
    repo = ["-r", str(work / "repo")]
    init = [exe, *repo, "init", "--kdf-iterations", "1", "--kdf-memory-mib", "8"]
    subprocess.run(init, env=env, check=True, capture_output=True)
    backup = [exe, *repo, "backup", str(src)]
    runs = [measured(f"ripcord backup: {case.what}", backup, env, work / "repo")]
    runs += backups_again(case, src, "ripcord", backup, env, work / "repo")
    target = work / "out"
    restore = [exe, *repo, "restore", "latest", "--target", str(target), "--verify"]
    run = measured(f"ripcord restore: {case.what}", restore, env, target)
    if not run.error and not same_sizes(src, target / src.relative_to("/")):
        run = Run(run.what, run.seconds, run.peak_rss_mib, run.disk_mib, "restored tree differs")
    shutil.rmtree(work)
    return [*runs, run]


def backups_again(
    case: Case, src: Path, tool: str, argv: list[str], env: dict[str, str], repo: Path
) -> list[Run]:
    """For a case with `again`: a second backup with nothing changed, and a third after
    the change (undone at the end of the case, by `bench`)."""
    if case.again is None:
        return []
    runs = [measured(f"{tool} backup, no change: {case.what}", argv, env, repo)]
    case.again(src)
    runs.append(measured(f"{tool} backup, one file added: {case.what}", argv, env, repo))
    return runs


def restic_runs(case: Case, src: Path, work: Path) -> list[Run]:
    exe = shutil.which("restic")
    if exe is None:
        return [Run(f"restic: {case.what}", 0, 0, 0, "restic is not installed")]
    env = {
        **os.environ,
        "RESTIC_PASSWORD": PASSWORD,
        "RESTIC_REPOSITORY": str(work / "repo"),
        "RESTIC_CACHE_DIR": str(work / "cache"),
    }
    subprocess.run([exe, "init"], env=env, check=True, capture_output=True)
    backup = [exe, "backup", "-q", str(src)]
    runs = [measured(f"restic backup: {case.what}", backup, env, work / "repo")]
    runs += backups_again(case, src, "restic", backup, env, work / "repo")
    if case.huge:
        files = [str(p) for p in sorted(src.iterdir())]
        dump = [exe, "dump", "latest", *files[:1]]
        runs.append(measured(f"restic dump > /dev/null: {case.what}", dump, env))
    else:
        target = work / "out"
        restore = [exe, "restore", "latest", "--target", str(target)]
        runs.append(measured(f"restic restore: {case.what}", restore, env, target))
    shutil.rmtree(work)
    return runs


def bench(work: Path, scale: float, keys: set[str], restic: bool) -> list[Run]:
    runs = []
    for case in cases(scale):
        if case.key not in keys:
            continue
        src = case.make(work / case.key / "src")
        runs += ripcord_runs(case, src, work / case.key / "ripcord")
        remove_added(src)
        if restic:
            runs += restic_runs(case, src, work / case.key / "restic")
        shutil.rmtree(work / case.key)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="of the sparse file and directory")
    ap.add_argument("--work", type=Path, help="where to build the sources (default: a temp dir)")
    ap.add_argument("--restic", action="store_true", help="run restic on the same sources")
    ap.add_argument("--cases", default="sparse,zeros,entries", help="comma-separated subset")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ripcord-resources-", dir=args.work))
    try:
        runs = bench(work, args.scale, set(args.cases.split(",")), args.restic)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| run | seconds | peak RSS (MiB) | disk (MiB) |\n| --- | ---: | ---: | ---: |")
    for r in runs:
        failed = f" **failed**: {r.error}" if r.error else ""
        print(f"| {r.what}{failed} | {r.seconds:.1f} | {r.peak_rss_mib:.0f} | {r.disk_mib:.2f} |")


if __name__ == "__main__":
    main()
