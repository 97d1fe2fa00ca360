"""The attacks of bench/guard.py: what ransomware and a mass deletion do to the tree.

Each strikes in the evening of its day, after that day's ordinary work, on the
whole tree (the build, database and logs included: ransomware spares nothing it
can open). Shares are of the files in the tree at the time. All seeded.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from guard_content import NOTE_NAME, encrypt, ransom_note
from guard_days import Activity, Workspace, by_hand, day_start

LOCKED = ".locked"


class Attack(Protocol):
    name: str
    days: int  # how many days in a row it strikes

    @property
    def what(self) -> str: ...

    def strike(self, ws: Workspace, day: int, a: Activity) -> None: ...


def evening(day: int) -> int:
    return int(day_start(day).timestamp()) + 20 * 3600


def victims(ws: Workspace) -> list[str]:
    """Every file the attacker has not already had."""
    return [f for f in ws.files() if not f.endswith((LOCKED, NOTE_NAME))]


@dataclass
class Encrypt:
    """In-place AES-CTR of a random share of the files (or of their first 4 KiB only)."""

    name: str
    share: float
    head_only: bool = False
    days: int = 1

    @property
    def what(self) -> str:
        part = "first 4 KiB of " if self.head_only else ""
        return f"{part}{self.share:.0%} of the files encrypted in place"

    def strike(self, ws: Workspace, day: int, a: Activity) -> None:
        rng = ws.rng("attack", self.name, day)
        files = victims(ws)
        t = evening(day)
        for rel in rng.sample(files, round(len(files) * self.share)):
            encrypt(rng, ws.root / rel, self.head_only)
            ws.touch(rel, t)
            a.counts["encrypted"] += 1
        a.events.append(self.name)


@dataclass
class EncryptRename:
    """Folder by folder: every file encrypted and renamed ``*.locked``, a ransom note in each."""

    name: str
    share: float
    days: int = 1

    @property
    def what(self) -> str:
        return (
            f"whole folders (~{self.share:.0%} of the files) encrypted, renamed to *{LOCKED},"
            f" {NOTE_NAME} in each"
        )

    def strike(self, ws: Workspace, day: int, a: Activity) -> None:
        rng = ws.rng("attack", self.name, day)
        files = victims(ws)
        folders: dict[str, list[str]] = {}
        for rel in files:
            folders.setdefault(os.path.dirname(rel), []).append(rel)
        t = evening(day)
        for folder in rng.sample(sorted(folders), len(folders)):
            if a.counts["encrypted"] >= len(files) * self.share:
                break
            for rel in folders[folder]:
                encrypt(rng, ws.root / rel, head_only=False)
                os.rename(ws.root / rel, ws.root / (rel + LOCKED))
                ws.touch(rel + LOCKED, t)
                a.counts["encrypted"] += 1
            ws.write(os.path.join(folder, NOTE_NAME), ransom_note(rng), t)
            a.counts["ransom notes"] += 1
        a.events.append(self.name)


@dataclass
class DeleteFolder:
    """The people's folder with the most files that holds at most ``share`` of them, deleted.

    Only folders of the office's own files count (documents, projects, the share,
    photos; not the build output or yesterday's unpacked download): losing those
    is the accident or sabotage the guard is for.
    """

    name: str
    share: float
    days: int = 1

    @property
    def what(self) -> str:
        return (
            f"the largest folder of documents holding at most {self.share:.0%} of the files deleted"
        )

    def strike(self, ws: Workspace, day: int, a: Activity) -> None:
        files = ws.files()
        below: Counter[str] = Counter()
        for rel in by_hand(files) + [f for f in files if f.startswith("photos/")]:
            parts = rel.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                below["/".join(parts[:depth])] += 1
        limit = len(files) * self.share
        folder = max(sorted(below), key=lambda d: below[d] if below[d] <= limit else -1)
        shutil.rmtree(ws.root / folder)
        a.events.append(f"{self.name} {folder}")
        a.counts["deleted by attack"] += sum(f.startswith(f"{folder}/") for f in files)


@dataclass
class SlowEncrypt:
    """A share of the files encrypted in place each day, for ``days`` days."""

    name: str
    share: float
    days: int
    queue: list[str] = field(default_factory=list)  # the victims, in the order they fall
    per_day: int = 0

    @property
    def what(self) -> str:
        return f"{self.share * 100:g}% of the files a day encrypted in place, {self.days} days"

    def strike(self, ws: Workspace, day: int, a: Activity) -> None:
        rng = ws.rng("attack", self.name, day)
        if not self.queue:
            files = victims(ws)
            self.queue = rng.sample(files, len(files))
            self.per_day = round(len(files) * self.share)
        t = evening(day)
        done = 0
        while self.queue and done < self.per_day:
            rel = self.queue.pop()
            if (ws.root / rel).is_file():  # the day's work may have deleted or moved it
                encrypt(rng, ws.root / rel)
                ws.touch(rel, t)
                done += 1
        a.events.append(self.name)
        a.counts["encrypted"] += done


def attacks() -> list[Attack]:
    """Fresh instances (SlowEncrypt keeps its queue) of every attack, in report order."""
    return [
        Encrypt("encrypt-5", 0.05),
        Encrypt("encrypt-20", 0.20),
        Encrypt("encrypt-60", 0.60),
        EncryptRename("encrypt-rename", 0.20),
        Encrypt("encrypt-head", 0.20, head_only=True),
        DeleteFolder("delete-folder", 0.25),
        SlowEncrypt("slow-encrypt", 0.02, days=10),
        # under the per-day rule's 1 %: only the growth of random-looking files can tell
        SlowEncrypt("slower-encrypt", 0.005, days=10),
    ]
