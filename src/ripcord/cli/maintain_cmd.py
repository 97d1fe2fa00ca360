"""ripcord maintain: keep the storage locks on the data kept snapshots need."""

from __future__ import annotations

import click
from rich.console import Console

from ripcord.cli.env import Env, human_bytes, json_option, pass_env
from ripcord.errors import EXIT_DAMAGED
from ripcord.retention.maintain import HORIZON, MaintainReport, maintain


def _when(t: object) -> str:
    return f"{t:%Y-%m-%d %H:%M %Z}" if t is not None else "-"


def report_doc(r: MaintainReport) -> dict[str, object]:
    return {
        "dry_run": r.dry_run,
        "retention_seconds": int(r.retention.total_seconds()),
        "live_objects": r.live,
        "live_bytes": r.live_bytes,
        "extended": r.extended,
        "relocked": r.relocked,
        "gone": r.gone,
        "locked_until": r.locked_until.isoformat() if r.locked_until else None,
        "earliest_lock_end": r.earliest.isoformat() if r.earliest else None,
        "next_run": r.next_run.isoformat() if r.next_run else None,
        "unlocked": r.unlocked,
        "damaged_snapshots": r.damaged,
    }


def _human(c: Console, r: MaintainReport) -> None:
    would = "would extend" if r.dry_run else "extended"
    c.print(f"{r.live} objects ({human_bytes(r.live_bytes)}) are needed by kept snapshots")
    if r.extended:
        to = "" if r.locked_until is None else f" to {_when(r.locked_until)}"
        c.print(
            f"{would} the locks of {r.extended} of them{to}; the others stay locked for more"
            f" than {HORIZON:.0%} of the retention"
        )
    else:
        c.print(f"every lock runs for more than {HORIZON:.0%} of the retention: nothing to extend")
    if r.relocked:
        verb = "would be locked again" if r.dry_run else "are locked again"
        c.print(
            f"[red]warning[/]: {r.relocked} of them had no lock left, so anyone with the"
            f" bucket's credentials could delete them; they {verb}. Run maintain more often."
        )
    for snap in r.damaged:
        c.print(
            f"[red]damaged[/]: snapshot {snap[:12]} cannot be read whole, so the data below"
            " the damage may not be kept locked: run 'ripcord check'"
        )
    if r.earliest is not None:
        c.print(
            f"the first lock on needed data ends {_when(r.earliest)}: run maintain again before"
            f" then, best by {_when(r.next_run)}"
        )


@click.command("maintain")
@click.option("--dry-run", "-n", is_flag=True, help="Say which locks would be extended.")
@json_option
@pass_env
def maintain_cmd(env: Env, dry_run: bool) -> int:
    """Extend the Object Lock of every object kept snapshots still need.

    On a repository made with 'init --object-lock', each object is locked for
    the retention from the moment it is written. Run maintain regularly (a
    quarter of the retention apart is plenty; it says when it must next run):
    it pushes the lock of every object a kept snapshot needs, and of the
    repository's own records, to now + the retention once less than half of
    the retention is left. Forgotten snapshots and the data only they use are
    left to expire, for prune to delete.

    Exit codes: 0 done, 5 a kept snapshot could not be read whole (its data
    may not all be locked; run check).
    """
    with env.open() as repo:
        report = maintain(repo, dry_run, say=env.say, progress=env.progress())
    env.emit(report_doc(report), lambda c: _human(c, report))
    return EXIT_DAMAGED if report.damaged else 0
