"""Protection and guard marks carried over to the copies of the snapshots they name.

A copy has a new id, so a mark in the source does not reach it: retention in
the target would drop a snapshot the source protects, or the last good one a
guard alarm pinned. Each mark is written in the target at most once: a mark
the target already has for that copy (from an earlier run, or written there by
hand, an `unprotect` included) is left to decide. Protection travels as it
stands in the source; releasing it later is done in each repository.
"""

from __future__ import annotations

from collections.abc import Mapping

from ripcord.repository import Repository

PROTECT_REASON = "protected in the repository it was copied from"


def carry_marks(
    source: Repository, target: Repository, chosen: list[str], copies: Mapping[str, str]
) -> int:
    """Write in `target` the marks the `chosen` source snapshots have in `source`, naming
    their copies (`copies`: source id -> id in the target); returns how many were written."""
    theirs, mine = source.standing(), target.standing()
    written = 0
    for snap in chosen:
        alarm, copy = theirs.alarms.get(snap), copies.get(snap)
        if alarm is None or copy is None:
            continue
        if copy not in mine.alarms:  # the alarm pins the copies of the same last good
            pins = [copies[p] for p in alarm.snapshots[1:] if p in copies]
            target.add_mark("alarm", [copy, *pins], alarm.reason)
            written += 1
        answer = theirs.answers.get(snap)
        if answer is not None and copy not in mine.answers:
            target.add_mark(answer.kind, [copy], answer.reason)
            written += 1
    if written:
        mine = target.standing()
    decided = {s for m in target.marks() if m.kind in ("protect", "unprotect") for s in m.snapshots}
    protect = sorted(
        {
            copies[s]
            for s in chosen
            if s in copies
            and s in theirs.protected
            and copies[s] not in mine.protected
            and copies[s] not in decided
        }
    )
    if protect:  # a pin whose alarm did not travel (its suspicious snapshot stayed behind)
        target.add_mark("protect", protect, PROTECT_REASON)
        written += 1
    return written
