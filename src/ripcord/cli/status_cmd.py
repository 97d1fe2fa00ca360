"""ripcord status: each copy's facts, then the 3-2-1-1-0 verdict rule by rule."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.plan_env import open_spec
from ripcord.plan.model import Plan, RepositorySpec
from ripcord.plan.state import CopyState, Proof
from ripcord.plan.status import TIMEOUT, ago, facts, span
from ripcord.plan.survey import Copy, Survey, single, survey
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
    seen = survey(plan, lambda spec: open_spec(env, spec), now, timeout)
    for warning in seen.warnings:
        env.err.print(f"[yellow]warning:[/] {escape(warning)}")

    def human(c: Console) -> None:
        c.print(f"plan [bold]{escape(plan.name)}[/] ({escape(str(plan.path))}) as of {_when(now)}")
        for copy in seen.copies:
            _copy_table(c, seen, copy)
        c.print()
        c.print("[bold]3-2-1-1-0[/]")
        for r in seen.rules:
            mark = "[green]holds[/] " if r.holds else "[red]BROKEN[/]"
            c.print(f"  {mark} {r.name}: {escape(r.reason)}")

    env.emit(seen.doc(), human)
    return seen.exit_code


def _one(env: Env, now: datetime) -> int:
    """One repository (-r): its facts and alarms, no verdict (no plan, no rules)."""
    where = env.repo or "the default repository"
    with env.open() as repo:
        state = facts(repo, where, Plan(Path("-"), (), ()), now)
    seen = single(RepositorySpec(where, where, "disk"), state, now)

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

    env.emit(seen.doc(), human)
    return seen.exit_code


def _copy_table(c: Console, view: Survey, copy: Copy) -> None:
    plan, spec, state, now = view.plan, copy.spec, copy.state, view.now
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
        if view.within_rpo(n):
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
