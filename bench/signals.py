#!/usr/bin/env python3
"""What taking the change guard's per-file signals costs a backup.

    .venv/bin/python bench/signals.py cpu DIR
        CPU seconds to take every file's signal in DIR as a backup does (files under
        256 KiB whole, larger ones in 1 MiB pieces), less what the loop feeding them
        costs alone: as a first backup takes them (no ransom-note probe) and as a later
        backup takes them of new files (with it), then split into compressing, telling
        the kind, looking for notes and telling text in bodies; with the kinds found.
        One thread, so no other work competes: the floor of what a backup pays.

    python3 bench/signals.py ab --data DIR --rounds 9 NAME=RIPCORD NAME=RIPCORD ...
        First backups of DIR by each ripcord executable in turn (a fresh repository
        each, page cache dropped before each, as root), round after round so a busy
        machine's drift hits every one alike; medians and min-max of wall and CPU time.

    PYTHONPATH=PINNED/src .venv/bin/python bench/signals.py inside --data DIR --rounds 3
        First backups of DIR in this process (ripcord from PYTHONPATH), each into a fresh
        repository after dropping the page cache: the CPU the process spent, and the
        part of it spent taking signals on all threads (Sampler.signal, and signal_of
        where a backup takes a one-chunk file's signal whole), less the timer's own
        cost. What the other two cannot tell apart: how much of a backup's CPU the
        signals are, on a machine too busy for a few tenths of a second to show in `ab`.

    PYTHONPATH=PINNED/src .venv/bin/python bench/signals.py walk REPO [REPO ...]
        CPU of the change guard's walk of each repository's newest snapshot judged as a
        first backup (guard/changes.py measure(), no parent: every file decoded and
        looked at), best of 5: run on a repository backed up with signals and on one
        without, it tells what reading the signals back costs. Make each REPO with
        RIPCORD_PASSWORD=bench: `ripcord -r REPO init` and `ripcord -r REPO backup DIR`.

    .venv/bin/python bench/signals.py tiny /etc /usr/share /usr/lib
        The data behind the smallest signals: how often random bytes of 4 to 128 bytes
        read as text (an encrypted tiny text file would keep its kind), and what the
        files under 128 bytes found under the given folders are: text, data or a known
        format, and what zstd makes of the data ones.

Make DIR with `python3 bench/gen.py mixed --seed 1 --out DIR`; pin each version as
bench/README.md says.
"""

from __future__ import annotations

import argparse
import collections
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MIB = 1 << 20
CHUNK_MIN = 256 * 1024  # the chunker's default min_size: smaller files are one chunk


def files_under(root: Path) -> list[bytes]:
    out = []
    for d, _, names in os.walk(root):
        for name in sorted(names):
            out.append(Path(d, name).read_bytes())
    return out


