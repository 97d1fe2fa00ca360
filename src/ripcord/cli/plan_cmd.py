"""ripcord plan check / show: is the plan file right, and what ripcord understood of it."""

from __future__ import annotations

from typing import Any

import click
import tomli_w
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.errors import EXIT_USAGE, UsageError
from ripcord.plan.advice import advice
from ripcord.plan.dump import plan_dict
from ripcord.plan.load import PlanError, load_plan
from ripcord.plan.model import Plan
from ripcord.retention.duration import format_duration

FILE_ARG = click.argument("file", required=False, metavar="[FILE]")


@click.group("plan")
def plan_group() -> None:
    """Check a plan file (docs/PLAN.md) and show how ripcord reads it.

    FILE defaults to the global --plan (or RIPCORD_PLAN).
    """


def _load(env: Env, file: str | None) -> Plan:
    if file is not None:
        return load_plan(file)
    plan = env.plan()
    if plan is None:
        raise UsageError("no plan file: give FILE, or --plan FILE (or set RIPCORD_PLAN)")
    return plan


@plan_group.command("check")
@FILE_ARG
@json_option
@pass_env
def check(env: Env, file: str | None) -> int:
    """Validate a plan file: every problem with its line and key (exit 2), or a summary.

    Also prints advice: what the plan, as written, cannot achieve (a 3-2-1-1-0 rule
    no repository can meet, a password file readable by others). Advice does not
    change the exit code.
    """
    try:
        plan = _load(env, file)
    except PlanError as e:
        error = e
        problems = [{"line": p.line, "key": p.key, "message": p.message} for p in e.problems]
        env.emit(
            {"ok": False, "plan": str(e.path), "problems": problems},
            lambda c: c.print(escape(str(error))),
        )
        return EXIT_USAGE
    notes = advice(plan)
    env.emit(
        {"ok": True, **summary_doc(plan), "advice": notes},
        lambda c: _show_summary(c, plan, notes),
    )
    return 0


@plan_group.command("show")
@FILE_ARG
@json_option
@pass_env
def show(env: Env, file: str | None) -> None:
    """Print the plan as ripcord reads it, every default filled in (TOML, or --json).

    The output is itself a valid plan file.
    """
    plan = _load(env, file)
    env.emit(
        {"plan": str(plan.path), "name": plan.name, "resolved": plan_dict(plan)},
        lambda c: c.out(tomli_w.dumps(plan_dict(plan)), end="", highlight=False),
    )


def summary_doc(plan: Plan) -> dict[str, Any]:
    return {
        "plan": str(plan.path),
        "name": plan.name,
        "mode": plan.mode,
        "sources": [{"name": s.name, "paths": list(s.paths)} for s in plan.sources],
        "repositories": [
            {
                "name": r.name,
                "url": r.url,
                "media": r.media,
                "offsite": r.offsite,
                "immutable": r.immutable,
                "offline": r.offline,
            }
            for r in plan.repositories
        ],
        "schedules": {
            "rpo": format_duration(plan.rpo),
            "check": format_duration(plan.check.every) if plan.check else None,
            "drill": format_duration(plan.drill.every) if plan.drill else None,
        },
    }


def _show_summary(c: Console, plan: Plan, notes: list[str]) -> None:
    c.print(f"plan OK: [bold]{escape(str(plan.path))}[/]")
    for s in plan.sources:
        c.print(f"source [bold]{escape(s.name)}[/]: {escape(', '.join(s.paths))}")
    for r in plan.repositories:
        kept = [k for k, on in (("offsite", r.offsite), ("immutable", r.immutable)) if on]
        kept += ["offline"] if r.offline else []
        traits = ", ".join([r.media, *kept])
        c.print(f"repository [bold]{escape(r.name)}[/] ({traits}): {escape(r.url)}")
    check = f"every {format_duration(plan.check.every)}" if plan.check else "none"
    drill = f"every {format_duration(plan.drill.every)}" if plan.drill else "none"
    c.print(
        f"mode {plan.mode}; a copy is current within {format_duration(plan.rpo)};"
        f" check {check}; drill {drill}"
    )
    for note in notes:
        c.print(f"[yellow]advice:[/] {escape(note)}")
