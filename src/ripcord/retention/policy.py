"""Which snapshots a retention policy keeps, hardened against planted snapshots.

Semantics follow restic's ``forget``: per group, snapshots are walked newest
first and each period rule keeps the newest snapshot of each of its N most
recent buckets (hour, day, ISO week, month, year in the local time zone).

A repository writer we do not trust could plant snapshots to push real ones
out of the quotas, so on top of restic:

- a snapshot dated more than ``skew`` after the real clock fills no quota and
  never counts as newest (a far-future snapshot would otherwise be "last 1"
  for ever); it is kept only when protected or tagged to keep;
- ``keep_within`` counts back from the real clock, not from the newest
  snapshot, which a planted date could move;
- snapshots flagged suspicious (by change analysis) fill no quota either;
- the newest trustworthy snapshot of each group and every protected snapshot
  are always kept.

Only trustworthy snapshots take part in the quotas, so adding planted
snapshots can never make a previously kept trustworthy one go.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from ripcord.errors import UsageError
from ripcord.repository import Snapshot
from ripcord.retention.duration import format_duration

GROUP_FIELDS = ("host", "paths", "tags")
DEFAULT_SKEW = timedelta(minutes=5)
FUTURE_NOTE = "dated in the future: never counts as newest"
SUSPICIOUS_NOTE = "suspicious: fills no keep quota"
NEWEST = "newest trustworthy of its group"
PROTECTED = "protected"

# period rules: (name, strftime format of the bucket); ISO weeks so a week
# spanning New Year is one bucket
_PERIODS = (
    ("hourly", "%Y-%m-%d %H:00"),
    ("daily", "%Y-%m-%d"),
    ("weekly", "%G-W%V"),
    ("monthly", "%Y-%m"),
    ("yearly", "%Y"),
)


@dataclass(frozen=True)
class Policy:
    """How many snapshots to keep; every count is 0 for "rule off"."""

    keep_last: int = 0
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0
    keep_within: timedelta | None = None
    keep_tags: AbstractSet[str] = frozenset()
    group_by: tuple[str, ...] = ("host", "paths")

    def check(self) -> None:
        """Refuse a policy that is malformed or would keep nothing."""
        counts = {"last": self.keep_last} | {name: self.count(name) for name, _ in _PERIODS}
        for name, n in counts.items():
            if n < 0:
                raise UsageError(f"keep {name} must not be negative: {n}")
        if self.keep_within is not None and self.keep_within < timedelta(0):
            raise UsageError(f"keep within must not be negative: {self.keep_within}")
        unknown = [f for f in self.group_by if f not in GROUP_FIELDS]
        if unknown:
            raise UsageError(
                f"cannot group by {', '.join(unknown)}: choose from {', '.join(GROUP_FIELDS)}"
            )
        if not any(counts.values()) and self.keep_within is None and not self.keep_tags:
            raise UsageError("no keep rule given: refusing to forget everything")

    def count(self, period: str) -> int:
        """The quota of one period rule ("hourly" ... "yearly")."""
        n: int = getattr(self, f"keep_{period}")
        return n


@dataclass
class Decision:
    """The verdict on one snapshot; ``reasons`` are why it is kept (empty if not)."""

    snapshot: Snapshot
    keep: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings, never a reason to keep


def group_key(snap: Snapshot, group_by: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """What identifies the snapshot's group; order of paths and tags does not matter."""
    parts = {
        "host": (snap.host,),
        "paths": tuple(sorted(snap.paths)),
        "tags": tuple(sorted(set(snap.tags))),
    }
    return tuple(parts[f] for f in group_by)


def decide(
    snapshots: list[Snapshot],
    policy: Policy,
    now: datetime,
    protected: AbstractSet[str] = frozenset(),
    suspicious: AbstractSet[str] = frozenset(),
    skew: timedelta = DEFAULT_SKEW,
    tz: tzinfo | None = None,
) -> list[Decision]:
    """Decide every snapshot, newest first (ties by id): the order of the input is irrelevant.

    `now` is the real clock (time zone aware); `tz` is the zone the period
    buckets are cut in, the local zone when None.
    """
    policy.check()
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    ordered = sorted(snapshots, key=lambda s: (s.time, s.id), reverse=True)
    decisions = {s.id: Decision(s, keep=False) for s in ordered}
    groups: dict[tuple[tuple[str, ...], ...], list[Snapshot]] = {}
    for snap in ordered:
        d = decisions[snap.id]
        future = snap.time - now > skew
        if future:
            d.notes.append(FUTURE_NOTE)
        elif snap.id in suspicious:
            d.notes.append(SUSPICIOUS_NOTE)
        else:
            groups.setdefault(group_key(snap, policy.group_by), []).append(snap)
        if snap.id in protected:
            d.reasons.append(PROTECTED)
        d.reasons.extend(f"tag {t}" for t in sorted(set(snap.tags) & set(policy.keep_tags)))
        if policy.keep_within is not None and not future and now - snap.time <= policy.keep_within:
            d.reasons.append(f"within {format_duration(policy.keep_within)}")
    for trusted in groups.values():
        decisions[trusted[0].id].reasons.append(NEWEST)
        for snap, reason in _quotas(trusted, policy, tz):
            decisions[snap.id].reasons.append(reason)
    for d in decisions.values():
        d.keep = bool(d.reasons)
    return [decisions[s.id] for s in ordered]


def _quotas(
    trusted: list[Snapshot], policy: Policy, tz: tzinfo | None
) -> Iterable[tuple[Snapshot, str]]:
    """(snapshot, reason) for each quota slot a group's trustworthy snapshots fill."""
    for rank, snap in enumerate(trusted[: policy.keep_last], start=1):
        yield snap, f"last {rank}"
    for name, fmt in _PERIODS:
        yield from _buckets(trusted, policy.count(name), name, fmt, tz)


def _buckets(
    trusted: list[Snapshot], quota: int, name: str, fmt: str, tz: tzinfo | None
) -> Iterable[tuple[Snapshot, str]]:
    """The newest snapshot of each of the `quota` most recent buckets (newest first input)."""
    last: str | None = None
    for snap in trusted:
        if quota <= 0:
            return
        # astimezone(None) converts to the local zone
        b = snap.time.astimezone(tz).strftime(fmt)
        if b != last:
            yield snap, f"{name} {b}"
            quota -= 1
            last = b
