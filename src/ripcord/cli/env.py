"""What every command shares: the global options, opening the repository once,
and printing either for people (rich) or for scripts (--json)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ripcord.archive.progress import NullProgress, Progress
from ripcord.cli.location import DefaultRepository, cache_dir, open_store
from ripcord.cli.passwords import get_password
from ripcord.cli.plan_env import resolve_location
from ripcord.errors import RepositoryNotFound, UsageError
from ripcord.plan.load import load_plan
from ripcord.plan.model import Credentials, Plan
from ripcord.repository import KdfParams, Repository, read_config

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Env:
    repo: str | None = None
    password_file: str | None = None
    password_command: str | None = None
    plan_file: str | None = None  # --plan / RIPCORD_PLAN
    json: bool = False
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(  # soft_wrap: never break a path someone has to copy
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )

    _plan: Plan | None = field(default=None, init=False, repr=False)

    def plan(self) -> Plan | None:
        """The plan --plan names, read and checked once (PlanError lists its problems)."""
        if self._plan is None and self.plan_file is not None:
            self._plan = load_plan(self.plan_file)
        return self._plan

    def password(
        self,
        prompt: str = "repository password",
        confirm: bool = False,
        credentials: Credentials | None = None,
    ) -> bytes:
        """A plan's credentials for its repository first (before RIPCORD_PASSWORD, which
        cannot serve several repositories); else RIPCORD_PASSWORD, the options, a prompt."""
        if credentials is not None and (credentials.password_file or credentials.password_command):
            return get_password(
                env=None,
                file=credentials.password_file,
                command=credentials.password_command,
                prompt=prompt,
            )
        return get_password(
            env="RIPCORD_PASSWORD",
            file=self.password_file,
            command=self.password_command,
            prompt=prompt,
            confirm=confirm,
        )

    @contextmanager
    def open(self, create_default: bool = False) -> Iterator[Repository]:
        """Open the repository -r/RIPCORD_REPO names (a location, or a repository of the
        plan), else the plan's first repository, else the embedded default."""
        if self.repo is None and self.plan_file is None:
            with self._closing(self._open_default(create_default)) as repo:
                yield repo
        else:
            with self.open_at(*resolve_location(self.repo, self.plan())) as repo:
                yield repo

    @contextmanager
    def open_at(
        self, location: str, credentials: Credentials | None = None
    ) -> Iterator[Repository]:
        """Open the repository at `location` with `credentials` (see password())."""
        store = open_store(location)
        try:
            read_config(store)  # refuse a missing or newer repository before any prompt
            repo = Repository.open(
                store, self.password(credentials=credentials), cache_dir=cache_dir()
            )
        except RepositoryNotFound:
            store.close()
            raise RepositoryNotFound(f"no repository at {location} (no config)") from None
        except BaseException:
            store.close()
            raise
        with self._closing(repo):
            yield repo

    @contextmanager
    def _closing(self, repo: Repository) -> Iterator[Repository]:
        try:
            yield repo
        finally:
            for why in repo.left_out:
                self.err.print(f"[yellow]warning: left out[/] {escape(why)}")
            repo.close()
            repo.store.close()  # connections (S3, SFTP, rest) end with the command

    def _open_default(self, create: bool) -> Repository:
        default = DefaultRepository.here()
        if default.exists():
            store = open_store(str(default.repo))
            try:
                password = default.read_key()
            except OSError as e:
                raise UsageError(
                    f"the default repository's key file {default.key_file} cannot be read:"
                    f" {e.strerror}"
                ) from None
            return Repository.open(store, password, cache_dir=cache_dir())
        if not create:
            raise RepositoryNotFound(
                "no repository given (-r/--repo or RIPCORD_REPO) and no default repository"
                f" at {default.repo}"
            )
        store = open_store(str(default.repo), create=True)
        repo = Repository.init(store, default.new_key(), KdfParams(), cache_dir=cache_dir())
        self.err.print(
            f"created the default repository at [bold]{escape(str(default.repo))}[/]\n"
            f"its key is in [bold]{escape(str(default.key_file))}[/] (mode 0600).\n"
            "[yellow]Keep a copy of that key file somewhere safe: without it these backups"
            " cannot be read.[/]"
        )
        return repo

    def emit(self, doc: Any, human: Callable[[Console], None]) -> None:
        """One JSON document on stdout with --json, otherwise the human rendering."""
        if self.json:
            sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        else:
            human(self.out)

    def say(self, text: str) -> None:
        """A line on stderr saying what a long command is doing; silent with --json."""
        if not self.json:
            self.err.print(f"[dim]{escape(text)}[/]")

    def progress(self) -> Progress:
        if self.json or not self.err.is_terminal or os.environ.get("RIPCORD_NO_PROGRESS"):
            return NullProgress()
        from ripcord.cli.progress import RichProgress

        return RichProgress(self.err)


def json_option(f: F) -> F:
    """`--json` after the command name too, as scripts tend to write it."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(Env).json = True

    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=set_json,
        help="Print one JSON document.",
    )(f)


pass_env = click.make_pass_decorator(Env, ensure=True)


PIPED_WIDTH = 1000  # piped, a table row stays on one line (for grep)


def rows(out: Console) -> Console:
    """`out` for printing a table: as it is on a terminal; piped, wide enough that no
    row wraps, since nobody could grep a reason broken over two lines."""
    return out if out.is_terminal else Console(file=out.file, width=PIPED_WIDTH, highlight=False)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