def cpu(root: Path) -> None:
    from ripcord.archive import backup, signals

    data = files_under(root)
    spent: dict[str, float] = collections.defaultdict(float)
    # versions before the note probe was limited to new files take no `notes`; a backup
    # takes a one-chunk file's signal whole, without a Sampler, since it imports signal_of
    limited = "notes" in inspect.signature(signals.Sampler).parameters
    whole = hasattr(backup, "signal_of")

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            t = time.thread_time()
            try:
                return fn(*args)
            finally:
                spent[name] += time.thread_time() - t

        return wrapper

    def take_all(notes: bool, sampler_of: Callable[..., Any] = signals.Sampler) -> list[Any]:
        out = []
        idle = sampler_of is _Idle
        for content in data:
            if whole and len(content) < CHUNK_MIN:
                out.append(None if idle else signals.signal_of(content, notes))
                continue
            sampler = sampler_of(len(content), notes) if limited else sampler_of(len(content))
            step = len(content) if len(content) < CHUNK_MIN else MIB
            for i in range(0, len(content), max(step, 1)):
                sampler.feed(content[i : i + step])
            out.append(sampler.signal())
        return out

    def best_of_3(notes: bool, sampler_of: Callable[..., Any] = signals.Sampler) -> float:
        best = float("inf")
        for _ in range(3):
            t = time.thread_time()
            take_all(notes, sampler_of)
            best = min(best, time.thread_time() - t)
        return best

    total = sum(len(c) for c in data)
    print(f"{len(data)} files, {total / MIB:.1f} MiB under {root}")
    floor = best_of_3(True, _Idle)
    print(f"the loop alone (feeding a sampler that does nothing): {floor:.3f} s CPU")
    for notes, what in ((False, "a first backup (no note probe)"), (True, "files new to a source")):
        if notes or limited:
            best = best_of_3(notes) - floor
            print(f"signals, {what}: {best:.3f} s CPU over the loop (best of 3),", end=" ")
            print(f"{best / len(data) * 1e6:.1f} µs a file")
    names = ("compressibility", "kind_of", "is_note", "is_text")
    parts = {name: getattr(signals, name) for name in names if hasattr(signals, name)}
    for name, fn in parts.items():  # the parts, timed apart in one more run
        setattr(signals, name, timed(name, fn))
    sigs = take_all(True)
    for name, fn in parts.items():
        setattr(signals, name, fn)
    print("files new to a source, by part (one more run, timed apart):")
    for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name}{' (bodies, text after a magic number)' * (name == 'is_text')}: {s:.3f} s")
    kinds = collections.Counter(s.kind for s in sigs if s is not None)
    print("kinds:", ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print(
        "no signal:", sum(s is None for s in sigs), " notes:", sum(bool(s and s.note) for s in sigs)
    )


class _Idle:
    """A sampler that does nothing: what the harness loop costs by itself."""

    def __init__(self, *args: Any) -> None:
        pass

    def feed(self, data: bytes) -> None:
        pass

    def signal(self) -> None:
        return None


def timed_backup(exe: str, data: Path, work: Path, name: str) -> tuple[float, float]:
    env = {**os.environ, "RIPCORD_PASSWORD": "bench", "RIPCORD_NO_PROGRESS": "1"}
    env["RIPCORD_CACHE_DIR"] = str(work / f"cache-{name}")
    repo = work / f"repo-{name}"
    subprocess.run(["rm", "-rf", str(repo), env["RIPCORD_CACHE_DIR"]], check=True)
    init = [exe, "-r", str(repo), "init", "--kdf-iterations", "1", "--kdf-memory-mib", "1"]
    subprocess.run(init, env=env, check=True, capture_output=True)
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    out = work / "time.out"
    cmd = ["/usr/bin/time", "-f", "%e %U %S", "-o", str(out), exe, "-r", str(repo)]
    subprocess.run([*cmd, "backup", str(data)], env=env, check=True, capture_output=True)
    wall, user, sys_ = (float(x) for x in out.read_text().split())
    return wall, user + sys_


def ab(data: Path, rounds: int, tools: list[tuple[str, str]]) -> None:
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in tools}
    with tempfile.TemporaryDirectory(prefix="rc-signals-") as tmp:
        for r in range(rounds):
            for name, exe in tools:
                load = os.getloadavg()[0]
                wall, cpu_s = timed_backup(exe, data, Path(tmp), name)
                runs[name].append((wall, cpu_s, load))
                print(
                    f"round {r + 1} {name}: {wall:.2f} s wall, {cpu_s:.2f} s CPU, load {load:.1f}"
                )
    first = tools[0][0]
    base_wall = statistics.median(x[0] for x in runs[first])
    base_cpu = statistics.median(x[1] for x in runs[first])
    print(f"\n| {rounds} rounds | wall median | min-max | CPU median | min-max | vs {first} |")
    print("|---|---:|---:|---:|---:|---|")
    for name, rs in runs.items():
        w, c = sorted(x[0] for x in rs), sorted(x[1] for x in rs)
        mw, mc = statistics.median(w), statistics.median(c)
        print(
            f"| {name} | {mw:.2f} | {w[0]:.2f}-{w[-1]:.2f} | {mc:.2f} | {c[0]:.2f}-{c[-1]:.2f} "
            f"| wall {100 * (mw / base_wall - 1):+.1f} %, CPU {mc - base_cpu:+.2f} s |"
        )
    print(f"\nCPU against {first} in the same round (rounds run each tool in turn):")
    for name, rs in list(runs.items())[1:]:
        d = [x[1] - b[1] for x, b in zip(rs, runs[first], strict=True)]
        q = statistics.quantiles(d, n=4) if len(d) > 1 else d * 3
        err = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else 0.0
        mean = statistics.mean(d)
        print(
            f"  {name}: median {statistics.median(d):+.2f} s"
            f" (quartiles {q[0]:+.2f} … {q[-1]:+.2f}),"
            f" mean {mean:+.2f} ± {err:.2f} s ({100 * mean / base_cpu:+.1f} %)"
        )


