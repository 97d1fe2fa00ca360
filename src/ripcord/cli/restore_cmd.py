"""ripcord restore: bring files back from a snapshot."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape

from ripcord.archive.restore import RestoreOptions, Restorer
from ripcord.cli.env import Env, json_option, pass_env
from ripcord.errors import EXIT_PARTIAL
from ripcord.repository import resolve


@click.command("restore")
@click.argument("snapshot")
@click.argument("paths", nargs=-1)
@click.option(
    "--target",
    "-t",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to restore into; files land at TARGET/their/original/path.",
)
@click.option(
    "--include",
    "includes",
    multiple=True,
    metavar="PATTERN",
    help="Restore only paths matching PATTERN (gitignore-style, repeatable).",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PATTERN",
    help="Do not restore paths matching PATTERN (repeatable).",
)
@click.option("--verify", is_flag=True, help="Re-read every restored file and check its BLAKE3.")
@json_option
@pass_env
def restore(
    env: Env,
    snapshot: str,
    paths: tuple[str, ...],
    target: str,
    includes: tuple[str, ...],
    excludes: tuple[str, ...],
    verify: bool,
) -> int:
    """Restore SNAPSHOT (latest, an id prefix or @TIME), or only PATHS of it, under TARGET.

    /home/me/a.txt restored to /tmp/back lands at /tmp/back/home/me/a.txt.
    Nothing is ever written outside TARGET, whatever the repository says.
    Exits 3 if some entries could not be restored or failed --verify.
    """
    options = RestoreOptions(
        target=target,
        paths=list(paths),
        includes=list(includes),
        excludes=list(excludes),
        verify=verify,
    )
    with env.open() as repo, repo.reading():
        snap = resolve(repo.snapshots(), snapshot)
        report = Restorer(repo, snap, options, env.progress()).run()
    doc = {
        "snapshot": snap.id,
        "target": target,
        "files": report.files,
        "dirs": report.dirs,
        "hardlinks": report.links,
        "others": report.others,
        "bytes": report.bytes_written,
        "verified": report.verified if verify else None,
        "verify_failed": report.verify_failed,
        "errors": [{"path": p, "error": e} for p, e in report.errors],
    }

    def human(c: Console) -> None:
        c.print(
            f"restored {report.files} files, {report.dirs} directories"
            f" ({report.bytes_written} bytes) from {snap.id[:12]} to {escape(target)}"
        )
        if verify:
            c.print(f"verified {report.verified} files")

    env.emit(doc, human)
    # on stderr with --json too: a script's log must still say what is missing
    for path in report.verify_failed:
        env.err.print(f"[red]verification failed[/] {escape(path)}")
    for path, why in report.errors:
        env.err.print(f"[red]could not restore[/] {escape(path)}: {escape(why)}")
    return EXIT_PARTIAL if report.incomplete else 0
