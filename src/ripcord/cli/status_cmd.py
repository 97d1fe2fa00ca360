"""ripcord status: each copy's facts, then the 3-2-1-1-0 verdict rule by rule."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.plan_env import open_spec
from ripcord.errors import EXIT_GUARD_ALARM, EXIT_RULE_BROKEN
from ripcord.plan.model import Plan, RepositorySpec
from ripcord.plan.state import CopyState, Proof, merged, recall, remember, state_doc
from ripcord.plan.status import TIMEOUT, ago, behind, facts, observe_all, span, verdict
from ripcord.repository import parse_time


@click.command("status")
@click.option(
    "--time",
    "at",
    metavar="ISO8601",
    help="Judge as of this time instead of now (later snapshots and records are not counted).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long a repository may take to answer before it counts as unreachable.",
)
@json_option
@pass_env
def status_cmd(env: Env, at: str | None, timeout: float) -> int:
    """Show each repository's newest snapshots, last check and drill, immutability and
    unanswered guard alarms; with --plan, then the 3-2-1-1-0 verdict, rule by rule.

    3 copies (the live data counts as one) hold a snapshot within the plan's RPO;
    2 different media; 1 copy offsite; 1 immutable (as the store says, not the
    plan) or offline; 0 errors in each copy's latest check and drill. A copy
    that cannot be reached now is reported from its last observation.

    Exits 0 when every rule holds, 6 when one does not, 4 when they hold but a
    guard alarm awaits an answer (`guard ack`). Without --plan, or with -r: that
    one repository's facts, no verdict; exit 4 with an unanswered alarm.
    """
    now = parse_time(at) if at else datetime.now().astimezone()
    plan = env.plan()
    if plan is None or env.repo is not None:  # -r: that one repository (a plan's, by name)
        return _one(env, now)
    before, problem = recall(plan)
    observed = observe_all(plan, lambda spec: open_spec(env, spec), now, timeout)
    if problem:
        env.err.print(f"[yellow]warning:[/] {escape(problem)}")
    problem = remember(plan, observed)
    if problem:
        env.err.print(f"[yellow]warning:[/] {escape(problem)}")
    states = [merged(s, before.get(s.repository)) for s in observed]
    rules = verdict(plan, states, now)
    alarms = sum(len(s.alarms) for s in states)  # remembered ones too: nobody answered them
    code = (
        EXIT_RULE_BROKEN if not all(r.holds for r in rules) else EXIT_GUARD_ALARM if alarms else 0
    )
    doc = {
        "plan": plan.name,
        "path": str(plan.path),
        "time": now.isoformat(),
        "rpo_seconds": plan.rpo.total_seconds(),
        "repositories": [
            _copy_doc(plan, spec, state, now)
            for spec, state in zip(plan.repositories, states, strict=True)
        ],
        "rules": [{"name": r.name, "holds": r.holds, "reason": r.reason} for r in rules],
        "holds": all(r.holds for r in rules),
        "open_alarms": alarms,
        "exit_code": code,
    }

    def human(c: Console) -> None:
        c.print(f"plan [bold]{escape(plan.name)}[/] ({escape(str(plan.path))}) as of {_when(now)}")
        for spec, state in zip(plan.repositories, states, strict=True):
            _copy_table(c, plan, spec, state, now)
        c.print()
        c.print("[bold]3-2-1-1-0[/]")
        for r in rules:
            mark = "[green]holds[/] " if r.holds else "[red]BROKEN[/]"
            c.print(f"  {mark} {r.name}: {escape(r.reason)}")

    env.emit(doc, human)
    return code


def _one(env: Env, now: datetime) -> int:
    """One repository (-r): its facts and alarms, no verdict (no plan, no rules)."""
    plan = Plan(Path("-"), (), ())
    where = env.repo or "the default repository"
    with env.open() as repo:
        state = facts(repo, where, plan, now)
    doc = {**state_doc(state), "time": now.isoformat()}
    doc.pop("reachable")

    def human(c: Console) -> None:
        c.print(f"repository [bold]{escape(where)}[/] as of {_when(now)}")
        t = _Rows()
        if not state.newest:
            t.add_row("snapshots", "none")
        for n in state.newest:
            t.add_row(n.source, _snap(n.snapshot, n.time, now))
        _proofs(t, state, now)
        if state.immutable is not None:
            mark = "[green]yes[/]" if state.immutable.verified else "no"
            t.add_row("immutable", f"{mark}: {escape(state.immutable.how)}")
        t.print(c)
        _alarms(c, state, None)

    env.emit(doc, human)
    return EXIT_GUARD_ALARM if state.alarms else 0


def _copy_doc(plan: Plan, spec: RepositorySpec, state: CopyState, now: datetime) -> dict[str, Any]:
    doc = state_doc(state)
    for n in doc["newest"]:
        t = datetime.fromisoformat(n["time"]) if n["time"] else None
        n["age_seconds"] = None if t is None else (now - t).total_seconds()
        n["within_rpo"] = t is not None and now - t <= plan.rpo
    if doc["immutable"] is not None:
        doc["immutable"]["claimed"] = spec.immutable
    why = behind(plan, spec, state, now)
    return {
        **doc,
        "url": spec.url,
        "media": spec.media,
        "offsite": spec.offsite,
        "offline": spec.offline,
        "immutable_claimed": spec.immutable,
        "remembered": state.remembered,
        "current": why is None,
        "behind": why,
    }


def _copy_table(
    c: Console, plan: Plan, spec: RepositorySpec, state: CopyState, now: datetime
) -> None:
    traits = [
        spec.media,
        *(w for w, on in (("offsite", spec.offsite), ("offline", spec.offline)) if on),
    ]
    c.print()
    c.print(f"[bold]{escape(spec.name)}[/] ({escape(', '.join(traits))}) {escape(spec.url)}")
    t = _Rows()
    if state.reachable:
        t.add_row("reachable", "[green]yes[/]")
    elif state.known:
        seen = f"last seen {ago(now, state.observed)}"
        colour = "yellow" if spec.offline else "red"
        t.add_row("reachable", f"[{colour}]no[/]: {escape(state.error or '')}; {seen}")
    else:
        t.add_row("reachable", f"[red]no[/]: {escape(state.error or '')}; never seen")
    for n in state.newest:
        age = ""
        if n.time is not None and now - n.time <= plan.rpo:
            age = " [green]within the RPO[/]"
        elif n.time is not None:
            age = f" [red]older than the RPO of {span(plan.rpo)}[/]"
        t.add_row(n.source, _snap(n.snapshot, n.time, now) + age)
    if state.known:
        _proofs(t, state, now)
        claim = "claimed by the plan" if spec.immutable else "not claimed"
        if state.immutable is not None:
            mark = "[green]yes[/]" if state.immutable.verified else "no"
            if spec.immutable and not state.immutable.verified:
                mark = "[red]NO[/]"
            t.add_row("immutable", f"{mark}: {escape(state.immutable.how)} ({claim})")
    t.print(c)
    _alarms(c, state, spec.name)


class _Rows:
    """`label  value` lines aligned on the longest label. Not a rich Table: a row is
    one line (for grep) that the terminal wraps, and a path is never cut short."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add_row(self, label: str, value: str) -> None:
        self.rows.append((label, value))

    def print(self, c: Console) -> None:
        width = max((len(label) for label, _ in self.rows), default=0)
        for label, value in self.rows:
            c.print(f"  {escape(label.ljust(width))}  {value}")


