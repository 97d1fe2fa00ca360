#!/usr/bin/env python3
"""Time `ripcord mount` against `ripcord restore`, and against `restic mount`.

Backs up one file of --mib MiB of random bytes and a tree of --files small files
with ripcord and restic, then, each cold (page cache dropped, a fresh mount):

- dd of the big file through the mount (bs=1M) against a restore of that file;
- `ls -lR` of the small-file tree through the mount.

Run as root (mounting, dropping caches), with the project venv:

    .venv/bin/python bench/mount.py                  # 200 MiB and 10k files
    .venv/bin/python bench/mount.py --mib 20 --files 1000

restic 0.14's FUSE library runs `fusermount`; Debian's fuse3 has only
`fusermount3`, so restic gets a PATH where one is the other.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
RIPCORD = str(HERE.parent / ".venv" / "bin" / "ripcord")


def drop_caches() -> None:
    subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=False)


def timed(argv: list[str] | str, env: dict[str, str]) -> float:
    """Wall seconds of one cold run."""
    drop_caches()
    start = time.perf_counter()
    subprocess.run(
        argv,
        env=env,
        check=True,
        shell=isinstance(argv, str),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def make_data(src: Path, mib: int, files: int) -> None:
    rng = random.Random(1)
    src.mkdir(parents=True)
    with open(src / "big.bin", "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(1 << 20))
    for i in range(files):
        d = src / "tree" / f"d{i // 100:03}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05}.txt").write_bytes(rng.randbytes(rng.randint(100, 4000)))


@contextmanager
def mounted(argv: list[str], mnt: Path, env: dict[str, str]) -> Iterator[None]:
    if mnt.exists():
        shutil.rmtree(mnt)
    mnt.mkdir()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not os.path.ismount(mnt):
            if proc.poll() is not None:
                raise SystemExit(
                    f"{argv[0]} mount failed: {proc.stderr.read() if proc.stderr else ''}"
                )
            time.sleep(0.05)
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def cold_mount(argv: list[str], mnt: Path, env: dict[str, str], work: Callable[[], float]) -> float:
    drop_caches()
    with mounted(argv, mnt, env):
        return work()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mib", type=int, default=200)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ripcord-bench-mount"))
    ap.add_argument("--restic", default=shutil.which("restic"))
    args = ap.parse_args()

    work: Path = args.work
    if work.exists():
        shutil.rmtree(work)
    src, mnt = work / "src", work / "mnt"
    make_data(src, args.mib, args.files)
    shim = work / "bin"
    shim.mkdir()
    (shim / "fusermount").symlink_to(shutil.which("fusermount3") or "/usr/bin/fusermount3")
    env = {
        **os.environ,
        "RIPCORD_PASSWORD": "bench",
        "RESTIC_PASSWORD": "bench",
        "RIPCORD_CACHE_DIR": str(work / "cache"),
        "RIPCORD_NO_PROGRESS": "1",
        "XDG_CACHE_HOME": str(work / "xdg"),
        "PATH": f"{shim}:{os.environ['PATH']}",
    }
    rc = [RIPCORD, "-r", str(work / "ripcord")]
    subprocess.run([*rc, "init"], env=env, check=True, capture_output=True)
    subprocess.run([*rc, "backup", str(src)], env=env, check=True, capture_output=True)
    big = src / "big.bin"
    rows: list[tuple[str, str, float, str]] = []

    def dd(path: Path) -> float:
        return timed(["dd", f"if={path}", "of=/dev/null", "bs=1M"], env)

    def ls_r(path: Path) -> float:
        return timed(f"ls -lR {path} > /dev/null", env)

    inside = mnt / "snapshots" / "latest" / src.relative_to("/")
    t = timed([*rc, "restore", "latest", str(big), "--target", str(work / "out")], env)
    rows.append(("ripcord", "restore big.bin", t, f"{args.mib / t:.0f} MiB/s"))
    t = cold_mount([*rc, "mount", str(mnt)], mnt, env, lambda: dd(inside / "big.bin"))
    rows.append(("ripcord", "dd big.bin through the mount", t, f"{args.mib / t:.0f} MiB/s"))
    t = cold_mount([*rc, "mount", str(mnt)], mnt, env, lambda: ls_r(inside / "tree"))
    rows.append(("ripcord", f"ls -lR of {args.files} files through the mount", t, ""))

    if args.restic:
        rs = [args.restic, "-r", str(work / "restic")]
        subprocess.run([*rs, "init"], env=env, check=True, capture_output=True)
        subprocess.run([*rs, "backup", str(src)], env=env, check=True, capture_output=True)
        out = work / "restic-out"
        t = timed([*rs, "restore", "latest", "--include", str(big), "--target", str(out)], env)
        rows.append(("restic", "restore big.bin", t, f"{args.mib / t:.0f} MiB/s"))
        t = cold_mount([*rs, "mount", str(mnt)], mnt, env, lambda: dd(inside / "big.bin"))
        rows.append(("restic", "dd big.bin through the mount", t, f"{args.mib / t:.0f} MiB/s"))
        t = cold_mount([*rs, "mount", str(mnt)], mnt, env, lambda: ls_r(inside / "tree"))
        rows.append(("restic", f"ls -lR of {args.files} files through the mount", t, ""))

    print("| tool | step | wall s | rate |")
    print("| --- | --- | ---: | ---: |")
    for tool, step, secs, rate in rows:
        print(f"| {tool} | {step} | {secs:.2f} | {rate} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
