#!/usr/bin/env python3
"""Seeded benchmark datasets for ripcord, restic and Borg (stdlib only).

    gen.py mixed  --seed 1 --out DIR [--scale 1.0]   ~1 GiB in ~20k files
    gen.py many   --seed 1 --out DIR [--scale 1.0]   200k tiny files, ~93 MiB
    gen.py mutate --seed 2 --out DIR                 ~1 % of files changed, like a day of work

The same seed and scale always give the same bytes, names and mtimes. Content is
built from precomputed line pools and ``Random.randbytes`` so generation runs at
disk speed, not at Python-loop speed.
"""

from __future__ import annotations

import argparse
import array
import itertools
import math
import os
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
BASE_MTIME = 1_700_000_000  # 2023-11-14; generated files get seeded mtimes before this
TEXT_EXTS = frozenset({".txt", ".md", ".csv", ".log", ".py", ".c", ".h", ".js", ".conf", ".json"})

SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + [
    "th", "ch", "st", "qu", "er", "an", "in", "on", "ex", "al",
]  # fmt: skip

CODE_TEMPLATES = [
    "def {a}_{b}({c}, {d}):",
    "    return {a}({b}) + {n}",
    "    {a} = {b}.{c}({d}, {n})",
    "class {A}{B}({C}):",
    "    if {a} is None:",
    '        raise {A}Error("{a} {b} {c}")',
    "import {a}.{b}",
    "from {a} import {b}, {c}",
    "# {a} {b} {c} {d} {e}",
    "    for {a} in {b}:",
    "        {a}.append({b}[{n}])",
    "",
    '    """{A} {b} {c} {d}."""',
    "static int {a}_{b}(struct {c} *{d}, size_t {e}) {{",
    "    {a}->{b} = {n};",
    "    if ({a} < {n}) {{ return -{n}; }}",
    "}}",
    "const {a} = require('{b}/{c}');",
    "export function {a}{B}({c}, {d}) {{",
]


# --------------------------------------------------------------------------- text pools


@dataclass(frozen=True)
class Pool:
    """Precomputed lines; a file is a seeded sample of them."""

    lines: list[bytes]
    avg_len: int


@dataclass(frozen=True)
class Corpus:
    prose: Pool
    code: Pool
    log: Pool
    csv: Pool

    def for_ext(self, ext: str) -> Pool:
        if ext in {".py", ".c", ".h", ".js"}:
            return self.code
        if ext == ".log":
            return self.log
        if ext in {".csv", ".json", ".conf"}:
            return self.csv
        return self.prose


def make_vocab(rng: random.Random, n: int = 6000) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choices(SYLLABLES, k=rng.choice((1, 2, 2, 2, 3, 3, 4)))))
    ordered = sorted(words)
    rng.shuffle(ordered)  # position = Zipf rank
    return ordered


def make_pool(lines: list[str]) -> Pool:
    encoded = [line.encode() for line in lines]
    return Pool(encoded, max(1, sum(len(x) + 1 for x in encoded) // len(encoded)))


def word_stream(rng: random.Random, vocab: list[str], k: int) -> Iterator[str]:
    cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))
    return iter(rng.choices(vocab, cum_weights=cum, k=k))


def prose_lines(rng: random.Random, words: Iterator[str], n: int) -> list[str]:
    out = []
    for _ in range(n):
        sentence = [next(words) for _ in range(rng.randint(3, 16))]
        sentence[0] = sentence[0].capitalize()
        out.append(" ".join(sentence) + rng.choice((".", ".", ".", ",", "?", ":")))
    return out


def code_lines(rng: random.Random, words: Iterator[str], n: int) -> list[str]:
    out = []
    for _ in range(n):
        w = [next(words) for _ in range(5)]
        out.append(
            rng.choice(CODE_TEMPLATES).format(
                a=w[0],
                b=w[1],
                c=w[2],
                d=w[3],
                e=w[4],
                n=rng.randint(0, 4096),
                A=w[0].capitalize(),
                B=w[1].capitalize(),
                C=w[2].capitalize(),
            )
        )
    return out


def log_lines(rng: random.Random, words: Iterator[str], n: int) -> list[str]:
    levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
    out = []
    for _ in range(n):
        t = BASE_MTIME + rng.randrange(10**7)
        msg = " ".join(next(words) for _ in range(rng.randint(2, 9)))
        out.append(f"{t} {rng.choice(levels)} {next(words)}-{rng.randint(1, 16)}: {msg}")
    return out