def _proofs(t: _Rows, state: CopyState, now: datetime) -> None:
    t.add_row("last check", _proof(state.check, now))
    t.add_row("last drill", _proof(state.drill, now))


def _proof(p: Proof | None, now: datetime) -> str:
    if p is None:
        return "[yellow]never[/]"
    if p.result == "pass":
        return f"[green]pass[/] {_when(p.time)} ({ago(now, p.time)})"
    what = f"{p.errors} error{'s' * (p.errors != 1)}"
    first = f": {escape(p.first)}" if p.first else ""
    return f"[red]FAIL[/] {_when(p.time)} ({ago(now, p.time)}), {what}{first}"


def _snap(snap: str | None, time: datetime | None, now: datetime) -> str:
    if snap is None or time is None:
        return "[red]no snapshot[/]"
    return f"{snap[:12]} {_when(time)} ({ago(now, time)})"


def _alarms(c: Console, state: CopyState, name: str | None) -> None:
    repo = f"-r {name} " if name else ""
    for a in state.alarms:
        c.print(
            f"  [red]GUARD ALARM[/] on {a.snapshot[:12]} ({_when(a.time)}): {escape(a.reason)};"
            f" `ripcord {repo}guard ack {a.snapshot[:12]}` if this was intentional"
        )


def _when(t: datetime) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M")
