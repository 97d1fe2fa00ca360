"""ripcord diff: what changed between two snapshots."""

from __future__ import annotations

import os

import click
from rich.console import Console

from ripcord.archive.diff import (
    ADDED,
    METADATA,
    MODIFIED,
    REMOVED,
    TYPE,
    Change,
    Summary,
    diff_trees,
)
from ripcord.cli.env import Env, json_option, pass_env
from ripcord.repository import resolve

_MARK = {ADDED: "+", REMOVED: "-", MODIFIED: "M", METADATA: "m", TYPE: "T"}


def change_doc(c: Change) -> dict[str, object]:
    return {
        "path": os.fsdecode(c.path),
        "kind": c.kind,
        "size_a": c.size_a,
        "size_b": c.size_b,
        "fields": list(c.fields),
    }


def change_line(c: Change) -> str:
    """One human line: the mark, the path, and what helps to judge the change."""
    line = f"{_MARK[c.kind]} {os.fsdecode(c.path)}"
    if c.kind == MODIFIED:
        return f"{line} ({c.size_a} -> {c.size_b} bytes)"
    if c.kind == METADATA:
        return f"{line} ({', '.join(c.fields)})"
    if c.kind == TYPE and c.a is not None and c.b is not None:
        return f"{line} ({c.a.type} -> {c.b.type})"
    node = c.b if c.kind == ADDED else c.a
    if node is not None and node.type == "file":
        return f"{line} ({node.size} bytes)"
    return line


@click.command("diff")
@click.argument("snapshot_a")
@click.argument("snapshot_b")
@click.argument("path", required=False, default="/")
@json_option
@pass_env
def diff(env: Env, snapshot_a: str, snapshot_b: str, path: str) -> None:
    """Show what changed from SNAPSHOT_A to SNAPSHOT_B (latest, an id prefix or @TIME),
    at and below PATH."""
    summary = Summary()
    with env.open() as repo, repo.reading():
        snaps = repo.snapshots()
        a, b = resolve(snaps, snapshot_a), resolve(snaps, snapshot_b)
        changes = list(diff_trees(repo, bytes.fromhex(a.tree), bytes.fromhex(b.tree), path))
    for c in changes:
        summary.add(c)
    doc = {
        "a": a.id,
        "b": b.id,
        "changes": [change_doc(c) for c in changes],
        "summary": {
            **summary.counts,
            "bytes_added": summary.bytes_added,
            "bytes_removed": summary.bytes_removed,
        },
    }

    def human(con: Console) -> None:
        for c in changes:
            con.print(change_line(c), markup=False)
        n = summary.counts
        con.print(
            f"{n[ADDED]} added, {n[REMOVED]} removed, {n[MODIFIED]} modified,"
            f" {n[METADATA]} metadata only, {n[TYPE]} type changed;"
            f" {summary.bytes_added} bytes added, {summary.bytes_removed} bytes removed",
            markup=False,
        )

    env.emit(doc, human)
