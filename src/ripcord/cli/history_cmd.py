"""ripcord history: every version of a file or folder, and when it vanished."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from ripcord.archive.history import Gone, History, Version, history
from ripcord.cli.env import Env, json_option, pass_env
from ripcord.repository import Snapshot


def _snap(s: Snapshot) -> dict[str, str]:
    return {"id": s.id, "time": s.time.isoformat()}


def _short(s: Snapshot) -> str:
    return f"{s.id[:12]} {s.time.astimezone():%Y-%m-%d %H:%M}"


def _event_doc(e: Version | Gone) -> dict[str, Any]:
    if isinstance(e, Gone):
        return {"kind": "deleted", "after": _snap(e.after), "before": _snap(e.before)}
    n = e.node
    doc: dict[str, Any] = {
        "kind": "version",
        "type": n.type,
        "first": _snap(e.first),
        "last": _snap(e.last),
        "snapshots": e.snapshots,
        "mtime": datetime.fromtimestamp(n.mtime_ns / 1e9, UTC).isoformat(),
    }
    if n.type == "file":
        doc.update(size=n.size, blake3=n.hash.hex())
    elif n.type == "dir":
        doc["entries"] = e.entries
    elif n.type == "symlink":
        doc["target"] = os.fsdecode(n.target)
    return doc


@click.command("history")
@click.argument("path")
@click.option("--host", help="Only snapshots of this host.")
@json_option
@pass_env
def history_cmd(env: Env, path: str, host: str | None) -> None:
    """Every version of PATH (a file or folder) across all snapshots, oldest first,
    and between which two snapshots it was deleted."""
    with env.open() as repo, repo.reading():
        snaps = [s for s in repo.snapshots() if host is None or s.host == host]
        result = history(repo, snaps, os.path.abspath(path))

    def human(c: Console) -> None:
        for h in result:
            c.print(f"history of [bold]{escape(h.path)}[/] on {escape(h.host)}")
            for e in h.events:
                if isinstance(e, Gone):
                    c.print(f"  [red]deleted between {_short(e.after)} and {_short(e.before)}[/]")
                    continue
                n = e.node
                what = f"{n.size} bytes, blake3 {n.hash.hex()[:16]}" if n.type == "file" else n.type
                if e.entries is not None:
                    what = f"folder of {e.entries} entries"
                modified = datetime.fromtimestamp(n.mtime_ns / 1e9)
                c.print(
                    f"  {_short(e.first)} .. {_short(e.last)} ({e.snapshots} snapshots):"
                    f" {what}, modified {modified:%Y-%m-%d %H:%M}"
                )

    env.emit([_history_doc(h) for h in result], human)


def _history_doc(h: History) -> dict[str, Any]:
    return {"path": h.path, "host": h.host, "events": [_event_doc(e) for e in h.events]}
