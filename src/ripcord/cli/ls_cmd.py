"""ripcord ls: list what a snapshot holds."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click
from rich.console import Console

from ripcord.archive.node import Node, mode_text
from ripcord.archive.trees import find, walk
from ripcord.cli.env import Env, json_option, pass_env
from ripcord.repository import resolve


def node_doc(path: bytes, n: Node) -> dict[str, object]:
    doc: dict[str, object] = {
        "path": os.fsdecode(path),
        "type": n.type,
        "mode": f"{n.mode:04o}",
        "size": n.size,
        "uid": n.uid,
        "gid": n.gid,
        "user": n.user,
        "group": n.group,
        "mtime": datetime.fromtimestamp(n.mtime_ns / 1e9, UTC).isoformat(),
    }
    if n.type == "symlink":
        doc["target"] = os.fsdecode(n.target)
    if n.type == "file":
        doc["blake3"] = n.hash.hex()
    return doc


@click.command("ls")
@click.argument("snapshot")
@click.argument("path", required=False, default="/")
@click.option("-l", "--long", "long_", is_flag=True, help="Show mode, owner, size and time.")
@json_option
@pass_env
def ls(env: Env, snapshot: str, path: str, long_: bool) -> None:
    """List files of SNAPSHOT (latest, an id prefix or @TIME) at and below PATH."""
    with env.open() as repo, repo.reading():
        snap = resolve(repo.snapshots(), snapshot)
        start = find(repo, bytes.fromhex(snap.tree), path)
        base = b"/" + b"/".join(c for c in os.fsencode(os.path.normpath(path)).split(b"/") if c)
        entries = [(p, n) for p, n in walk(repo, start, base) if p != b"/"]

    def human(c: Console) -> None:
        for p, n in entries:
            name = os.fsdecode(p)
            if not long_:
                c.print(name, markup=False)
                continue
            mode = mode_text(n)
            when = datetime.fromtimestamp(n.mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M")
            c.print(
                f"{mode} {n.user or n.uid:>8} {n.group or n.gid:>8} {n.size:>12} {when} {name}",
                markup=False,
            )

    env.emit({"snapshot": snap.id, "nodes": [node_doc(p, n) for p, n in entries]}, human)
