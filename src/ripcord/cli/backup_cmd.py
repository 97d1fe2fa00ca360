"""ripcord backup: save a snapshot of files and folders."""

from __future__ import annotations

import os

import click
from rich.console import Console
from rich.markup import escape

from ripcord.archive.backup import Backup, BackupOptions
from ripcord.archive.excludes import read_exclude_file
from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.guard_cmd import show_verdict, verdict_doc
from ripcord.errors import EXIT_GUARD_ALARM, EXIT_PARTIAL, UsageError
from ripcord.guard.guard import Guard
from ripcord.repository import parse_time


@click.command("backup")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--tag", "tags", multiple=True, help="Tag the snapshot (repeatable).")
@click.option("--host", help="Host name to record (default: this machine's).")
@click.option("--time", "when", metavar="ISO8601", help="Record this time instead of now.")
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PATTERN",
    help="Leave out paths matching a gitignore-style PATTERN (repeatable).",
)
@click.option(
    "--exclude-file",
    "exclude_files",
    multiple=True,
    metavar="FILE",
    help="Read exclude patterns from FILE, one per line (repeatable).",
)
@click.option("--exclude-caches", is_flag=True, help="Leave out directories with a CACHEDIR.TAG.")
@click.option("--one-file-system", "-x", is_flag=True, help="Do not cross file system boundaries.")
@click.option(
    "--canary",
    "canaries",
    multiple=True,
    metavar="PATH",
    help="A file that must never change or vanish: if it does, the guard raises an alarm"
    " (repeatable).",
)
@json_option
@pass_env
def backup(
    env: Env,
    paths: tuple[str, ...],
    tags: tuple[str, ...],
    host: str | None,
    when: str | None,
    excludes: tuple[str, ...],
    exclude_files: tuple[str, ...],
    exclude_caches: bool,
    one_file_system: bool,
    canaries: tuple[str, ...],
) -> int:
    """Back up PATHS into a new snapshot.

    Files unchanged since the last snapshot of the same host and paths are not
    read again. Exits 3 if the snapshot was saved but some files could not be
    read or changed while being read (they are listed).

    The change guard compares the new snapshot with the last one: mass
    deletion, mass rewriting or a turn to random-looking content (encryption)
    is an alarm. The snapshot is still saved, tagged 'suspicious', the last
    good one is pinned so no retention drops it, and the exit code is 4 until
    'ripcord guard ack SNAPSHOT' says the change was intentional.
    """
    patterns = list(excludes)
    for f in exclude_files:
        try:
            patterns += read_exclude_file(f)
        except OSError as e:
            raise UsageError(f"cannot read exclude file {f}: {e.strerror}") from None
    options = BackupOptions(
        paths=[os.path.abspath(p) for p in paths],
        tags=list(tags),
        time=parse_time(when) if when else None,
        excludes=patterns,
        exclude_caches=exclude_caches,
        one_file_system=one_file_system,
    )
    if host:
        options.host = host
    plan = env.plan()  # with --plan, its [guard] thresholds judge this backup too
    guard = Guard(canaries=[_absolute(c) for c in canaries])
    if plan is not None:
        guard.settings = plan.guard
    with env.open(create_default=True) as repo:
        report = Backup(repo, options, env.progress(), judge=guard).run()
    doc = {
        "snapshot_id": report.snapshot_id,
        "parent": report.parent,
        **report.summary(),
        "error_list": [{"path": p, "error": e} for p, e in report.errors],
        "changed_while_read_list": report.changed_while_read,
        "guard": verdict_doc(guard),
    }

    def human(c: Console) -> None:
        c.print(f"snapshot [bold]{report.snapshot_id[:12]}[/] saved")
        c.print(
            f"files: {report.files_new} new, {report.files_changed} changed,"
            f" {report.files_unchanged} unchanged; {report.dirs} directories"
        )
        c.print(
            f"added {report.data_added} bytes of new data ({report.stored_added} stored)"
            f" from {report.total_bytes} bytes in {report.total_files} files"
        )
        show_verdict(c, guard)

    env.emit(doc, human)
    # on stderr with --json too: a script's log must still say which files are missing
    for path, why in report.errors:
        env.err.print(f"[red]could not read[/] {escape(path)}: {escape(why)}")
    for path in report.changed_while_read:
        env.err.print(f"[yellow]changed while being read[/] {escape(path)}")
    if guard.alarm is not None:
        return EXIT_GUARD_ALARM
    return EXIT_PARTIAL if report.incomplete else 0


def _absolute(path: str) -> str:
    """A canary as the snapshot names it: absolute, normalised."""
    return os.path.normpath(os.path.abspath(path))
