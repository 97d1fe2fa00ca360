"""ripcord protect / unprotect: keep a snapshot out of retention's reach, or release it."""

from __future__ import annotations

import click

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.repository import resolve


def _mark(env: Env, kind: str, snapshot: str) -> None:
    with env.open() as repo:
        snap = resolve(repo.snapshots(), snapshot)
        with repo.lock():
            mark = repo.add_mark(kind, [snap.id])
            now = snap.id in repo.protected()
    verb = "protected" if now else "no longer protected"
    env.emit(
        {"snapshot": snap.id, "mark": mark.id, "kind": kind, "protected": now},
        lambda c: c.print(f"snapshot {snap.id[:12]} is {verb}"),
    )


@click.command("protect")
@click.argument("snapshot")
@json_option
@pass_env
def protect(env: Env, snapshot: str) -> None:
    """Protect SNAPSHOT: retention (forget) never removes it, whatever its policy."""
    _mark(env, "protect", snapshot)


@click.command("unprotect")
@click.argument("snapshot")
@json_option
@pass_env
def unprotect(env: Env, snapshot: str) -> None:
    """Release a protected SNAPSHOT: retention decides about it again."""
    _mark(env, "unprotect", snapshot)
