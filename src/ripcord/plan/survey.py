"""One look at every copy: what `ripcord status` prints and the dashboard's overview shows.

`survey` observes the plan's repositories (each within a time limit), fills in
the ones it cannot reach from the state file, remembers what it saw, judges
the 3-2-1-1-0 rules and names the exit code; `single` is the same for one
repository without a plan (its facts, no verdict). Both callers read the
same Survey, so the page and the command cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ripcord.errors import EXIT_GUARD_ALARM, EXIT_RULE_BROKEN
from ripcord.plan.model import Plan, RepositorySpec
from ripcord.plan.state import Alarm, CopyState, Newest, merged, recall, remember, state_doc
from ripcord.plan.status import TIMEOUT, Connect, Rule, behind, observe_all, verdict


@dataclass(frozen=True)
class Copy:
    """One repository of the survey: how the plan describes it and what was seen."""

    spec: RepositorySpec
    state: CopyState
    behind: str | None  # why it is not current (None: it is, or no plan judged it)


@dataclass(frozen=True)
class Survey:
    plan: Plan  # for one repository: a plan without sources or repositories
    now: datetime
    copies: tuple[Copy, ...]
    rules: tuple[Rule, ...]  # empty: one repository, nothing to judge
    warnings: tuple[str, ...] = ()  # about the state file, in words

    @property
    def judged(self) -> bool:
        """A plan's verdict (not one repository's facts)."""
        return bool(self.rules)

    @property
    def holds(self) -> bool:
        return all(r.holds for r in self.rules)

    @property
    def alarms(self) -> list[tuple[Copy, Alarm]]:
        """Unanswered guard alarms, remembered ones too: nobody answered them."""
        return [(c, a) for c in self.copies for a in c.state.alarms]

    @property
    def exit_code(self) -> int:
        if not self.holds:
            return EXIT_RULE_BROKEN
        return EXIT_GUARD_ALARM if self.alarms else 0

    def within_rpo(self, n: Newest) -> bool:
        return n.time is not None and self.now - n.time <= self.plan.rpo

    def doc(self) -> dict[str, Any]:
        """`status --json`."""
        if not self.judged:
            (c,) = self.copies
            one = {**state_doc(c.state), "time": self.now.isoformat()}
            one.pop("reachable")
            return one
        return {
            "plan": self.plan.name,
            "path": str(self.plan.path),
            "time": self.now.isoformat(),
            "rpo_seconds": self.plan.rpo.total_seconds(),
            "repositories": [self._copy_doc(c) for c in self.copies],
            "rules": [{"name": r.name, "holds": r.holds, "reason": r.reason} for r in self.rules],
            "holds": self.holds,
            "open_alarms": len(self.alarms),
            "exit_code": self.exit_code,
        }

    def _copy_doc(self, c: Copy) -> dict[str, Any]:
        doc = state_doc(c.state)
        for d, n in zip(doc["newest"], c.state.newest, strict=True):
            d["age_seconds"] = None if n.time is None else (self.now - n.time).total_seconds()
            d["within_rpo"] = self.within_rpo(n)
        if doc["immutable"] is not None:
            doc["immutable"]["claimed"] = c.spec.immutable
        return {
            **doc,
            "url": c.spec.url,
            "media": c.spec.media,
            "offsite": c.spec.offsite,
            "offline": c.spec.offline,
            "immutable_claimed": c.spec.immutable,
            "remembered": c.state.remembered,
            "current": c.behind is None,
            "behind": c.behind,
        }


def survey(plan: Plan, connect: Connect, now: datetime, timeout: float = TIMEOUT) -> Survey:
    """Every repository of `plan` as of `now`, each given `timeout` seconds to answer; an
    unreachable one as last seen. Writes what it saw to the plan's state file."""
    before, recalled = recall(plan)
    observed = observe_all(plan, connect, now, timeout)
    remembered = remember(plan, observed)
    states = [merged(s, before.get(s.repository)) for s in observed]
    copies = tuple(
        Copy(spec, state, behind(plan, spec, state, now))
        for spec, state in zip(plan.repositories, states, strict=True)
    )
    rules = tuple(verdict(plan, states, now))
    return Survey(plan, now, copies, rules, tuple(w for w in (recalled, remembered) if w))


def single(spec: RepositorySpec, state: CopyState, now: datetime) -> Survey:
    """One repository's facts, without a plan: no verdict, exit 4 on an open alarm."""
    return Survey(Plan(Path("-"), (), ()), now, (Copy(spec, state, None),), ())
