"""From change counts to a verdict: ok, warn or alarm, with the reasons in plain words.

Each rule compares one measure with a threshold that grows with this source's
own history: a folder that always churns raises its own bar, so only change
beyond what this source usually does counts. The score is the largest ratio
of a measure to its alarm threshold, so 1.0 and above is an alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ripcord.guard.changes import ChangeStats

OK, WARN, ALARM = "ok", "warn", "alarm"
LEVELS = (OK, WARN, ALARM)


@dataclass(frozen=True)
class GuardSettings:
    """Thresholds; the defaults and why they were chosen are in docs/GUARD.md."""

    encrypted_files: int = 10  # files changed the way encryption changes them
    encrypted_share: float = 0.01  # ... and this share of the files the parent had
    deleted_files: int = 20  # fewer files deleted is an edit, not a mass deletion
    deleted_share_warn: float = 0.01
    deleted_share: float = 0.05
    deleted_files_warn: int = 50  # a folder of this many files vanishing is named
    modified_share: float = 0.5  # rewritten in one go (a warning: edits can do that)
    random_growth: float = 0.01  # growth of the unexplained random share over the window
    window: int = 7  # snapshots of history the thresholds learn from
    history_margin: float = 2.0  # a measure must exceed its history's peak by this factor


@dataclass
class Verdict:
    level: str = OK
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def raise_to(self, level: str, score: float, reason: str) -> None:
        if LEVELS.index(level) > LEVELS.index(self.level):
            self.level = level
        self.score = max(self.score, score)
        self.reasons.append(reason)


def summary_of(stats: ChangeStats, verdict: Verdict) -> dict[str, int]:
    """What the next backups need to know of this one (kept in its snapshot summary)."""
    return {
        "guard_files": stats.files_after,
        "guard_added": stats.added,
        "guard_deleted": stats.deleted,
        "guard_modified": stats.modified,
        "guard_encrypted": stats.encrypted_like,
        "guard_random": stats.random_files,
        "guard_level": LEVELS.index(verdict.level),
        "guard_score_milli": round(verdict.score * 1000),
    }


def judge(
    stats: ChangeStats,
    history: Sequence[Mapping[str, int]],
    settings: GuardSettings | None = None,
) -> Verdict:
    """Judge one backup's changes against the summaries of earlier backups of the same
    source (oldest first; those without guard figures are ignored).

    A summary with `guard_unwanted` set (an alarm nobody called intentional) teaches
    nothing about what this source usually does; the slow-encryption baseline starts
    at the last alarm, whatever its answer, so one attack is not reported forever."""
    s = settings or GuardSettings()
    past = [h for h in history if "guard_files" in h][-s.window :]
    usual = [h for h in past if not h.get("guard_unwanted")]
    alarms = [i for i, h in enumerate(past) if h.get("guard_level") == LEVELS.index(ALARM)]
    since = past[alarms[-1] :] if alarms else past
    v = Verdict()
    before = max(stats.files_before, 1)

    def peak(key: str) -> float:
        """The largest share of files this source changed that way in the window."""
        return max((h[key] / max(h["guard_files"], 1) for h in usual), default=0.0)

    bar = max(
        s.encrypted_files,
        s.encrypted_share * before,
        s.history_margin * peak("guard_encrypted") * before,
    )
    if stats.encrypted_like:
        parts = []
        if stats.turned_random:
            parts.append(f"{stats.turned_random} went from compressible to random-looking")
        if stats.head_scrambled:
            parts.append(f"{stats.head_scrambled} had their first bytes scrambled")
        if stats.renamed_random:
            top = ", ".join(f"*.{x}" for x, _ in stats.new_suffixes.most_common(3))
            parts.append(f"{stats.renamed_random} were replaced by random-looking copies ({top})")
        share = stats.encrypted_like / before
        text = f"{stats.encrypted_like} files ({share:.1%}) changed like encryption: " + "; ".join(
            parts
        )
        ratio = stats.encrypted_like / bar
        v.raise_to(ALARM if ratio >= 1 else WARN, ratio, text)
    if stats.notes:
        folders = len({n.rsplit("/", 1)[0] for n in stats.notes})
        text = (
            f"ransom note {stats.notes[0].rsplit('/', 1)[-1]} appeared in {folders} folders"
            if folders > 1
            else f"a file that reads like a ransom note appeared: {stats.notes[0]}"
        )
        v.raise_to(ALARM if folders > 1 or stats.encrypted_like else WARN, 1.0, text)
    if stats.canaries:
        shown = ", ".join(stats.canaries[:3])
        v.raise_to(ALARM, 1.0, f"canary files changed or vanished: {shown}")
    _deletions(stats, s, peak("guard_deleted"), v)
    modified = stats.modified / before
    if modified >= max(s.modified_share, s.history_margin * peak("guard_modified")):
        v.raise_to(WARN, modified, f"{stats.modified} files ({modified:.0%}) were rewritten")
    _slow(stats, since, s, v)
    return v


def _deletions(stats: ChangeStats, s: GuardSettings, usual: float, v: Verdict) -> None:
    before = max(stats.files_before, 1)
    share = stats.deleted / before
    alarm_at = max(s.deleted_share, s.history_margin * usual)
    warn_at = max(s.deleted_share_warn, s.history_margin * usual)
    where, big_folder = "", False
    if stats.deleted_dirs and stats.deleted_dirs[0][1] >= s.deleted_files:
        d, n = stats.deleted_dirs[0]  # named whenever it is a mass deletion of its own
        where = f"; folder {d} vanished with {n} files"
        big_folder = n >= s.deleted_files_warn
    text = f"{stats.deleted} files ({share:.0%}) were deleted{where}"
    if stats.deleted < s.deleted_files:
        return
    if share >= alarm_at:
        v.raise_to(ALARM, share / alarm_at, text)
    elif share >= warn_at or big_folder:
        v.raise_to(WARN, share / alarm_at, text)


def _slow(stats: ChangeStats, past: list[Mapping[str, int]], s: GuardSettings, v: Verdict) -> None:
    """Slow encryption: the share of random-looking files nothing explains keeps growing."""
    if not past:
        return
    now = stats.random_files / max(stats.files_after, 1)
    low = min(h["guard_random"] / max(h["guard_files"], 1) for h in past)
    growth = now - low
    if (
        growth >= s.random_growth
        and stats.random_files - min(h["guard_random"] for h in past) >= s.encrypted_files
    ):
        v.raise_to(
            ALARM,
            growth / s.random_growth,
            f"random-looking files grew from {low:.1%} to {now:.1%} of all files over the"
            f" last {len(past)} backups",
        )
