"""The office/server tree of bench/guard.py and its ordinary working days.

The tree is bench/gen.py's mixed set plus what an office file server has that the
mixed set lacks: a share of .docx/.xlsx files, a build directory of compiled
output, a SQLite database and a growing server log. A day (``ordinary``) is a
seeded mix of edits, new files and a few deletions; weekends only see the server's
log and database; some weekdays add a software build, a clean rebuild, a photo
import, an unpacked archive or a folder reorganised by moving (``SCHEDULE``).

Every count is given at scale 1 (the full mixed set, ~20k files) and scaled like
the set. The same seed, scale and day on the same tree give the same changes,
so an attack scenario replays exactly the ordinary days the ordinary scenario had.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gen
import guard_content
from guard_content import edit_office, elf, office_file, photo

DAY0 = datetime(2023, 11, 19, tzinfo=UTC)  # a Sunday: day 1 is a Monday; gen's mtimes are older
SHARED = "shared"
ARCHIVE = "shared/archive"
BUILD = "projects/app/build"
DB = "srv/db/app.sqlite"
LOG = "var/log/app/server.log"
OFFICE_EXTS = (".docx", ".docx", ".xlsx")
SERVER = (BUILD, DB, LOG.rsplit("/", 1)[0])  # not touched by hand: no random edits or deletes
WORKDIRS = ("documents/", "projects/", "shared/")


def day_start(day: int) -> datetime:
    return DAY0 + timedelta(days=day)


@dataclass
class Activity:
    """What a day did to the tree: named events and counted changes (the ground truth)."""

    events: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        named = ", ".join(self.events)
        counted = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return "; ".join(x for x in (named, counted) if x)


@dataclass
class Workspace:
    """A source tree being lived in, with its seed and scale."""

    root: Path
    seed: int
    scale: float
    corpus: gen.Corpus
    vocab: list[str]

    @classmethod
    def open(cls, root: Path, seed: int, scale: float) -> Workspace:
        rng = random.Random(f"{seed}:corpus")
        return cls(root, seed, scale, gen.make_corpus(rng, 5_000), gen.make_vocab(rng, 2_000))

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def n(self, rng: random.Random, lo: int, hi: int, minimum: int = 1) -> int:
        """A seeded count between ``lo`` and ``hi`` at scale 1, scaled."""
        return gen.scaled(rng.randint(lo, hi), self.scale, minimum)

    def files(self) -> list[str]:
        return gen.list_files(self.root)

    def write(self, rel: str, data: bytes, mtime: int) -> None:
        gen.write_file(self.root / rel, data, mtime)

    def touch(self, rel: str, mtime: int) -> None:
        os.utime(self.root / rel, (mtime, mtime))


def stamp(rng: random.Random, day: int) -> int:
    """A seeded time within the working hours of ``day``."""
    return int(day_start(day).timestamp()) + rng.randint(8 * 3600, 18 * 3600)


def by_hand(files: list[str]) -> list[str]:
    """Files people work on (not the server's build, database and logs)."""
    return [f for f in files if f.startswith(WORKDIRS) and not f.startswith(SERVER)]


# --------------------------------------------------------------------------- the tree


def create(ws: Workspace) -> Activity:
    """The mixed set plus the office share, the build, the database and the log."""
    gen.generate("mixed", ws.seed, ws.root, ws.scale)
    rng = ws.rng("setup")
    t = int(DAY0.timestamp()) - 86400
    dirs = gen.make_tree(rng, ws.vocab, SHARED, gen.scaled(250, ws.scale), 4)
    for i in range(gen.scaled(2000, ws.scale)):
        ext = rng.choice(OFFICE_EXTS)
        size = min(gen.MIB, int(rng.lognormvariate(10, 1.0)))  # median ~22 KiB of XML
        rel = f"{rng.choice(dirs)}/{rng.choice(ws.vocab)}-{i}{ext}"
        ws.write(rel, office_file(rng, ws.corpus, ext, size, t), gen.seeded_mtime(rng))
    activity = Activity(["setup"])
    build(ws, rng, 0, activity, clean=True)
    database(ws, rng, 0, activity)
    grow_log(ws, rng, 0, activity, gen.scaled(2 * gen.MIB, ws.scale))
    return activity


# the generators' source as loaded (an edit during a run does not change it)
SOURCES = (gen.__file__, guard_content.__file__, __file__)
CODE_KEY = hashlib.sha256(b"".join(Path(p).read_bytes() for p in SOURCES)).hexdigest()


def create_cached(ws: Workspace, cache: Path) -> Activity:
    """``create``, or a copy of the tree it made before with this seed, scale and code.

    Every scenario starts from the same tree; copying it (mtimes kept) is several
    times faster than generating it. The key covers the generators' source, so a
    changed generator never reuses a stale tree; older trees are removed.
    """
    key = hashlib.sha256(f"{ws.seed}:{ws.scale}:{CODE_KEY}".encode()).hexdigest()[:16]
    base = cache / key
    record = base / "activity.json"
    if not record.exists():
        shutil.rmtree(cache, ignore_errors=True)
        a = create(Workspace(base / "src", ws.seed, ws.scale, ws.corpus, ws.vocab))
        record.write_text(json.dumps({"events": a.events, "counts": a.counts}))
    shutil.copytree(base / "src", ws.root, symlinks=True)
    doc = json.loads(record.read_text())
    return Activity(doc["events"], Counter(doc["counts"]))


# --------------------------------------------------------------------------- a working day


def office_work(ws: Workspace, rng: random.Random, day: int, a: Activity) -> None:
    """Edits, appends, office saves, new documents and a few deletions."""
    files = by_hand(ws.files())
    text = [f for f in files if os.path.splitext(f)[1] in gen.TEXT_EXTS]
    office = [f for f in files if f.endswith((".docx", ".xlsx"))]
    for rel in rng.sample(text, min(len(text), ws.n(rng, 40, 100))):
        gen.mutate_edit(rng, ws.corpus, ws.root / rel, rel)
        ws.touch(rel, stamp(rng, day))
        a.counts["edited"] += 1
    for rel in rng.sample(text, min(len(text), ws.n(rng, 20, 50))):
        gen.mutate_append(rng, ws.corpus, ws.root / rel, rel)
        ws.touch(rel, stamp(rng, day))
        a.counts["appended"] += 1
    for rel in rng.sample(office, min(len(office), ws.n(rng, 10, 30))):
        t = stamp(rng, day)
        saved = edit_office(rng, ws.corpus, (ws.root / rel).read_bytes(), t)
        if saved is not None:  # not an office file any more (an attack got it): left alone
            tmp = f"{rel}.~tmp"
            ws.write(tmp, saved, t)
            os.replace(ws.root / tmp, ws.root / rel)  # saved as Office does: new file, renamed
            a.counts["office saved"] += 1
    for rel in rng.sample(text, min(len(text), ws.n(rng, 10, 40))):
        ext = os.path.splitext(rel)[1]
        size = int(rng.lognormvariate(9, 1.0))  # median ~8 KiB
        new = f"{rel.rsplit('/', 1)[0]}/{rng.choice(ws.vocab)}-d{day}-{rng.randrange(10**6)}{ext}"
        ws.write(new, gen.text_blob(rng, ws.corpus.for_ext(ext), size), stamp(rng, day))
        a.counts["new"] += 1
    for i in range(ws.n(rng, 5, 15)):
        ext = rng.choice(OFFICE_EXTS)
        folder = rng.choice(office).rsplit("/", 1)[0] if office else SHARED
        new = f"{folder}/{rng.choice(ws.vocab)}-d{day}-{i}{ext}"
        t = stamp(rng, day)
        size = int(rng.lognormvariate(10, 1.0))
        ws.write(new, office_file(rng, ws.corpus, ext, size, t), t)
        a.counts["new"] += 1
    for rel in rng.sample(files, min(len(files), ws.n(rng, 5, 20))):
        (ws.root / rel).unlink(missing_ok=True)  # an earlier pick of this day may have moved it
        a.counts["deleted"] += 1


def grow_log(ws: Workspace, rng: random.Random, day: int, a: Activity, size: int = 0) -> None:
    """The server's log grows every day; on Sundays logrotate compresses it (.1.gz ... .4.gz)."""
    path = ws.root / LOG
    if day and day % 7 == 0 and path.exists():
        for i in range(4, 0, -1):
            old = path.with_name(f"{path.name}.{i}.gz")
            if old.exists():
                old.replace(path.with_name(f"{path.name}.{i + 1}.gz"))
        rotated = path.with_name(f"{path.name}.1.gz")
        rotated.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        path.unlink()
        path.with_name(f"{path.name}.5.gz").unlink(missing_ok=True)
        a.events.append("logrotate")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as f:
        f.write(gen.text_blob(rng, ws.corpus.log, size or ws.n(rng, 200_000, 800_000)))
    ws.touch(LOG, stamp(rng, day))
    a.counts["log grown"] += 1


def database(ws: Workspace, rng: random.Random, day: int, a: Activity) -> None:
    """The application's SQLite file, updated in place: inserts, updates, a few deletes."""
    path = ws.root / DB
    path.parent.mkdir(parents=True, exist_ok=True)
    words = ws.corpus.prose.lines
    try:
        with closing(sqlite3.connect(path)) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT,"
                " note TEXT, amount REAL, updated INTEGER)"
            )
            inserts = gen.scaled(40_000, ws.scale) if day == 0 else ws.n(rng, 200, 800)
            db.executemany(
                "INSERT INTO orders (customer, note, amount, updated) VALUES (?, ?, ?, ?)",
                [
                    (rng.choice(ws.vocab), rng.choice(words).decode(), rng.random() * 1e4, day)
                    for _ in range(inserts)
                ],
            )
            (top,) = db.execute("SELECT max(id) FROM orders").fetchone()
            if day:
                ids = [
                    (rng.random() * 1e4, day, rng.randint(1, top))
                    for _ in range(ws.n(rng, 300, 1000))
                ]
                db.executemany("UPDATE orders SET amount = ?, updated = ? WHERE id = ?", ids)
                gone = [(rng.randint(1, top),) for _ in range(ws.n(rng, 20, 100))]
                db.executemany("DELETE FROM orders WHERE id = ?", gone)
    except sqlite3.DatabaseError:  # an attack encrypted it: the application fails
        a.events.append("database unreadable")
        return
    ws.touch(DB, stamp(rng, day))
    a.counts["database updated"] += 1


