#!/usr/bin/env python3
"""Crash soak: kill every command at every one of its store calls, on every store.

The long version of tests/integration/test_crash*.py (same harness, tests/crash/):
for each command (backup first and incremental, copy, forget --prune, prune with
repacking, repair index, key passwd) and each store (local, SFTP on a private sshd,
S3 on a private SeaweedFS), one counting run lists the command's store calls; then
the command is SIGKILLed before each call in turn and after the last, plus --moments
seeded moments, and after every kill: `check` clean but for unreferenced data, every
snapshot restores byte for byte, the rerun exits 0 and finishes the job, `check`
clean again. A failed trial is recorded and the walk goes on.

    python3 bench/soak.py                               # everything (~40 min on 2 cores)
    python3 bench/soak.py --stores local --moments 20   # local only
    python3 bench/soak.py --commands prune,copy --stores s3 --json-out /tmp/soak.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.crash.harness import Kill, Outcome, count, every_call, moments, trial
from tests.crash.scenarios import SCENARIOS, Base
from tests.crash.sites import LocalSite, S3Site, SftpSite, Site
from tests.s3server import running_seaweedfs
from tests.sshserver import Sshd

STORES = ("local", "sftp", "s3")


@dataclass
class Row:
    """One command on one store: how many kill points ran and what they found."""

    store: str
    command: str
    calls: int = 0
    points: int = 0
    killed: int = 0  # the kill landed before the command ended
    finished: int = 0  # a seeded moment after the command had already ended
    failures: list[str] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)  # check's notes right after kills
    seconds: float = 0.0


@contextlib.contextmanager
def open_site(name: str, work: Path) -> Iterator[Site]:
    """A site on a private server of its own, stopped at the end."""
    root = work / name
    root.mkdir()
    if name == "local":
        yield LocalSite(root)
    elif name == "sftp":
        sshd = Sshd(work / "sshd")
        try:
            yield SftpSite(root, sshd.start())
        finally:
            sshd.stop()
    else:
        with running_seaweedfs(work / "seaweedfs") as server:
            os.environ.update(server.env())
            site = S3Site(server)
            try:
                yield site
            finally:
                site.close()


def soak(scenario: type[Base], site: Site, work: Path, args: argparse.Namespace) -> Row:
    s = scenario()
    row = Row(site.name, s.name)
    start = time.monotonic()
    world = s.prepare(site, work / f"{site.name}-{s.name}")
    counted = count(world, site)
    rng = random.Random(f"{args.seed}-{s.name}-{site.name}")
    kills: list[Kill] = every_call(counted.calls) + moments(counted.seconds, args.moments, rng)
    row.calls, row.points = len(counted.calls), len(kills)
    notes: Counter[str] = Counter()
    for kill in kills:
        try:
            out: Outcome = trial(s, site, world, kill)
        except Exception as e:  # a failed check, or the harness tripping on what it met
            why = (str(e) or type(e).__name__).splitlines()[0][:300]
            row.failures.append(f"{kill}: {why}")
            print(f"  FAIL {site.name} {s.name} at {kill}: {e}", file=sys.stderr, flush=True)
            continue
        row.killed += out.killed
        row.finished += not out.killed
        notes.update(out.notes)
    world.discard(site)
    row.notes, row.seconds = dict(notes), time.monotonic() - start
    return row


def table(rows: list[Row]) -> str:
    cols = "store command calls kill-points killed ended-first failures notes-after-kills s"
    lines = ["| " + " | ".join(cols.split()) + " |", "|" + "---|" * 9]
    for r in rows:
        notes = ", ".join(f"{k} {v}" for k, v in sorted(r.notes.items())) or "none"
        lines.append(
            f"| {r.store} | {r.command} | {r.calls} | {r.points} | {r.killed} | {r.finished}"
            f" | {len(r.failures)} | {notes} | {r.seconds:.0f} |"
        )
    total = sum(r.points for r in rows)
    lines.append(f"\n{total} kill points, {sum(len(r.failures) for r in rows)} failures")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--stores", default=",".join(STORES), help="comma-separated: local,sftp,s3")
    p.add_argument("--commands", default="", help="comma-separated scenario names (all)")
    p.add_argument("--moments", type=int, default=5, help="seeded kill moments per command")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    wanted = {c for c in args.commands.split(",") if c}
    scenarios = [s for s in SCENARIOS if not wanted or s.name in wanted]
    work = Path(tempfile.mkdtemp(prefix="ripcord-soak-"))
    rows: list[Row] = []
    try:
        for store in args.stores.split(","):
            with open_site(store, work) as site:
                for scenario in scenarios:
                    rows.append(soak(scenario, site, work, args))
                    r = rows[-1]
                    print(
                        f"{r.store} {r.command}: {r.points} kill points, {len(r.failures)}"
                        f" failures ({r.seconds:.0f} s)",
                        flush=True,
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    if args.json_out:
        args.json_out.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return 1 if any(r.failures for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
