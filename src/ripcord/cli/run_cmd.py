"""ripcord run: carry out the plan (back up, replicate, retain, prove), step by step."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ripcord.cli.env import Env, json_option, pass_env, rows
from ripcord.cli.plan_env import open_spec
from ripcord.errors import UsageError
from ripcord.plan.run import ALARM, FAILED, OK, SKIPPED, WARN, RunReport, run_plan
from ripcord.repository import parse_time

STYLE = {OK: "green", SKIPPED: "dim", WARN: "yellow", FAILED: "red", ALARM: "bold red"}


@click.command("run")
@click.option(
    "--time",
    "at",
    metavar="ISO8601",
    help="Act as if it were this time: snapshots, retention and schedules (for tests and"
    " catching up by hand).",
)
@json_option
@pass_env
def run_cmd(env: Env, at: str | None) -> int:
    """Carry out the plan given by --plan: back up, copy, forget and prune, check and drill.

    Each source is backed up to the plan's first repository that can be reached,
    and what every other repository lacks of the plan's snapshots is copied to it
    (with mode = "independent", each repository gets its own backup instead).
    Then each repository's retention is applied, and its check and restore drill
    run when their schedule says they are due. One unreachable repository or
    failed step does not stop the others; every step is reported, and the hooks
    hear the summary.

    Exits 0 when every step succeeded, 3 when a backup could not read some files,
    4 on a guard alarm, 1 when any step failed.
    """
    plan = env.plan()
    if plan is None:
        raise UsageError("run carries out a plan: give it with --plan FILE (or RIPCORD_PLAN)")
    now = parse_time(at) if at else None
    report = run_plan(plan, lambda spec: open_spec(env, spec), now, env.progress, env.say)
    env.emit(report.doc(), lambda c: _human(c, report))
    return report.exit_code


def _human(out: Console, report: RunReport) -> None:
    c = rows(out)
    t = Table("step", "repository", "source", "", "what happened", box=None)
    for s in report.steps:
        t.add_row(
            s.action,
            escape(s.repository),
            escape(s.source or ""),
            f"[{STYLE[s.status]}]{s.status}[/]",
            escape(s.detail),
        )
    c.print(t)
    for h in report.hooks:
        mark = "[green]ok[/]" if h.ok else "[red]failed[/]"
        c.print(f"hook {h.kind} {escape(h.target)}: {mark} {escape(h.detail)}")
    c.print(
        f"run of plan [bold]{escape(report.plan)}[/]: [{STYLE[report.status]}]{report.status}[/]"
    )
