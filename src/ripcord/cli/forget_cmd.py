"""ripcord forget: hide snapshots by a retention policy or by id (one forget mark);
prune frees their space later."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from datetime import timedelta

import click
from click.core import ParameterSource
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ripcord.cli.env import Env, F, json_option, pass_env, rows
from ripcord.cli.prune_cmd import report_doc, run_prune
from ripcord.errors import UsageError
from ripcord.repository.marks import Mark
from ripcord.retention import Policy
from ripcord.retention.duration import HELP, parse_duration
from ripcord.retention.forget import Group, Plan, by_ids, by_policy, write
from ripcord.retention.prune import PruneOptions, prune


class Duration(click.ParamType[timedelta, object]):
    """--keep-within's value; a malformed one is a usage error naming the option."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except UsageError as e:
            self.fail(str(e), param, ctx)


def _count(name: str, what: str) -> Callable[[F], F]:
    return click.option(name, type=int, default=0, metavar="N", help=f"Keep {what} (per group).")


@click.command("forget")
@click.argument("specs", nargs=-1, metavar="[SNAPSHOT]...")
@_count("--keep-last", "the N newest snapshots")
@_count("--keep-hourly", "the newest snapshot of each of the last N hours that have one")
@_count("--keep-daily", "the newest snapshot of each of the last N days that have one")
@_count("--keep-weekly", "the newest snapshot of each of the last N ISO weeks that have one")
@_count("--keep-monthly", "the newest snapshot of each of the last N months that have one")
@_count("--keep-yearly", "the newest snapshot of each of the last N years that have one")
@click.option(
    "--keep-within",
    type=Duration(),
    metavar="DURATION",
    help=f"Keep every snapshot taken less than DURATION before now: {HELP}.",
)
@click.option(
    "--keep-tag", "keep_tags", multiple=True, metavar="TAG", help="Keep every snapshot with TAG."
)
@click.option(
    "--group-by",
    default="host,paths",
    show_default=True,
    metavar="FIELDS",
    help="Apply the rules per group of snapshots sharing these fields (host, paths, tags);"
    " '' for one group.",
)
@click.option("--host", help="Consider only snapshots of this host; leave the others alone.")
@click.option(
    "--tag", "tags", multiple=True, help="Consider only snapshots with this tag (all of them)."
)
@click.option("--dry-run", "-n", is_flag=True, help="Show what would be forgotten; write nothing.")
@click.option("--prune", "then_prune", is_flag=True, help="Then prune, to free the space at once.")
@json_option
@pass_env
def forget(
    env: Env,
    specs: tuple[str, ...],
    keep_last: int,
    keep_hourly: int,
    keep_daily: int,
    keep_weekly: int,
    keep_monthly: int,
    keep_yearly: int,
    keep_within: timedelta | None,
    keep_tags: tuple[str, ...],
    group_by: str,
    host: str | None,
    tags: tuple[str, ...],
    dry_run: bool,
    then_prune: bool,
) -> None:
    """Forget the named SNAPSHOTs, or those the --keep rules do not keep.

    Rules apply per group (--group-by) against the real clock; a snapshot is
    kept if any rule keeps it. Protected snapshots and the newest trustworthy
    snapshot of each group are always kept; one dated in the future never
    counts as newest. Forgotten snapshots disappear from every command at once;
    `ripcord prune` (or --prune) frees their space.
    """
    policy = Policy(
        keep_last=keep_last,
        keep_hourly=keep_hourly,
        keep_daily=keep_daily,
        keep_weekly=keep_weekly,
        keep_monthly=keep_monthly,
        keep_yearly=keep_yearly,
        keep_within=keep_within,
        keep_tags=frozenset(keep_tags),
        group_by=tuple(f.strip() for f in group_by.split(",")) if group_by.strip() else (),
    )
    if dry_run and then_prune:
        raise UsageError(
            "--prune cannot follow a --dry-run: it would free nothing the forget hid"
            " (see `ripcord prune --dry-run`)"
        )
    if specs:
        _ids_alone(policy, host, tags)
    else:
        policy.check()  # before any password prompt
    with env.open() as repo:
        # a dry run writes nothing, not even a lock: it works on read-only storage
        with nullcontext() if dry_run else repo.lock():
            plan = by_ids(repo, specs) if specs else by_policy(repo, policy, host, tags)
            mark = None if dry_run else write(repo, plan)
        # after the shared lock is gone: prune takes its own; and one JSON document
        doc = _doc(plan, mark, dry_run)
        if then_prune and env.json:
            doc["prune"] = report_doc(prune(repo, PruneOptions()))
        env.emit(doc, lambda c: _human(c, plan, mark, dry_run))
        if then_prune and not env.json:
            run_prune(env, repo)


def _ids_alone(policy: Policy, host: str | None, tags: tuple[str, ...]) -> None:
    """SNAPSHOT ids say exactly what to forget: a rule or filter beside them is a mistake."""
    rules = replace(policy, group_by=Policy().group_by) != Policy()
    grouped = click.get_current_context().get_parameter_source("group_by")
    if rules or host is not None or tags or grouped != ParameterSource.DEFAULT:
        raise UsageError(
            "SNAPSHOT ids name exactly what to forget: give them without --keep-*,"
            " --group-by, --host or --tag"
        )


def _doc(plan: Plan, mark: Mark | None, dry_run: bool) -> dict[str, object]:
    return {
        "dry_run": dry_run,
        "mark": mark.id if mark else None,
        "groups": [
            {
                "key": g.key,
                "snapshots": [
                    {
                        "id": v.id,
                        "time": v.time.isoformat() if v.time else None,
                        "keep": v.keep,
                        "reasons": v.reasons,
                        "notes": v.notes,
                    }
                    for v in g.verdicts
                ],
            }
            for g in plan.groups
        ],
        "kept": plan.kept,
        "forgotten": plan.forgotten,
        "prune": None,
    }


def _human(out: Console, plan: Plan, mark: Mark | None, dry_run: bool) -> None:
    # piped, a table must not wrap a reason over two lines: nobody could grep it
    c = rows(out)
    would = "would " if dry_run else ""
    for g in plan.groups:
        if g.key:
            c.print(f"[bold]{escape(_title(g))}[/]")
        t = Table("id", "time", "", "reasons", box=None)
        for v in g.verdicts:
            why = escape(", ".join(v.reasons))
            notes = "\n".join(f"[yellow]{escape(n)}[/]" for n in v.notes)
            t.add_row(
                v.id[:12],
                v.time.astimezone().strftime("%Y-%m-%d %H:%M:%S") if v.time else "unreadable",
                "keep" if v.keep else f"{would}remove",
                "\n".join(x for x in (why, notes) if x),
            )
        c.print(t)
    kept, gone = len(plan.kept), len(plan.forgotten)
    if not gone:
        c.print(f"{'would keep' if dry_run else 'kept'} {kept}, nothing to forget: no mark written")
    elif mark is None:
        c.print(f"would keep {kept}, forget {gone} (dry run: nothing written)")
    else:
        c.print(
            f"kept {kept}, forgot {gone} (mark {mark.id[:8]}…);"
            " run `ripcord prune` to free their space"
        )


def _title(g: Group) -> str:
    """`host laptop, paths /home` for a group's key."""
    parts = []
    for name, value in g.key.items():
        shown = value if isinstance(value, str) else ", ".join(value) or "(none)"
        parts.append(f"{name} {shown}")
    return "; ".join(parts)
