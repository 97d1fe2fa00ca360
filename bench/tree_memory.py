#!/usr/bin/env python3
"""Where the memory of one big directory goes: tracemalloc of backup, restore or ls.

Runs the CLI in this process (the project venv's python) on one directory of N empty
files and prints, per entry, what is allocated where: when `save_tree` receives a tree
of more than 1,000 nodes, after each such tree is decoded, and (`--mark MIB`) when the
traced memory first passes a mark, to catch a peak between those. A second backup has
a parent (and costs something else): `setup` makes a fresh repository.

    .venv/bin/python bench/tree_memory.py setup 100000
    .venv/bin/python bench/tree_memory.py backup 100000 --mark 140
    .venv/bin/python bench/tree_memory.py restore 100000
    .venv/bin/python bench/tree_memory.py ls 100000
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import ripcord.archive.trees as trees
from ripcord.archive.node import Node, decode_tree_data
from ripcord.cli.main import cli
from ripcord.repository.repository import Repository

WORK = Path("/tmp/ripcord-tree-memory")
os.environ.update(
    RIPCORD_PASSWORD="tree-memory", RIPCORD_CACHE_DIR=str(WORK / "cache"), RIPCORD_NO_PROGRESS="1"
)
Snap = tuple[str, int, tracemalloc.Snapshot]


def run(repo: Path, *args: str) -> None:
    try:
        cli.main(["-r", str(repo), *args], standalone_mode=False)
    except SystemExit as e:
        if e.code:
            raise


def setup(n: int) -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    src = WORK / "src"
    src.mkdir(parents=True)
    for i in range(n):
        os.close(os.open(src / f"f{i:07}", os.O_CREAT | os.O_WRONLY, 0o644))
    run(WORK / "repo", "init", "--kdf-iterations", "1", "--kdf-memory-mib", "8")


def traced(mode: str, mark_mib: float, frames: int) -> list[Snap]:
    snaps: list[Snap] = []

    def snap(where: str) -> None:
        gc.collect()
        snaps.append((where, tracemalloc.get_traced_memory()[0], tracemalloc.take_snapshot()))

    save_tree = Repository.save_tree

    def saving(self: Repository, doc: Any) -> bytes:
        if len(doc["nodes"]) > 1000:
            snap("save_tree receives the big tree")
        return save_tree(self, doc)

    def decoding(data: bytes, what: str, derive: Any = None) -> list[Node]:
        nodes = decode_tree_data(data, what, derive)
        if len(nodes) > 1000:
            snap("the big tree decoded")
        return nodes

    def watch() -> None:
        while tracemalloc.is_tracing():
            if tracemalloc.get_traced_memory()[0] > mark_mib * 2**20:
                snaps.append(("past the mark", *tracemalloc.get_traced_memory()[:1],
                              tracemalloc.take_snapshot()))  # fmt: skip
                return
            time.sleep(0.005)

    Repository.save_tree = saving  # type: ignore[method-assign]
    vars(trees)["decode_tree_data"] = decoding  # what load_nodes calls, wherever imported
    tracemalloc.start(frames)
    if mark_mib:
        threading.Thread(target=watch, daemon=True).start()
    src = str(WORK / "src")
    if mode == "backup":
        run(WORK / "repo", "backup", src)
    elif mode == "restore":
        shutil.rmtree(WORK / "out", ignore_errors=True)
        run(WORK / "repo", "restore", "latest", "--target", str(WORK / "out"))
    else:
        run(WORK / "repo", "ls", "latest", src)
    _, peak = tracemalloc.get_traced_memory()
    snaps.append(("peak of the run", peak, tracemalloc.take_snapshot()))
    tracemalloc.stop()
    return snaps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["setup", "backup", "restore", "ls"])
    ap.add_argument("entries", type=int)
    ap.add_argument("--mark", type=float, default=0.0, help="MiB: snapshot when first past it")
    ap.add_argument("--top", type=int, default=8, help="allocation sites shown per snapshot")
    ap.add_argument("--frames", type=int, default=6, help="traceback depth kept")
    args = ap.parse_args()
    if args.mode == "setup":
        setup(args.entries)
        return
    n = args.entries
    for where, size, snapshot in traced(args.mode, args.mark, args.frames):
        print(f"== {where}: {size / 2**20:.1f} MiB traced, {size / n:.0f} bytes/entry")
        if where == "peak of the run":
            continue  # what is left at the end, not at the peak
        for stat in snapshot.statistics("traceback")[: args.top]:
            print(f"  {stat.size / n:6.0f} B/entry  {stat.count:9d} blocks")
            for line in stat.traceback.format()[-4:]:
                print(f"     {line}")


if __name__ == "__main__":
    main()
