"""ripcord serve: host repositories for rest+http(s):// clients; `serve user add|remove`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.errors import UsageError
from ripcord.sizes import parse_size

DEFAULT_LISTEN = "127.0.0.1:8000"
F = TypeVar("F", bound=Callable[..., Any])


def tls_options(f: F) -> F:
    """--tls-cert, --tls-key and --allow-plain-http: how `serve` and `ui` speak HTTP."""
    f = click.option(
        "--allow-plain-http",
        is_flag=True,
        help="Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).",
    )(f)
    f = click.option(
        "--tls-key", metavar="FILE", type=click.Path(path_type=Path), help="Its key (PEM)."
    )(f)
    return click.option(
        "--tls-cert", metavar="FILE", type=click.Path(path_type=Path), help="TLS cert (PEM)."
    )(f)


@click.group("serve", invoke_without_command=True)
@click.option(
    "--root",
    metavar="DIR",
    type=click.Path(path_type=Path),
    help="Directory holding the repositories, one sub-directory each (DIR/laptop for user"
    " laptop). It must exist; a repository's directory is made by its first write.",
)
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on ([::1]:PORT for IPv6, :PORT for every address).",
)
@click.option(
    "--users",
    "users_file",
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="Users file of NAME:BCRYPT-HASH lines (made with `ripcord serve user add`); read"
    " again whenever it changes.",
)
@tls_options
@click.option(
    "--append-only",
    is_flag=True,
    help="Refuse every delete but of lock objects, and prune plans: a client's credentials"
    " cannot destroy history. Prune on this host with `ripcord -r DIR/NAME prune`.",
)
@click.option(
    "--max-request-size",
    default="72MiB",
    show_default=True,
    metavar="SIZE",
    help="Largest request body (object) accepted; larger ones get 413 while still arriving.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    root: Path | None,
    listen: str,
    users_file: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    append_only: bool,
    max_request_size: str,
    allow_plain_http: bool,
) -> None:
    """Serve repositories over HTTP(S) to clients using rest+https:// locations.

    Each user may use only the repository of the same name:
    `ripcord -r rest+https://laptop:TOKEN@HOST:PORT/laptop backup ~`. Plain HTTP
    is served only on loopback addresses unless --allow-plain-http. Stop with
    Ctrl-C or SIGTERM. See docs/SERVER.md.
    """
    if ctx.invoked_subcommand is not None:
        return
    if root is None or users_file is None:
        raise UsageError("ripcord serve needs --root DIR and --users FILE")
    from ripcord.server.app import ServerOptions  # starlette and uvicorn: only when serving
    from ripcord.server.run import serve as run_server

    options = ServerOptions(
        root=root,
        users=users_file,
        append_only=append_only,
        max_request_size=parse_size(max_request_size),
    )
    env = ctx.ensure_object(Env)
    run_server(
        options,
        listen,
        tls_cert=tls_cert,
        tls_key=tls_key,
        allow_plain_http=allow_plain_http,
        say=lambda text: env.err.print(f"ripcord serve: {escape(text)}"),
    )


@serve.group("user")
def user() -> None:
    """Add, replace or remove the users of a users file."""


_users_option = click.option(
    "--users",
    "users_file",
    required=True,
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="The users file (made if missing, mode 0600).",
)


@user.command("add")
@_users_option
@click.argument("name")
@json_option
@pass_env
def user_add(env: Env, users_file: Path, name: str) -> None:
    """Give user NAME a fresh random token, printed once (replaces an old one).

    Only the token's bcrypt hash is kept; a running server takes the change at
    its next request. NAME may use the repository NAME only.
    """
    from ripcord.server.users import new_token, set_user

    token = new_token()
    set_user(users_file, name, token)

    def human(c: Console) -> None:
        c.print(f"token for {name} (shown only now; {escape(str(users_file))} keeps its hash):")
        c.print(token)
        c.print(
            f"use it as rest+https://{name}:TOKEN@HOST:PORT/{name}, or put it in"
            " RIPCORD_REST_TOKEN and leave it out of the location"
        )

    env.emit({"user": name, "token": token, "repository": name}, human)


@user.command("remove")
@_users_option
@click.argument("name")
@json_option
@pass_env
def user_remove(env: Env, users_file: Path, name: str) -> None:
    """Remove user NAME: its token stops working at the server's next request.

    The repository and its data stay.
    """
    from ripcord.server.users import set_user

    set_user(users_file, name, None)
    env.emit({"user": name, "removed": True}, lambda c: c.print(f"removed {name}"))