# --------------------------------------------------------------------------- events


def build(ws: Workspace, rng: random.Random, day: int, a: Activity, clean: bool = False) -> None:
    """Compiled output rebuilt in place: changed and new objects, relinked binaries, assets.

    An incremental build rewrites 10-30 % of the objects; a clean one deletes the
    directory and writes everything again (most objects with the same bytes).
    """
    root = ws.root / BUILD
    old = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    objects = sorted(k for k in old if k.endswith(".o"))
    t = stamp(rng, day)
    if not old:  # the first build
        dirs = [f"obj/{w}" for w in rng.sample(ws.vocab, 12)]
        objects = [
            f"{rng.choice(dirs)}/{w}.o" for w in rng.sample(ws.vocab, gen.scaled(1500, ws.scale))
        ]
        changed = set(objects)
    else:
        share = 0.3 if clean else rng.uniform(0.1, 0.3)
        changed = set(rng.sample(objects, round(len(objects) * share)))
        dirs = sorted({o.rsplit("/", 1)[0] for o in objects})
        fresh = [
            f"{rng.choice(dirs)}/{rng.choice(ws.vocab)}-{day}.o" for _ in range(ws.n(rng, 0, 20))
        ]
        objects += fresh
        changed.update(fresh)
    if clean:
        shutil.rmtree(root, ignore_errors=True)
    for rel in objects:
        if rel in changed:
            ws.write(f"{BUILD}/{rel}", elf(rng, ws.corpus, int(rng.lognormvariate(10, 0.8))), t)
        elif clean:
            ws.write(f"{BUILD}/{rel}", old[rel], t)
    for i in range(gen.scaled(12, ws.scale, 3)):  # relinked, every build
        name = f"lib/libapp{i}.so" if i % 3 else f"bin/app{i}"
        ws.write(
            f"{BUILD}/{name}", elf(rng, ws.corpus, int(rng.lognormvariate(14, 0.7)), packed=0.2), t
        )
    for i in range(gen.scaled(20, ws.scale, 4)):  # packed resources: compressed, random-looking
        if clean or not old or rng.random() < 0.3:
            ws.write(
                f"{BUILD}/assets/res{i}.pak", rng.randbytes(int(rng.lognormvariate(12, 1.0))), t
            )
    a.events.append("clean rebuild" if clean else "build")
    a.counts["build outputs"] += len(changed)