def inside(data: Path, rounds: int) -> None:
    import contextlib
    import io
    import resource

    from ripcord.archive import backup, signals
    from ripcord.cli.main import run

    spent: list[float] = []  # list.append is atomic: the read workers call it too
    walker: list[float] = []  # the part on the walking (main) thread: files streamed there
    main = threading.main_thread()

    def timing(fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            t = time.thread_time()
            try:
                return fn(*args)
            finally:
                spent.append(time.thread_time() - t)
                if threading.current_thread() is main:
                    walker.append(spent[-1])

        return timed

    idle = timing(lambda self: None)
    t = time.thread_time()
    for _ in range(100_000):  # the timer's own cost, as the wrapper pays it
        idle(None)
    timer = (time.thread_time() - t) / 100_000
    del spent[:]
    signals.Sampler.signal = timing(signals.Sampler.signal)  # type: ignore[method-assign]
    if hasattr(backup, "signal_of"):  # one-chunk files, signalled whole without a Sampler
        backup.signal_of = timing(backup.signal_of)
    sys.setswitchinterval(0.0005)  # as `ripcord` itself does (cli/main.py)
    os.environ.update(RIPCORD_PASSWORD="bench", RIPCORD_NO_PROGRESS="1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="rc-signals-") as tmp:
        for r in range(rounds):
            repo = f"{tmp}/repo{r}"
            os.environ["RIPCORD_CACHE_DIR"] = f"{tmp}/cache{r}"
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                init = ["-r", repo, "init", "--kdf-iterations", "1", "--kdf-memory-mib", "1"]
                assert run(init) == 0, out.getvalue()
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            del spent[:], walker[:]
            before = resource.getrusage(resource.RUSAGE_SELF)
            with contextlib.redirect_stdout(out):
                assert run(["-r", repo, "backup", str(data)]) == 0, out.getvalue()
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            sig = sum(spent) - timer * len(spent)
            rows.append((cpu_s, sig, len(spent)))
            on_walker = sum(walker) - timer * len(walker)
            print(
                f"round {r + 1}: {cpu_s:.2f} s CPU, {sig:.3f} s of it in signals"
                f" ({100 * sig / cpu_s:.1f} %; {on_walker:.3f} s on the walking thread,"
                f" {len(walker)} files), {len(spent)} files, load {os.getloadavg()[0]:.1f}"
            )
    cpu_m = statistics.median(x[0] for x in rows)
    sig_m = statistics.median(x[1] for x in rows)
    share = statistics.median(x[1] / x[0] for x in rows)
    print(
        f"median: {cpu_m:.2f} s CPU, {sig_m:.3f} s in signals ({100 * share:.1f} %),"
        f" {1e6 * sig_m / max(rows[0][2], 1):.1f} µs a file; timer {1e6 * timer:.2f} µs a call"
    )


def walk(repos: list[str]) -> None:
    from ripcord.guard.changes import measure
    from ripcord.repository import Repository
    from ripcord.storage.local import LocalStore

    for path in repos:
        repo = Repository.open(LocalStore(path), b"bench")
        snap = repo.snapshots()[-1]
        tree = bytes.fromhex(snap.tree)
        times = []
        for _ in range(5):
            t = time.thread_time()
            stats = measure(repo, None, tree)
            times.append(time.thread_time() - t)
        print(
            f"{path}: {min(times):.3f} s CPU (best of 5; {', '.join(f'{x:.2f}' for x in times)}),"
            f" {stats.added} files, {stats.random_files} random-looking"
        )


def tiny(roots: list[Path]) -> None:
    import random

    from ripcord.archive.kinds import DATA, TEXT, kind_of
    from ripcord.archive.signals import compressibility

    rng = random.Random(1)
    print("random bytes read as text (20,000 draws each):")
    for n in (4, 8, 12, 16, 24, 32, 64, 128):
        texts = sum(kind_of(rng.randbytes(n)) == TEXT for _ in range(20_000))
        print(f"  {n:3d} bytes: {texts / 200:.2f} %")
    bands = ((0, 16), (16, 64), (64, 128))
    kinds: collections.Counter[tuple[int, str]] = collections.Counter()
    zstd: dict[int, list[int]] = collections.defaultdict(list)
    for root in roots:
        for d, _, names in os.walk(root):
            for name in names:
                path = Path(d, name)
                try:
                    if path.is_symlink() or not path.is_file() or path.stat().st_size >= 128:
                        continue
                    data = path.read_bytes()
                except OSError:
                    continue
                if not data:
                    continue
                band = next(i for i, (lo, hi) in enumerate(bands) if lo <= len(data) < hi)
                kind = kind_of(data)
                kinds[band, kind if kind in (TEXT, DATA) else "a known format"] += 1
                if kind == DATA:
                    zstd[band].append(compressibility(data))
    print(f"files under 128 bytes under {', '.join(map(str, roots))}:")
    for i, (lo, hi) in enumerate(bands):
        counts = ", ".join(f"{k} {n}" for (b, k), n in sorted(kinds.items()) if b == i)
        z = sorted(zstd[i])
        said = (
            f"; zstd on data: median {z[len(z) // 2]}, {sum(x >= 245 for x in z)} at 245+"
            if z
            else ""
        )
        print(f"  {lo}-{hi - 1} bytes: {counts}{said}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cpu")
    c.add_argument("dir", type=Path)
    a = sub.add_parser("ab")
    a.add_argument("--data", type=Path, required=True)
    a.add_argument("--rounds", type=int, default=9)
    a.add_argument("tools", nargs="+", metavar="NAME=RIPCORD")
    w = sub.add_parser("walk")
    w.add_argument("repos", nargs="+")
    t = sub.add_parser("tiny")
    t.add_argument("roots", nargs="+", type=Path)
    i = sub.add_parser("inside")
    i.add_argument("--data", type=Path, required=True)
    i.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    if args.cmd == "cpu":
        cpu(args.dir)
    elif args.cmd == "inside":
        inside(args.data, args.rounds)
    elif args.cmd == "walk":
        walk(args.repos)
    elif args.cmd == "tiny":
        tiny(args.roots)
    else:
        ab(args.data, args.rounds, [tuple(t.split("=", 1)) for t in args.tools])
    return 0


if __name__ == "__main__":
    sys.exit(main())
