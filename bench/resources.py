#!/usr/bin/env python3
"""Peak memory of ripcord backing up the shapes that break naive backup tools.

Three sources, each backed up into a fresh local repository by the installed
binary, then restored (and the restore compared); the peak RSS of each process
is read from the kernel (wait4's ru_maxrss), the time from the wall clock:

- a sparse file of 50 GiB (nothing on disk, all of it zeros to read);
- a file of 10 million zero bytes;
- a directory with 1 million empty files (synthetic: one level, names f0000000...).

`--scale` shrinks the sparse file and the directory (not the 10 MB file). The
scaled-down versions run in CI (tests/integration/test_resources.py).

    python3 bench/resources.py                 # the issue's sizes (~1 h, 1M inodes)
    python3 bench/resources.py --scale 0.05    # quick
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


def ripcord() -> str:
    exe = Path(sys.executable).parent / "ripcord"
    found = str(exe) if exe.exists() else shutil.which("ripcord")
    if not found:
        sys.exit("ripcord is not installed beside this python, nor on PATH")
    return found


def measured(what: str, argv: list[str], env: dict[str, str]) -> Run:
    """Run `argv` to its end; its wall time and the peak RSS the kernel saw."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{what}: {' '.join(argv)} failed: {err}")
    return Run(what, seconds, usage.ru_maxrss / 1024)


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
            if os.stat(Path(dirpath) / f).st_size != os.stat(b / rel / f).st_size:
                return False
    return True


def bench(work: Path, scale: float) -> list[Run]:
    exe = ripcord()
    cases: dict[str, Callable[[Path], Path]] = {
        f"sparse file of {SPARSE * scale / (1 << 30):.1f} GiB": lambda p: sparse_file(
            p, int(SPARSE * scale)
        ),
        f"file of {ZEROS:,} zero bytes": lambda p: zeros_file(p, ZEROS),
        f"directory of {int(ENTRIES * scale):,} entries": lambda p: many_entries(
            p, int(ENTRIES * scale)
        ),
    }
    runs = []
    for i, (what, make) in enumerate(cases.items()):
        case = work / f"case{i}"
        src = make(case / "src")
        env = {
            **os.environ,
            "RIPCORD_PASSWORD": PASSWORD,
            "RIPCORD_CACHE_DIR": str(case / "cache"),
            "RIPCORD_NO_PROGRESS": "1",
        }
        repo = ["-r", str(case / "repo")]
        init = [exe, *repo, "init", "--kdf-iterations", "1", "--kdf-memory-mib", "8"]
        subprocess.run(init, env=env, check=True, capture_output=True)
        runs.append(measured(f"backup: {what}", [exe, *repo, "backup", str(src)], env))
        target = case / "out"
        restore = [exe, *repo, "restore", "latest", "--target", str(target), "--verify"]
        runs.append(measured(f"restore: {what}", restore, env))
        if not same_sizes(src, target / src.relative_to("/")):
            sys.exit(f"{what}: restored tree differs")
        shutil.rmtree(case)
        print(f"{runs[-2].what}: {runs[-2].seconds:.1f} s, {runs[-2].peak_rss_mib:.0f} MiB")
        print(f"{runs[-1].what}: {runs[-1].seconds:.1f} s, {runs[-1].peak_rss_mib:.0f} MiB")
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="of the sparse file and directory")
    ap.add_argument("--work", type=Path, help="where to build the sources (default: a temp dir)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ripcord-resources-", dir=args.work))
    try:
        runs = bench(work, args.scale)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| run | seconds | peak RSS (MiB) |\n| --- | ---: | ---: |")
    for r in runs:
        print(f"| {r.what} | {r.seconds:.1f} | {r.peak_rss_mib:.0f} |")


if __name__ == "__main__":
    main()