def csv_lines(rng: random.Random, words: Iterator[str], n: int) -> list[str]:
    return [
        f"{rng.randrange(10**6)},{next(words)},{next(words)},{rng.random():.6f},"
        f"{rng.randint(-999, 999)}"
        for _ in range(n)
    ]


def make_corpus(rng: random.Random, lines_per_pool: int = 40_000) -> Corpus:
    vocab = make_vocab(rng)
    words = word_stream(rng, vocab, lines_per_pool * 32)
    return Corpus(
        prose=make_pool(prose_lines(rng, words, lines_per_pool)),
        code=make_pool(code_lines(rng, words, lines_per_pool)),
        log=make_pool(log_lines(rng, words, lines_per_pool)),
        csv=make_pool(csv_lines(rng, words, lines_per_pool)),
    )


# --------------------------------------------------------------------------- contents


def text_blob(rng: random.Random, pool: Pool, size: int) -> bytes:
    data = b"\n".join(rng.choices(pool.lines, k=size // pool.avg_len + 2)) + b"\n"
    while len(data) < size:
        data += b"\n".join(rng.choices(pool.lines, k=64)) + b"\n"
    return data[:size]


def structured_blob(rng: random.Random, size: int) -> bytes:
    """Binary-looking data: random runs, repeated records, zero pages, counters."""
    parts = [b"RCBN\x00\x01" + rng.randbytes(58)]
    total = len(parts[0])
    while total < size:
        n = rng.randint(256, 16 * KIB)
        kind = rng.random()
        if kind < 0.45:
            part = rng.randbytes(n)
        elif kind < 0.70:
            record = rng.randbytes(rng.randint(8, 64))
            part = record * (n // len(record) + 1)
        elif kind < 0.85:
            part = bytes(n)
        else:
            start = rng.randrange(2**31)
            part = array.array("I", range(start, start + n // 4 + 1)).tobytes()
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


def media_blob(rng: random.Random, size: int) -> bytes:
    """Already-compressed media: a small header, then incompressible bytes."""
    header = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(50)
    return (header + rng.randbytes(max(0, size - len(header))))[:size]


def write_file(path: Path, data: bytes, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def write_random_file(rng: random.Random, path: Path, size: int, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        left = size
        while left > 0:
            n = min(left, 4 * MIB)
            f.write(rng.randbytes(n))
            left -= n
    os.utime(path, (mtime, mtime))


def seeded_mtime(rng: random.Random) -> int:
    return BASE_MTIME - rng.randrange(3 * 365 * 86400)


# --------------------------------------------------------------------------- trees and sizes


def make_tree(
    rng: random.Random,
    vocab: Sequence[str],
    prefix: str,
    ndirs: int,
    max_depth: int,
    recent: int = 0,
) -> list[str]:
    """Random directory tree under ``prefix``; ``recent`` > 0 favours deep chains."""
    dirs = [prefix]
    depth = {prefix: 0}
    for i in range(max(0, ndirs - 1)):
        pool = dirs[-recent:] if recent else dirs
        parent = rng.choice(pool)
        if depth[parent] >= max_depth:
            parent = prefix
        child = f"{parent}/{rng.choice(vocab)}{i if rng.random() < 0.3 else ''}"
        if child not in depth:
            depth[child] = depth[parent] + 1
            dirs.append(child)
    return dirs


def sizes_for_budget(
    rng: random.Random, count: int, median: float, sigma: float, budget: int, lo: int, hi: int
) -> list[int]:
    """Log-normal sizes rescaled so they sum to about ``budget`` bytes."""
    raw = [rng.lognormvariate(math.log(median), sigma) for _ in range(count)]
    factor = budget / max(1.0, sum(raw))
    return [min(hi, max(lo, int(x * factor))) for x in raw]


def scaled(n: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(n * scale))


# --------------------------------------------------------------------------- "mixed"


@dataclass(frozen=True)
class Category:
    """One kind of file in the mixed dataset (counts and budgets at scale 1)."""

    prefix: str
    exts: tuple[str, ...]
    count: int
    budget: int
    median: int
    sigma: float
    ndirs: int
    depth: int
    maker: str  # "text" | "structured" | "media"


MIXED = (
    Category("documents", (".txt", ".md", ".txt", ".csv"), 8000, 160 * MIB, 8 * KIB, 1.2, 900, 4,
             "text"),
    Category("projects", (".py", ".c", ".h", ".js", ".json"), 7500, 64 * MIB, 4 * KIB, 1.0,
             1100, 7, "text"),
    Category("var/log", (".log",), 600, 48 * MIB, 32 * KIB, 1.3, 40, 2, "text"),
    Category("data", (".db", ".bin", ".o", ".so", ".pdf"), 2000, 160 * MIB, 32 * KIB, 1.4, 200, 4,
             "structured"),
    Category("photos", (".jpg", ".png", ".mp3"), 500, 208 * MIB, 300 * KIB, 0.9, 60, 3, "media"),
)  # fmt: skip
LARGE_COUNT = 6
LARGE_BUDGET = 256 * MIB
NEAR_COPY_BUDGET = 128 * MIB
NEAR_COPY_COUNT = 1400


def make_content(rng: random.Random, corpus: Corpus, maker: str, ext: str, size: int) -> bytes:
    if maker == "text":
        return text_blob(rng, corpus.for_ext(ext), size)
    if maker == "structured":
        return structured_blob(rng, size)
    return media_blob(rng, size)


def gen_category(
    rng: random.Random, out: Path, corpus: Corpus, vocab: Sequence[str], cat: Category, scale: float
) -> list[str]:
    count = scaled(cat.count, scale)
    dirs = make_tree(rng, vocab, cat.prefix, scaled(cat.ndirs, scale), cat.depth)
    sizes = sizes_for_budget(
        rng, count, cat.median, cat.sigma, int(cat.budget * scale), 16, 8 * MIB
    )
    written = []
    for i, size in enumerate(sizes):
        ext = rng.choice(cat.exts)
        rel = f"{rng.choice(dirs)}/{rng.choice(vocab)}-{i}{ext}"
        write_file(out / rel, make_content(rng, corpus, cat.maker, ext, size), seeded_mtime(rng))
        written.append(rel)
    return written


def gen_large(rng: random.Random, out: Path, scale: float) -> list[str]:
    names = (
        "vm/disk0.qcow2",
        "vm/disk1.vmdk",
        "archives/photos-2021.tar.zst",
        "archives/mail.tar.gz",
        "isos/install.iso",
        "archives/db-dump.zst",
    )
    weights = [rng.uniform(0.5, 1.5) for _ in names[:LARGE_COUNT]]
    total = sum(weights)
    written = []
    for rel, w in zip(names, weights, strict=False):
        write_random_file(rng, out / rel, int(LARGE_BUDGET * scale * w / total), seeded_mtime(rng))
        written.append(rel)
    return written


def edit_bytes(rng: random.Random, data: bytes, edits: int) -> bytes:
    """Small inserts, overwrites and deletes at seeded offsets."""
    buf = bytearray(data)
    for _ in range(edits):
        pos = rng.randrange(len(buf) + 1)
        kind = rng.random()
        patch = rng.randbytes(rng.randint(1, 64))
        if kind < 0.5:
            buf[pos:pos] = patch
        elif kind < 0.8:
            buf[pos : pos + len(patch)] = patch
        else:
            del buf[pos : pos + rng.randint(1, 256)]
    return bytes(buf)


def near_copy_path(rng: random.Random, rel: str, i: int) -> str:
    if rng.random() < 0.5:
        return f"backup-old/{rel}"
    stem, dot, ext = rel.rpartition(".")
    return f"{stem}-v{i}.{ext}" if dot else f"{rel}-v{i}"


def gen_near_copies(
    rng: random.Random, out: Path, sources: list[str], large: list[str], scale: float
) -> list[str]:
    """Copies with small edits: what content-defined chunking is for."""
    budget = int(NEAR_COPY_BUDGET * scale)
    picks = large[:1] + rng.sample(sources, min(len(sources), scaled(NEAR_COPY_COUNT, scale)))
    written = []
    for i, rel in enumerate(picks):
        if budget <= 0:
            break
        src = out / rel
        data = edit_bytes(rng, src.read_bytes(), rng.randint(1, 4))
        dest = near_copy_path(rng, rel, i)
        write_file(out / dest, data, seeded_mtime(rng))
        budget -= len(data)
        written.append(dest)
    return written


def gen_mixed(seed: int, out: Path, scale: float) -> None:
    rng = random.Random(seed)
    corpus = make_corpus(rng)
    vocab = make_vocab(rng, 3000)
    sources: list[str] = []
    for cat in MIXED:
        sources += gen_category(rng, out, corpus, vocab, cat, scale)
    large = gen_large(rng, out, scale)
    gen_near_copies(rng, out, sources, large, scale)


# --------------------------------------------------------------------------- "many"

MANY_COUNT = 200_000
MANY_BYTES = 93 * MIB
MANY_EXTS = (".txt", ".md", ".json", ".conf", ".py", ".js", ".log", ".csv")


def many_sizes(rng: random.Random, count: int, budget: int) -> list[int]:
    """Mostly 100 B - 1 KiB, a few KiB for ~4 %."""
    raw = [
        rng.uniform(1 * KIB, 6 * KIB) if rng.random() < 0.04 else rng.lognormvariate(5.9, 0.45)
        for _ in range(count)
    ]
    factor = budget / sum(raw)
    return [max(1, int(x * factor)) for x in raw]


def gen_many(seed: int, out: Path, scale: float) -> None:
    rng = random.Random(seed)
    corpus = make_corpus(rng, 20_000)
    vocab = make_vocab(rng, 3000)
    count = scaled(MANY_COUNT, scale)
    dirs = make_tree(rng, vocab, "tree", max(1, count // 20), 14, recent=64)
    for i, size in enumerate(many_sizes(rng, count, int(MANY_BYTES * scale))):
        ext = rng.choice(MANY_EXTS)
        rel = f"{rng.choice(dirs)}/{rng.choice(vocab)}-{i}{ext}"
        write_file(out / rel, text_blob(rng, corpus.for_ext(ext), size), seeded_mtime(rng))


# --------------------------------------------------------------------------- "mutate"


def list_files(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath).relative_to(root)
        found += [str(base / name) for name in sorted(filenames)]
    return found


def filler(rng: random.Random, corpus: Corpus, rel: str, size: int) -> bytes:
    ext = os.path.splitext(rel)[1]
    if ext in TEXT_EXTS:
        return text_blob(rng, corpus.for_ext(ext), size)
    return rng.randbytes(size)


def mutate_edit(rng: random.Random, corpus: Corpus, path: Path, rel: str) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(len(data) + 1)
        patch = filler(rng, corpus, rel, rng.randint(8, max(16, min(2 * KIB, len(data) // 8))))
        data[pos : pos + rng.randint(0, len(patch))] = patch
    path.write_bytes(bytes(data))


def mutate_append(rng: random.Random, corpus: Corpus, path: Path, rel: str) -> None:
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(filler(rng, corpus, rel, rng.randint(16, max(64, min(16 * KIB, size // 2)))))


def mutate_delete(rng: random.Random, corpus: Corpus, path: Path, rel: str) -> None:
    path.unlink()


def mutate_add(rng: random.Random, corpus: Corpus, path: Path, rel: str) -> None:
    """``path`` is an existing file; a new sibling of about its size is created next to it."""
    new = path.with_name(f"new-{rng.randrange(10**9)}{path.suffix or '.txt'}")
    median = min(4 * MIB, max(64, path.stat().st_size))
    new.write_bytes(filler(rng, corpus, new.name, int(rng.lognormvariate(math.log(median), 0.5))))


MUTATIONS: tuple[tuple[float, Callable[[random.Random, Corpus, Path, str], None]], ...] = (
    (0.40, mutate_edit),
    (0.30, mutate_append),
    (0.15, mutate_delete),
    (0.15, mutate_add),
)


def mutate(seed: int, root: Path, fraction: float = 0.01) -> dict[str, int]:
    rng = random.Random(seed)
    corpus = make_corpus(rng, 5_000)
    files = list_files(root)
    picks = rng.sample(files, min(len(files), max(1, round(len(files) * fraction))))
    weights = [w for w, _ in MUTATIONS]
    counts: dict[str, int] = {}
    for rel in picks:
        (action,) = rng.choices([fn for _, fn in MUTATIONS], weights=weights)
        action(rng, corpus, root / rel, rel)
        name = action.__name__.removeprefix("mutate_")
        counts[name] = counts.get(name, 0) + 1
    return counts


# --------------------------------------------------------------------------- CLI


def tree_stats(root: Path) -> tuple[int, int]:
    files = total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            files += 1
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return files, total


def generate(dataset: str, seed: int, out: Path, scale: float) -> None:
    """(Re)create ``out`` with the named dataset."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    {"mixed": gen_mixed, "many": gen_many}[dataset](seed, out, scale)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("mixed", "many"):
        s = sub.add_parser(name, help=f"generate the '{name}' dataset (replaces --out)")
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--out", type=Path, required=True)
        s.add_argument("--scale", type=float, default=1.0, help="multiply sizes and counts")
    m = sub.add_parser("mutate", help="change ~1%% of the files in --out in place")
    m.add_argument("--seed", type=int, default=2)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--fraction", type=float, default=0.01)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "mutate":
        print(mutate(args.seed, args.out, args.fraction))
    else:
        generate(args.command, args.seed, args.out, args.scale)
    files, total = tree_stats(args.out)
    print(f"{args.out}: {files} files, {total / MIB:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
