"""ripcord key: add, list, remove and change the passwords that open a repository."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.init_cmd import kdf_options, kdf_params
from ripcord.cli.passwords import get_password
from ripcord.storage.append_only import refuse_deletion


def _new_password(file: str | None) -> bytes:
    return get_password(
        env="RIPCORD_NEW_PASSWORD", file=file, command=None, prompt="new password", confirm=True
    )


@click.group("key")
def key() -> None:
    """Manage key slots: each is the master key sealed under one password."""


@key.command("list")
@json_option
@pass_env
def key_list(env: Env) -> None:
    """List key slots; * marks the one this password opened."""
    with env.open() as repo:
        rows: list[dict[str, Any]] = [
            {
                "id": name.split("/")[1],
                "current": name == repo.key_name,
                "created": doc.get("created"),
                "host": doc.get("host"),
                "user": doc.get("user"),
            }
            for name, doc in repo.list_keys()
        ]

    def human(c: Console) -> None:
        t = Table("", "id", "user", "host", "created", box=None)
        for r in rows:
            who = (escape(str(r[k] or "")) for k in ("user", "host", "created"))  # from key files
            t.add_row("*" if r["current"] else "", r["id"][:12], *who)
        c.print(t)

    env.emit(rows, human)


@key.command("add")
@click.option("--new-password-file", metavar="FILE", help="Read the new password from FILE.")
@kdf_options
@json_option
@pass_env
def key_add(
    env: Env, new_password_file: str | None, kdf_iterations: int, kdf_memory_mib: int
) -> None:
    """Add a password (RIPCORD_NEW_PASSWORD, --new-password-file, or a prompt)."""
    with env.open() as repo:
        name = repo.add_key(
            _new_password(new_password_file), kdf_params(kdf_iterations, kdf_memory_mib)
        )
    env.emit(
        {"added": name.split("/")[1]}, lambda c: c.print(f"added key {name.split('/')[1][:12]}")
    )


@key.command("remove")
@click.argument("key_id")
@json_option
@pass_env
def key_remove(env: Env, key_id: str) -> None:
    """Remove the key slot KEY_ID (a unique prefix will do)."""
    with env.open() as repo:
        refuse_deletion(repo.store, f"key remove {key_id}")
        matches = [n for n, _ in repo.list_keys() if n.split("/")[1].startswith(key_id.lower())]
        if len(matches) != 1:
            raise click.UsageError(f"{key_id} matches {len(matches)} keys")
        locked_until = repo.remove_key(matches[0])
    doc = {
        "removed": matches[0].split("/")[1],
        "locked_until": locked_until.isoformat() if locked_until else None,
    }

    def human(c: Console) -> None:
        c.print(f"removed key {key_id}")
        if locked_until is not None:
            c.print(
                f"the storage keeps its slot locked until {locked_until:%Y-%m-%d %H:%M %Z}:"
                " ripcord no longer opens the repository with it, and a prune after then"
                " deletes it. Until then, anyone with its password and a copy of the slot"
                " can still read the repository: if the password leaked, treat the data"
                " as readable by whoever has it."
            )

    env.emit(doc, human)


@key.command("passwd")
@click.option("--new-password-file", metavar="FILE", help="Read the new password from FILE.")
@kdf_options
@json_option
@pass_env
def key_passwd(
    env: Env, new_password_file: str | None, kdf_iterations: int, kdf_memory_mib: int
) -> None:
    """Change the password of the key slot in use."""
    with env.open() as repo:
        refuse_deletion(repo.store, "key passwd")  # else the old password would still work
        name = repo.change_password(
            _new_password(new_password_file), kdf_params(kdf_iterations, kdf_memory_mib)
        )
    env.emit({"key": name.split("/")[1]}, lambda c: c.print("password changed"))