def import_photos(ws: Workspace, rng: random.Random, day: int, a: Activity) -> None:
    """Hundreds of new camera JPEGs in a dated folder."""
    folder = f"photos/import/{day_start(day):%Y-%m-%d}"
    count = ws.n(rng, 400, 800, minimum=100)
    for i in range(count):
        ws.write(
            f"{folder}/IMG_{i + 1:04d}.JPG",
            photo(rng, int(rng.lognormvariate(12.7, 0.4))),
            stamp(rng, day),
        )
    a.events.append("photo import")
    a.counts["new"] += count


def unpack(ws: Workspace, rng: random.Random, day: int, a: Activity) -> None:
    """A downloaded source archive and its thousands of unpacked files."""
    name = f"{rng.choice(ws.vocab)}-{rng.randint(1, 9)}.{rng.randint(0, 30)}"
    prefix = f"downloads/{name}"
    count = ws.n(rng, 2000, 5000, minimum=1000)
    dirs = gen.make_tree(rng, ws.vocab, prefix, max(3, count // 15), 6)
    t = stamp(rng, day)
    total = 0
    for i in range(count):
        kind = rng.random()
        size = int(rng.lognormvariate(8, 1.0))  # median ~3 KiB
        if kind < 0.85:
            ext = rng.choice((".c", ".h", ".py", ".js", ".md", ".txt", ".json"))
            data = gen.text_blob(rng, ws.corpus.for_ext(ext), size)
        elif kind < 0.95:
            ext, data = ".bin", gen.structured_blob(rng, size)
        else:
            ext, data = ".png", gen.media_blob(rng, size * 4)
        ws.write(f"{rng.choice(dirs)}/{rng.choice(ws.vocab)}-{i}{ext}", data, t)
        total += len(data)
    gz_header = b"\x1f\x8b\x08\x00" + bytes(4) + b"\x00\x03"  # the archive itself, compressed
    ws.write(f"downloads/{name}.tar.gz", gz_header + rng.randbytes(total // 3), t)
    a.events.append("archive unpacked")
    a.counts["new"] += count + 1


def reorganise(ws: Workspace, rng: random.Random, day: int, a: Activity) -> None:
    """Whole folders moved into the archive; half their files renamed with the year."""
    files = ws.files()
    folders: Counter[str] = Counter()
    for rel in files:
        parts = rel.split("/")
        if parts[0] in ("documents", SHARED) and len(parts) > 2 and not rel.startswith(ARCHIVE):
            folders["/".join(parts[:2])] += 1
    target = gen.scaled(800, ws.scale, 150)
    moved = 0
    year = day_start(day).year - 1
    for folder in rng.sample(sorted(folders), len(folders)):
        if moved >= target:
            break
        dest = f"{ARCHIVE}/{year}/{folder.replace('/', '-')}"
        (ws.root / dest).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / folder).rename(ws.root / dest)
        for path in sorted((ws.root / dest).rglob("*")):
            if path.is_file() and rng.random() < 0.5:
                path.rename(path.with_name(f"{year}-{path.name}"))
        moved += folders[folder]
    a.events.append("reorganised")
    a.counts["moved"] += moved


Event = Callable[[Workspace, random.Random, int, Activity], None]


def clean_build(ws: Workspace, rng: random.Random, day: int, a: Activity) -> None:
    build(ws, rng, day, a, clean=True)


EVENTS: dict[str, Event] = {
    "build": build,
    "rebuild": clean_build,
    "photos": import_photos,
    "unpack": unpack,
    "reorganise": reorganise,
}
# Day 1 is a Monday; days 6, 7, 13, 14, ... are weekends. Days past 30 repeat the month.
SCHEDULE: dict[int, tuple[str, ...]] = {
    2: ("build",), 4: ("photos",), 5: ("build",), 8: ("reorganise",), 9: ("build",),
    10: ("unpack",), 12: ("rebuild",), 16: ("build",), 18: ("photos",), 19: ("build",),
    22: ("reorganise",), 23: ("build",), 24: ("unpack",), 26: ("rebuild",), 29: ("photos",),
    30: ("build", "unpack"),
}  # fmt: skip


def weekend(day: int) -> bool:
    return day % 7 in (6, 0)


def ordinary(ws: Workspace, day: int) -> Activity:
    """One working day (or weekend day) of changes to the tree."""
    rng = ws.rng("day", day)
    a = Activity()
    if not weekend(day):
        office_work(ws, rng, day, a)
    for name in SCHEDULE.get((day - 1) % 30 + 1, ()):
        EVENTS[name](ws, rng, day, a)
    grow_log(ws, rng, day, a)
    database(ws, rng, day, a)
    return a
