"""ripcord ui: the web dashboard for a plan (or one repository)."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

import click
from rich.markup import escape

from ripcord.cli.env import Env, pass_env
from ripcord.cli.passwords import get_password
from ripcord.cli.plan_env import open_spec
from ripcord.cli.serve_cmd import tls_options
from ripcord.errors import UsageError
from ripcord.plan.model import RepositorySpec
from ripcord.repository import Repository

DEFAULT_LISTEN = "127.0.0.1:8700"


@click.command("ui")
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on (:0 picks a free port). Plain HTTP only on loopback unless"
    " --allow-plain-http.",
)
@click.option(
    "--password-file",
    "ui_password_file",
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also let in whoever types the password in FILE (for a bookmark; the login link"
    " printed at start always works) [env RIPCORD_UI_PASSWORD holds it instead].",
)
@tls_options
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a repository may take to answer before a page says it is unreachable.",
)
@pass_env
def ui_cmd(
    env: Env,
    listen: str,
    ui_password_file: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    allow_plain_http: bool,
    timeout: float,
) -> None:
    """Serve the dashboard: the plan's 3-2-1-1-0 verdict, each repository's state and
    alarms, a timeline per source, a snapshot browser (download, restore), and buttons
    for a backup, a check or a drill now.

    It prints a login link carrying a fresh random token; open it in a browser. The
    token changes at every start. With --plan it shows the plan's repositories;
    otherwise the one -r/RIPCORD_REPO names. Stop with Ctrl-C.
    """
    from ripcord.server.run import run_app  # starlette, uvicorn, jinja2: only when serving
    from ripcord.ui.app import create_app
    from ripcord.ui.auth import Auth
    from ripcord.ui.site import Site

    def connect(spec: RepositorySpec) -> AbstractContextManager[Repository]:
        return open_spec(env, spec)

    plan = env.plan()
    if plan is not None and env.repo is None:
        site = Site.of_plan(plan, connect)
    else:
        where = env.repo
        if where is None:
            raise UsageError("ui shows a plan (--plan FILE) or one repository (-r LOCATION)")
        spec = plan.repository(where) if plan else None
        site = (
            Site(plan, (spec,), connect, title=spec.name)
            if spec
            else Site.of_repository(where, "repository", lambda _s: env.open())
        )
    if site.plan is None:  # one repository: a wrong password should stop us here, not later
        with site.using(site.names[0]):
            pass
    site.timeout = timeout
    auth = Auth(password=_ui_password(ui_password_file))

    def listening(url: str) -> None:
        # cookies ignore the port: two dashboards on one host must not log each other out
        auth.cookie = f"ripcord_session_{url.rpartition(':')[2]}"
        env.out.print(f"ripcord dashboard for [bold]{escape(site.title)}[/]")
        env.out.print(f"open {url}/login?token={auth.token}", soft_wrap=True, markup=False)
        env.out.file.flush()
        env.err.print("press Ctrl-C to stop")

    try:
        run_app(
            create_app(site, auth),
            listen,
            tls_cert,
            tls_key,
            allow_plain_http,
            listening,
            "the login token and the session would cross the network in the clear",
        )
    finally:
        site.close()


def _ui_password(path: Path | None) -> str | None:
    if path is None:
        return os.environ.get("RIPCORD_UI_PASSWORD") or None
    return get_password(env=None, file=str(path), command=None, prompt="").decode(errors="replace")
