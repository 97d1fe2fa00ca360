#!/usr/bin/env python3
"""Peak RSS of a no-change backup against a repository indexing 2 million blobs.

Makes a real repository, backs up a small directory, then adds synthetic index
files (in the repository's own format) listing N random blobs in fake packs,
so the index is as large as a big repository's while the backup stays small.
Prints peak RSS of a no-change backup with and without the big index, and the
index cache's bytes per blob.

    .venv/bin/python bench/index_rss.py --blobs 2000000
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ripcord.repository import Repository
from ripcord.repository.crypto import content_id
from ripcord.repository.index import encode_index_file
from ripcord.repository.pack import DATA, BlobEntry, Frame
from ripcord.storage import LocalStore

PER_FILE = 100_000
PER_PACK = 5_000


def peak_rss_kib(argv: list[str], env: dict[str, str]) -> tuple[int, float]:
    done = subprocess.run(
        ["/usr/bin/time", "-v", *argv], env=env, capture_output=True, text=True, check=True
    )
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])  # type: ignore[index]
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    assert wall is not None
    secs = int(wall[1] or 0) * 3600 + int(wall[2]) * 60 + float(wall[3])
    return rss, secs


def add_synthetic_index(repo_dir: Path, password: bytes, blobs: int) -> None:
    repo = Repository.open(LocalStore(repo_dir), password)
    try:
        written = 0
        while written < blobs:
            packs = []
            n_file = min(PER_FILE, blobs - written)
            for start in range(0, n_file, PER_PACK):
                count = min(PER_PACK, n_file - start)
                entries = tuple(BlobEntry(os.urandom(32), DATA, i * 100, 100) for i in range(count))
                packs.append((os.urandom(32).hex(), [Frame(0, count * 100 + 45, entries)]))
            data = encode_index_file(repo.key, packs)
            repo.store.put(f"index/{content_id(data)}", data)
            written += n_file
    finally:
        repo.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--blobs", type=int, default=2_000_000)
    ap.add_argument(
        "--ripcord", default=shutil.which("ripcord") or str(Path(sys.executable).parent / "ripcord")
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ripcord-index-rss-") as tmp:
        t = Path(tmp)
        src = t / "src"
        for d in range(50):
            (src / f"d{d}").mkdir(parents=True)
            for f in range(40):
                (src / f"d{d}" / f"f{f}.txt").write_text(f"file {d}/{f}\n" * 20)
        env = {
            **os.environ,
            "RIPCORD_PASSWORD": "bench",
            "RIPCORD_CACHE_DIR": str(t / "cache"),
            "RIPCORD_NO_PROGRESS": "1",
        }
        rc = [args.ripcord, "-r", str(t / "repo")]
        subprocess.run([*rc, "init"], env=env, check=True, capture_output=True)
        subprocess.run([*rc, "backup", str(src)], env=env, check=True, capture_output=True)
        small_rss, small_wall = peak_rss_kib([*rc, "backup", str(src)], env)
        add_synthetic_index(t / "repo", b"bench", args.blobs)
        sync_rss, sync_wall = peak_rss_kib([*rc, "backup", str(src)], env)  # absorbs the index
        big_rss, big_wall = peak_rss_kib([*rc, "backup", str(src)], env)
        cache = sum(p.stat().st_size for p in (t / "cache").rglob("*") if p.is_file())
        rows = [
            ("blobs in index", f"{args.blobs:,}"),
            ("no-change backup, small index", f"{small_rss / 1024:.1f} MiB, {small_wall:.2f} s"),
            ("backup absorbing the new index", f"{sync_rss / 1024:.1f} MiB, {sync_wall:.2f} s"),
            ("no-change backup, big index", f"{big_rss / 1024:.1f} MiB, {big_wall:.2f} s"),
            ("index cache on disk", f"{cache / args.blobs:.1f} bytes per blob"),
            ("RSS growth per blob", f"{(big_rss - small_rss) * 1024 / args.blobs:.2f} bytes"),
        ]
        for label, value in rows:
            print(f"{label + ':':34} {value}")


if __name__ == "__main__":
    main()
