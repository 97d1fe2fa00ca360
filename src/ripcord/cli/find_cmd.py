"""ripcord find: which snapshots hold a file or folder, by name, path or mtime."""

from __future__ import annotations

import os
import os.path
from datetime import datetime

import click
from rich.console import Console
from rich.markup import escape

from ripcord.archive.find import Criteria, Finder
from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.ls_cmd import node_doc
from ripcord.repository import Snapshot, parse_time, resolve


@click.command("find")
@click.argument("patterns", nargs=-1, required=True, metavar="PATTERN...")
@click.option(
    "--snapshot", "snapshot_ids", multiple=True, metavar="ID",
    help="Search only this snapshot (id prefix, latest or @TIME); repeatable.",
)  # fmt: skip
@click.option("--host", help="Only snapshots of this host.")
@click.option("--path", "paths", multiple=True, metavar="P", help="Only snapshots of path P.")
@click.option("--newer", metavar="TIME", help="Only entries modified at or after TIME.")
@click.option("--older", metavar="TIME", help="Only entries modified before TIME.")
@json_option
@pass_env
def find(
    env: Env,
    patterns: tuple[str, ...],
    snapshot_ids: tuple[str, ...],
    host: str | None,
    paths: tuple[str, ...],
    newer: str | None,
    older: str | None,
) -> None:
    """Find files and folders named PATTERN (a glob; with '/', on the full path)."""
    criteria = Criteria.parse(
        patterns,
        None if newer is None else parse_time(newer),
        None if older is None else parse_time(older),
    )  # a bad time is refused before any password prompt
    with env.open() as repo, repo.reading():
        snaps = _select(repo.snapshots(), snapshot_ids, host, paths)
        finder = Finder(repo, criteria)
        results = [(s, found) for s in snaps if (found := finder.search(s))]

    def human(c: Console) -> None:
        for s, found in results:
            when = s.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            c.print(f"[bold]snapshot {s.id[:12]}[/] {when}")
            for p, n in found:
                mtime = datetime.fromtimestamp(n.mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M")
                c.print(f"  {n.type:<8} {n.size:>12} {mtime}  {escape(os.fsdecode(p))}")
        total = sum(len(found) for _, found in results)
        if total:
            c.print(f"{total} matches in {len(results)} of {len(snaps)} snapshots")
        else:
            c.print(f"no matches in {len(snaps)} snapshots")

    doc = {
        "searched": len(snaps),
        "snapshots": [
            {
                "id": s.id,
                "time": s.time.isoformat(),
                "matches": [node_doc(p, n) for p, n in found],
            }
            for s, found in results
        ],
    }
    env.emit(doc, human)


def _select(
    snaps: list[Snapshot], ids: tuple[str, ...], host: str | None, paths: tuple[str, ...]
) -> list[Snapshot]:
    """The snapshots to search, oldest first, each once."""
    if ids:
        chosen = {resolve(snaps, spec).id for spec in ids}
        snaps = [s for s in snaps if s.id in chosen]
    wanted = {os.path.normpath(os.path.abspath(p)) for p in paths}
    return [
        s
        for s in snaps
        if (host is None or s.host == host) and (not wanted or wanted & set(s.paths))
    ]
