"""What a plan file says, as plain values (the schema is docs/PLAN.md).

A plan names what to back up (sources), where the copies live (named
repositories, each with its media, whether it is offsite, immutable or kept
offline), how long snapshots are kept, how often each copy is proven by a
check and a restore drill, how fresh a copy must be (the RPO), the change
guard's thresholds and the hooks that tell the outside world. Loading and
validating a file is plan/load.py; this module holds only the result, so that
run, status, hooks and schedule depend on the meaning and not on TOML.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ripcord.guard.verdict import GuardSettings
from ripcord.retention.policy import Policy

MODES = ("copy", "independent")  # back up once and copy, or back up to each repository
MEDIA = ("disk", "ssd", "nas", "tape", "optical", "object-storage", "server", "other")


@dataclass(frozen=True)
class Source:
    """One set of paths backed up together into one snapshot per run."""

    name: str  # unique in the plan; default: the last component of the first path
    paths: tuple[str, ...]  # absolute
    excludes: tuple[str, ...] = ()
    exclude_caches: bool = False
    one_file_system: bool = False
    tags: tuple[str, ...] = ()
    canaries: tuple[str, ...] = ()  # files that must never change (the guard alarms)


@dataclass(frozen=True)
class Credentials:
    """Where a repository's password comes from; at most one is set (none: RIPCORD_PASSWORD
    or a prompt, as for -r)."""

    password_file: str | None = None
    password_command: str | None = None


@dataclass(frozen=True)
class RepositorySpec:
    name: str  # the table name: [repository.NAME]
    url: str  # a location as -r takes it (path, sftp://, s3://, rest:)
    media: str  # one of MEDIA: copies on one media type share its failure modes
    offsite: bool = False  # in another building than the live data
    immutable: bool = False  # claimed; status verifies it by asking the store
    offline: bool = False  # kept disconnected between runs (a rotated disk)
    credentials: Credentials = field(default_factory=Credentials)
    retention: Policy | None = None  # overrides the plan's [retention] for this copy


@dataclass(frozen=True)
class Schedule:
    """How often a proof is due, and how much it reads."""

    every: timedelta


@dataclass(frozen=True)
class DrillPlan(Schedule):
    sample: int = 20  # files restored and proven per drill
    max_bytes: int | None = 1 << 30


@dataclass(frozen=True)
class CheckPlan(Schedule):
    read_data_subset: str | None = "5%"  # as `check --read-data-subset`; None: metadata only


@dataclass(frozen=True)
class Hooks:
    """Commands run by a shell and URLs pinged (healthchecks style) around `run`.

    Each command gets the run's summary as JSON on stdin and RIPCORD_EVENT in its
    environment; each URL gets it as the body of a POST."""

    on_start: tuple[str, ...] = ()
    on_success: tuple[str, ...] = ()
    on_failure: tuple[str, ...] = ()
    on_alarm: tuple[str, ...] = ()  # a guard alarm (also a failure)
    ping_url: str | None = None  # healthchecks: URL/start, URL, URL/fail
    start_url: str | None = None  # explicit URLs override the ping_url derivation
    success_url: str | None = None
    failure_url: str | None = None
    timeout: float = 10.0  # seconds per command or request


@dataclass(frozen=True)
class Plan:
    path: Path  # the file it was read from
    sources: tuple[Source, ...]
    repositories: tuple[RepositorySpec, ...]  # in file order; the first is where `run` backs up
    mode: str = "copy"  # one of MODES
    host: str | None = None  # recorded in snapshots; None: this machine's name
    retention: Policy | None = None  # None: no retention (nothing is forgotten)
    prune: bool = True  # prune after forget in `run`
    drill: DrillPlan | None = None  # None: `run` runs no drills
    check: CheckPlan | None = None  # None: `run` runs no checks
    rpo: timedelta = timedelta(hours=26)  # newest snapshot older than this: not current
    guard: GuardSettings = field(default_factory=GuardSettings)
    hooks: Hooks = field(default_factory=Hooks)

    def repository(self, name: str) -> RepositorySpec | None:
        return next((r for r in self.repositories if r.name == name), None)

    @property
    def backup_host(self) -> str:
        """The host name its snapshots record."""
        return self.host or socket.gethostname()

    @property
    def name(self) -> str:
        """The plan's name (its file name without .toml): names the schedule and state."""
        return self.path.stem
