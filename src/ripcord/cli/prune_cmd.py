"""ripcord prune: delete the data no snapshot uses, beside running backups."""

from __future__ import annotations

import click
from rich.console import Console

from ripcord.cli.env import Env, human_bytes, json_option, pass_env
from ripcord.errors import UsageError
from ripcord.repository import Repository
from ripcord.retention.duration import HELP, parse_duration
from ripcord.retention.prune import DEFAULT_MAX_UNUSED, PruneOptions, PruneReport, prune


def parse_percent(text: str) -> float:
    """`5%` or `5` -> 0.05."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise UsageError(f"not a percentage: {text!r} (write e.g. 5%)") from None
    if not 0 <= value <= 100:
        raise UsageError(f"percentage out of range: {text!r} (0% to 100%)")
    return value / 100


def run_prune(env: Env, repo: Repository, options: PruneOptions | None = None) -> PruneReport:
    """Prune an open repository and print what happened (shared with forget --prune)."""
    report = prune(repo, options or PruneOptions(), say=env.say, progress=env.progress())
    env.emit(report_doc(report), lambda c: _human(c, report))
    return report


def report_doc(r: PruneReport) -> dict[str, object]:
    return {
        "dry_run": r.dry_run,
        "snapshots_deleted": r.snapshots_deleted,
        "packs_deleted": r.packs_deleted,
        "packs_repacked": r.packs_repacked,
        "blobs_repacked": r.blobs_repacked,
        "packs_rescued": r.packs_rescued,
        "index_files_replaced": r.index_files_replaced,
        "size_before": r.size_before,
        "unused_before": r.unused_before,
        "bytes_deleted": r.bytes_deleted,
        "bytes_written": r.bytes_written,
        "freed": r.freed,
        "plans_done": r.plans_done,
        "waiting": [{"plan": p, "backups_running": n} for p, n in r.waiting.items()],
        "pending_deletion": [
            {"name": name, "locked_until": until.isoformat() if until else None}
            for name, until in sorted(r.pending_deletion.items())
        ],
    }


def _human(c: Console, r: PruneReport) -> None:
    would = "would " if r.dry_run else ""
    if r.size_before:
        c.print(
            f"repository: {human_bytes(r.size_before)} in packs,"
            f" {human_bytes(r.unused_before)} of it used by no snapshot"
        )
    if r.packs_repacked:
        c.print(
            f"{would}copy {r.blobs_repacked} used blobs out of {r.packs_repacked} mostly"
            f" unused packs" + ("" if r.dry_run else f" ({human_bytes(r.bytes_written)})")
        )
    if r.packs_deleted or r.snapshots_deleted:
        c.print(
            f"{would}delete {r.snapshots_deleted} forgotten snapshots and {r.packs_deleted}"
            f" packs ({human_bytes(r.bytes_deleted)})"
        )
        if not r.dry_run:
            c.print(f"freed {human_bytes(max(r.freed, 0))}")
    elif not (r.waiting or r.pending_deletion):
        c.print("nothing to delete")
    if r.packs_rescued:
        c.print(f"kept {r.packs_rescued} packs that backups running beside the prune used")
    for plan, n in r.waiting.items():
        c.print(
            f"[yellow]pending[/]: plan {plan[:12]} waits for {n} backups that started before"
            " it; the next prune (or --wait) deletes what it condemned"
        )
    if r.pending_deletion:
        ends = [u for u in r.pending_deletion.values() if u is not None]
        when = f" until {max(ends):%Y-%m-%d %H:%M %Z} at the latest" if ends else ""
        c.print(
            f"[yellow]pending deletion[/]: {len(r.pending_deletion)} objects are locked by the"
            f" storage{when}; a prune after their locks end deletes them"
        )


@click.command("prune")
@click.option(
    "--max-unused",
    default=f"{DEFAULT_MAX_UNUSED:.0%}",
    show_default=True,
    metavar="PERCENT",
    help="Unused space to tolerate, as a share of the repository: packs mostly unused are"
    " repacked until at most this much is left. 0% repacks every pack with unused data.",
)
@click.option(
    "--wait",
    metavar="DURATION",
    help="Wait this long for backups that started before the prune to finish, so their"
    f" data can go now rather than at the next prune ({HELP}).",
)
@click.option("--dry-run", "-n", is_flag=True, help="Say what would be deleted; change nothing.")
@json_option
@pass_env
def prune_cmd(env: Env, max_unused: str, wait: str | None, dry_run: bool) -> None:
    """Delete data that no snapshot uses, and repack mostly unused packs.

    Safe beside backups from other processes and hosts: what a backup that
    started earlier may still reuse is deleted only once it has finished.
    """
    options = PruneOptions(
        max_unused=parse_percent(max_unused),
        dry_run=dry_run,
        wait=parse_duration(wait).total_seconds() if wait else 0.0,
    )
    with env.open() as repo:
        run_prune(env, repo, options)
