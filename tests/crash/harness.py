"""Kill a ripcord command at a store call or a seeded moment, then prove what it left.

A `World` is a prepared repository state (one or two repositories, pictures of the
sources their snapshots were taken of) and the command to kill in it. Each trial
clones the world, runs the command in a subprocess (tests/crash/boot.py) that
SIGKILLs itself at the chosen store call, or is killed after a seeded delay, and
then asserts, in-process through the CLI:

- `check` finds no error: at most data that nothing references (`ALLOWED_NOTES`);
- every snapshot listed restores byte for byte to the picture of its source, and the
  snapshots the command must not remove are all still listed;
- the stale lock of the killed process blocks nothing: the same command run again
  exits 0 and finishes the job (`Scenario.done`), and `check` is clean again.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from tests.conftest import PASSWORD, Result, UrlCli
from tests.crash.boot import KILL_AT, TRACE
from tests.crash.sites import Site
from tests.trees import TreeState, assert_same, restored, tree_state

ROOT = Path(__file__).resolve().parents[2]
# what a killed command may leave that is not an error: data nothing references yet
ALLOWED_NOTES = frozenset({"unindexed-pack", "unused-data"})
KILLED = -9
HUNG = 600  # seconds: a command of these small worlds that runs longer is stuck (a lock?)
_trials = itertools.count()


@dataclass(frozen=True)
class Kill:
    """Where to kill: `at` a store call (boot.py's spec: "7", "put:3", "12+"), or
    `delay` seconds after the start (a seeded moment)."""

    at: str | None = None
    delay: float | None = None

    def __str__(self) -> str:
        return self.at if self.at is not None else f"{self.delay:.3f}s"


@dataclass(frozen=True)
class Picture:
    """A source tree as it was when a snapshot tagged with its tag was taken."""

    source: Path
    state: TreeState


@dataclass
class World:
    """Repositories by role ("main", "copy"), the command to kill (`{role}` is replaced by
    that repository's location), and what each snapshot tag must restore to."""

    root: Path  # this world's own cache, config and restore targets
    repos: dict[str, str]
    argv: list[str]
    pictures: dict[str, Picture]
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {**world_env(self.root), **self.env}

    def cli(self, role: str = "main") -> UrlCli:
        return UrlCli(self.repos[role], self.env)

    def args(self) -> list[str]:
        """The command's arguments, locations filled in (without -r)."""
        return [arg.format(**self.repos) for arg in self.argv]

    def command(self) -> list[str]:
        return ["-r", self.repos["main"], *self.args()]

    def clone(self, site: Site, key: str) -> World:
        """A copy of this world to kill the command in (repositories and local cache)."""
        root = self.root.parent / key
        root.mkdir()
        if (self.root / "cache").exists():
            shutil.copytree(self.root / "cache", root / "cache")
        repos = {role: site.clone(loc, f"{key}-{role}") for role, loc in self.repos.items()}
        env = {**self.env, **world_env(root)}
        return replace(self, root=root, repos=repos, env=env)

    def discard(self, site: Site) -> None:
        for loc in self.repos.values():
            site.discard(loc)
        shutil.rmtree(self.root, ignore_errors=True)


def world_env(root: Path) -> dict[str, str]:
    """What every ripcord run of a world sees: its own directories, no progress bars."""
    return {
        "RIPCORD_PASSWORD": PASSWORD,
        "RIPCORD_CACHE_DIR": str(root / "cache"),
        "RIPCORD_DATA_DIR": str(root / "data"),
        "RIPCORD_CONFIG_DIR": str(root / "config"),
        "RIPCORD_STATE_DIR": str(root / "state"),
        "RIPCORD_NO_PROGRESS": "1",
    }


class Scenario(Protocol):
    """One command to kill: how to prepare its world and what must hold around it."""

    name: str

    def prepare(self, site: Site, root: Path) -> World:
        """Make the repositories and sources; `root` is a fresh scratch directory."""

    def kept(self) -> dict[str, set[str]]:
        """Role -> tags that stay listed whatever moment the command is killed at."""

    def done(self) -> dict[str, set[str]]:
        """Role -> exactly the tags listed once the command finished."""

    def settle(self, world: World) -> None:
        """After a kill, before the checks: adjust `world` to what now opens it."""

    def rerun(self, world: World) -> Result | None:
        """Run the command again in-process (None: nothing was left to do)."""

    def finished(self, world: World) -> None:
        """Assert what only a finished command leaves (beyond `done`)."""


# -- running the command ------------------------------------------------------------------


def run(world: World, kill: Kill | None = None, trace: Path | None = None) -> Result:
    """The command in a subprocess, SIGKILLed as `kill` says (at a call, or after a delay)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIPCORD_")}
    env.update(world.env, PYTHONPATH=str(ROOT))
    if kill is not None and kill.at is not None:
        env[KILL_AT] = kill.at
    if trace is not None:
        env[TRACE] = str(trace)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash.boot", *world.command()],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    delay = kill.delay if kill is not None and kill.delay is not None else None
    try:
        out, err = proc.communicate(timeout=HUNG if delay is None else delay)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        assert delay is not None, f"ripcord {world.args()[0]} still ran after {HUNG} s: {err}"
    return Result(proc.returncode, out, err)


@dataclass(frozen=True)
class Count:
    """What a counting run of the command saw: its store calls (op, name), in the order
    they started, and how long it took (the span the seeded moments are drawn from)."""

    calls: list[tuple[str, str]]
    seconds: float


def count(world: World, site: Site) -> Count:
    """Run the command to the end on a clone of `world`, tracing its store calls."""
    trial = world.clone(site, f"{world.root.name}-count")
    trace = trial.root / "trace"
    try:
        start = time.monotonic()
        r = run(trial, trace=trace)
        seconds = time.monotonic() - start
        assert r.code == 0, f"the counting run failed ({r.code}): {r.err}"
        lines = trace.read_text().splitlines()
    finally:
        trial.discard(site)
    return Count([(op, name) for op, name in (line.split(" ", 1) for line in lines)], seconds)


def every_call(seen: list[tuple[str, str]]) -> list[Kill]:
    """Before each call in turn, and after the last one."""
    return [Kill(str(k)) for k in range(1, len(seen) + 1)] + [Kill(f"{len(seen)}+")]


def every_write(seen: list[tuple[str, str]]) -> list[Kill]:
    """Before each put and each delete in turn, and after the last call: the stored state
    changes only at writes, so these reach every state a kill can leave (one thread)."""
    count = Counter(op for op, _ in seen)
    return [
        *(Kill(f"{op}:{k}") for op in ("put", "delete") for k in range(1, count[op] + 1)),
        Kill(f"{len(seen)}+"),
    ]


def sample(points: list[Kill], n: int, rng: random.Random) -> list[Kill]:
    """`n` of the points, chosen by `rng`, in order."""
    if len(points) <= n:
        return points
    return sorted(rng.sample(points, n), key=points.index)


def moments(seconds: float, n: int, rng: random.Random) -> list[Kill]:
    """`n` seeded moments within the first `seconds` of the command."""
    return [Kill(delay=rng.uniform(0.0, seconds)) for _ in range(n)]


# -- what must hold after a kill ------------------------------------------------------------


def assert_consistent(cli: UrlCli) -> list[str]:
    """`check` finds no error and notes only unreferenced data; the kinds of its notes."""
    r = cli("check", "--json")
    assert r.code == 0, f"check exited {r.code}: {r.err}{r.out}"
    doc = r.json
    assert doc["ok"] and doc["errors"] == [], doc["errors"]
    kinds = [n["kind"] for n in doc["notes"]]
    assert set(kinds) <= ALLOWED_NOTES, doc["notes"]
    return kinds


def assert_restorable(world: World, role: str) -> set[str]:
    """Every snapshot listed restores byte for byte to its tag's picture; the tags listed."""
    cli = world.cli(role)
    tags = set()
    for snap in cli.ok("snapshots", "--json").json:
        (tag,) = set(snap["tags"]) & world.pictures.keys()
        picture = world.pictures[tag]
        target = world.root / "restore" / snap["id"][:12]
        cli.ok("restore", snap["id"], "--target", str(target))
        assert_same(picture.state, tree_state(restored(target, picture.source)))
        shutil.rmtree(target)
        tags.add(tag)
    return tags


@dataclass(frozen=True)
class Outcome:
    """One trial: where it was killed, whether the kill came before the command ended,
    and what `check` noted right after it."""

    scenario: str
    site: str
    kill: str
    killed: bool
    notes: tuple[str, ...]


def trial(scenario: Scenario, site: Site, world: World, kill: Kill) -> Outcome:
    """Kill the command once in a clone of `world` and assert everything the module says."""
    key = f"{world.root.name}-{next(_trials)}"
    clone = world.clone(site, key)
    try:
        r = run(clone, kill)
        where = f"{scenario.name} on {site.name} killed at {kill}"
        assert r.code in (0, KILLED), f"{where}: exit {r.code}: {r.err}"
        scenario.settle(clone)
        notes: list[str] = []
        for role, kept in scenario.kept().items():
            notes += assert_consistent(clone.cli(role))
            listed = assert_restorable(clone, role)
            assert kept <= listed, f"{where}: {role} lost {kept - listed}"
        again = scenario.rerun(clone)
        if again is not None:
            assert again.code == 0, f"{where}: the rerun exited {again.code}: {again.err}"
        for role, done in scenario.done().items():
            assert_consistent(clone.cli(role))
            listed = assert_restorable(clone, role)
            assert listed == done, f"{where}: after the rerun {role} lists {listed}, not {done}"
        scenario.finished(clone)
        return Outcome(scenario.name, site.name, str(kill), r.code == KILLED, tuple(notes))
    finally:
        clone.discard(site)


def trials(scenario: Scenario, site: Site, world: World, kills: list[Kill]) -> Iterator[Outcome]:
    for kill in kills:
        yield trial(scenario, site, world, kill)
