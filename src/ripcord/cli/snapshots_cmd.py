"""ripcord snapshots: list snapshots."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ripcord.cli.env import Env, human_bytes, json_option, pass_env
from ripcord.repository import Snapshot


def snapshot_doc(s: Snapshot) -> dict[str, object]:
    return {"id": s.id, **s.to_doc()}


@click.command("snapshots")
@click.option("--host", help="Only snapshots of this host.")
@click.option("--tag", "tags", multiple=True, help="Only snapshots with this tag.")
@json_option
@pass_env
def snapshots(env: Env, host: str | None, tags: tuple[str, ...]) -> None:
    """List snapshots, oldest first."""
    with env.open() as repo:
        snaps = [
            s
            for s in repo.snapshots()
            if (host is None or s.host == host) and set(tags) <= set(s.tags)
        ]
        kept = repo.protected()
        gaps = repo.chain_gaps()
    for missing, naming in sorted(gaps.items()):
        env.err.print(
            f"[red]warning[/]: snapshot {missing[:12]}, named in the chain of"
            f" {', '.join(n[:12] for n in naming)}, is gone and no forget record explains it:"
            " it was deleted outside ripcord, or a snapshot was altered"
        )

    def human(c: Console) -> None:
        t = Table("id", "", "time", "host", "tags", "paths", "files", "size", box=None)
        for s in snaps:
            t.add_row(
                s.id[:12],
                "P" if s.id in kept else "",
                s.time.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                escape(s.host),  # names are text, never markup
                escape(",".join(s.tags)),
                escape("\n".join(s.paths)),
                str(s.summary.get("total_files", "")),
                human_bytes(s.summary.get("total_bytes", 0)),
            )
        c.print(t)
        c.print(f"{len(snaps)} snapshots" + (" (P: protected)" if kept else ""))

    env.emit([{**snapshot_doc(s), "protected": s.id in kept} for s in snaps], human)
