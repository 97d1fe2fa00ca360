"""ripcord schedule: run a plan every day (systemd timer, or a crontab line), remove, show."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.errors import RipcordError, UsageError
from ripcord.plan import schedule as sched
from ripcord.plan.load import load_plan
from ripcord.retention.duration import HELP as DURATION_HELP
from ripcord.retention.duration import parse_duration

F = TypeVar("F", bound=Callable[..., Any])


def _common(f: F) -> F:
    """--plan, --user/--system and --json: every schedule subcommand takes them."""
    for option in reversed(
        (
            click.option(
                "--plan",
                "plan_file",
                metavar="FILE",
                help="The plan file (also taken from the global --plan).",
            ),
            click.option(
                "--user", "user", is_flag=True, help="Your own systemd units (default unless root)."
            ),
            click.option(
                "--system", "system", is_flag=True, help="System units (default for root)."
            ),
            json_option,
        )
    ):
        f = option(f)
    return f


def _plan_text(env: Env, plan_file: str | None) -> str:
    text = plan_file or env.plan_file
    if not text:
        raise UsageError("which plan? give --plan FILE")
    return text


def _scope(user: bool, system: bool) -> str:
    if user and system:
        raise UsageError("--user and --system exclude each other")
    return "user" if user else "system" if system else sched.default_scope()


@click.group("schedule")
def schedule() -> None:
    """Run a plan every day at a set time.

    Where systemd runs, `install` writes a timer and a service
    (ripcord-PLAN.timer/.service) and enables them: a run missed while the
    machine was off happens at the next boot, and the output goes to the
    journal (journalctl [--user] -u ripcord-PLAN). Without systemd it prints a
    crontab line to add.
    """


@schedule.command("install")
@_common
@click.option("--at", "at_text", required=True, metavar="HH:MM", help="Time of day, 24-hour.")
@click.option(
    "--random-delay",
    metavar="DURATION",
    help=f"Start up to this much later, at random (many hosts, one server): {DURATION_HELP}.",
)
@click.option(
    "--via",
    type=click.Choice(["auto", "systemd", "cron"]),
    default="auto",
    show_default=True,
    help="systemd units, a crontab line, or whichever fits this machine. systemd units"
    " written where systemd is not running are enabled by hand later.",
)
@click.option("--dry-run", is_flag=True, help="Print the files and commands; change nothing.")
@pass_env
def install(
    env: Env,
    plan_file: str | None,
    user: bool,
    system: bool,
    at_text: str,
    random_delay: str | None,
    via: str,
    dry_run: bool,
) -> None:
    """Run `ripcord --plan FILE run` every day at --at."""
    at = sched.At.parse(at_text)
    scope = _scope(user, system)
    delay = parse_duration(random_delay) if random_delay else None
    job = sched.Job(sched.ripcord_executable(), sched.plan_path(_plan_text(env, plan_file)))
    load_plan(job.plan)  # a plan that fails to load would fail every night instead
    running = sched.systemd_running()
    if via == "cron" or (via == "auto" and not running):
        _install_cron(env, job, at, dry_run, "asked for cron" if via == "cron" else "no systemd")
        return
    units = sched.make_units(job, at, scope, delay)
    directory = sched.unit_dir(scope)
    commands = sched.enable_commands(units, scope) if running else []
    if not dry_run:
        _write(directory, units, scope)
        sched.run_commands(commands)
    texts = {str(directory / name): text for name, text in units.files.items()}
    shown = [shlex.join(c) for c in commands]
    doc = {
        "plan": str(job.plan),
        "via": "systemd",
        "scope": scope,
        "at": str(at),
        "directory": str(directory),
        "units": texts,
        "commands": shown,
        "enabled": bool(commands) and not dry_run,
        "dry_run": dry_run,
    }

    def human(c: Console) -> None:
        if dry_run:
            for path, text in texts.items():
                c.print(f"[dim]# {escape(path)}[/]\n{escape(text)}")
            for command in shown:
                c.print(f"[dim]would run:[/] {escape(command)}")
            return
        c.print(f"wrote {escape(', '.join(texts))}")
        timer = f"{units.name}.timer"
        if commands:
            c.print(f"enabled {escape(timer)}: the plan runs daily at {at}")
        else:
            later = shlex.join(sched.enable_commands(units, scope)[1])
            c.print(
                f"systemd is not running here; where it runs, enable the timer: {escape(later)}"
            )

    env.emit(doc, human)


def _write(directory: Path, units: sched.Units, scope: str) -> None:
    try:
        sched.write_units(directory, units)
    except OSError as e:
        hint = " (--system needs root; --user installs for you alone)" if scope == "system" else ""
        raise RipcordError(f"cannot write units to {directory}: {e.strerror}{hint}") from None


def _install_cron(env: Env, job: sched.Job, at: sched.At, dry_run: bool, why: str) -> None:
    log = sched.log_path(job)
    line = sched.crontab_line(job, at, log)
    if not dry_run:
        log.parent.mkdir(parents=True, exist_ok=True)  # cron's >> fails without it
    doc: dict[str, Any] = {"plan": str(job.plan), "via": "cron", "at": str(at)}
    doc |= {"crontab_line": line, "log": str(log), "reason": why, "dry_run": dry_run}

    def human(c: Console) -> None:
        if why == "no systemd":
            c.print("systemd is not running here, so no timer: run it from cron instead.")
        c.print("Add this line to your crontab (crontab -e):\n")
        c.print(escape(line), soft_wrap=True)
        c.print(f"\nEach run's output is appended to {escape(str(log))}.")

    env.emit(doc, human)


@schedule.command("remove")
@_common
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@pass_env
def remove(env: Env, plan_file: str | None, user: bool, system: bool, dry_run: bool) -> None:
    """Stop running the plan: disable the timer and delete its units.

    The plan file itself is left alone (and need not exist any more).
    """
    job = _job_for(env, plan_file)
    scope = _scope(user, system)
    directory = sched.unit_dir(scope)
    present = [p for p in sched.unit_files(directory, job.unit) if p.is_symlink() or p.exists()]
    disable, reload = sched.disable_commands(job.unit, scope)
    commands = [disable, reload] if present and sched.systemd_running() else []
    if not dry_run and present:
        sched.run_commands(commands[:1])
        sched.remove_units(directory, job.unit)
        sched.run_commands(commands[1:])
    shown = [shlex.join(c) for c in commands]
    doc = {
        "plan": str(job.plan),
        "scope": scope,
        "directory": str(directory),
        "removed": [str(p) for p in present],
        "commands": shown,
        "dry_run": dry_run,
    }

    def human(c: Console) -> None:
        if not present:
            c.print(f"no schedule for this plan in {escape(str(directory))}")
            c.print("(a crontab line you added yourself is removed with crontab -e)")
            return
        verb = "would remove" if dry_run else "removed"
        for path in present:
            c.print(f"{verb} {escape(str(path))}")
        for command in shown:
            c.print(f"{'would run' if dry_run else 'ran'}: {escape(command)}")

    env.emit(doc, human)


def _job_for(env: Env, plan_file: str | None) -> sched.Job:
    """The job a plan names, whether or not its file still exists (remove, show)."""
    plan = Path(_plan_text(env, plan_file)).expanduser().absolute()
    return sched.Job("", plan)


@schedule.command("show")
@_common
@pass_env
def show(env: Env, plan_file: str | None, user: bool, system: bool) -> None:
    """Whether the plan is scheduled, when, and (with systemd) its next and last run."""
    job = _job_for(env, plan_file)
    scope = _scope(user, system)
    directory = sched.unit_dir(scope)
    service, timer, link = sched.unit_files(directory, job.unit)
    running = sched.systemd_running()
    times = sched.timer_times(job.unit, scope) if running and timer.exists() else {}
    doc: dict[str, Any] = {
        "plan": str(job.plan),
        "unit": job.unit,
        "scope": scope,
        "directory": str(directory),
        "installed": service.exists() and timer.exists(),
        "calendar": sched.calendar(directory, job.unit),
        "enabled": link.is_symlink() or link.exists(),
        "systemd_running": running,
        "next": times.get("NextElapseUSecRealtime") or None,
        "last": times.get("LastTriggerUSec") or None,
    }

    def human(c: Console) -> None:
        if not doc["installed"]:
            c.print(f"not scheduled with systemd ({escape(str(directory))})")
            return
        state = "enabled" if doc["enabled"] else "installed but not enabled"
        c.print(f"{escape(job.unit)}.timer: {state}, OnCalendar={escape(str(doc['calendar']))}")
        for key in ("next", "last"):
            if doc[key]:
                c.print(f"{key} run: {escape(str(doc[key]))}")

    env.emit(doc, human)
