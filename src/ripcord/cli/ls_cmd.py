"""ripcord ls: list what a snapshot holds."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

import click

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
        entries = ((p, n) for p, n in walk(repo, start, base) if p != b"/")
        # rows are written as the walk reads them: a folder of millions is never held
        if env.json:
            _json_rows(sys.stdout, snap.id, (node_doc(p, n) for p, n in entries))
        else:
            for p, n in entries:
                env.out.print(_row(p, n) if long_ else os.fsdecode(p), markup=False)


def _row(path: bytes, n: Node) -> str:
    when = datetime.fromtimestamp(n.mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M")
    owner = f"{n.user or n.uid:>8} {n.group or n.gid:>8}"
    return f"{mode_text(n)} {owner} {n.size:>12} {when} {os.fsdecode(path)}"


def _json_rows(out: TextIO, snap_id: str, docs: Iterator[dict[str, object]]) -> None:
    """`{"snapshot": ID, "nodes": [...]}` written node by node, byte for byte as
    json.dumps(doc, indent=2) would write it whole (docs/CLI.md: one JSON document)."""
    out.write('{\n  "snapshot": ' + json.dumps(snap_id) + ',\n  "nodes": [')
    sep = "\n"
    for doc in docs:
        out.write(sep + textwrap.indent(json.dumps(doc, indent=2, default=str), "    "))
        sep = ",\n"
    out.write("]\n}\n" if sep == "\n" else "\n  ]\n}\n")
