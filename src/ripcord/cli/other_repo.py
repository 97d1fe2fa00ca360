"""A second repository on one command line (`repair --from`, `copy --to`), opened
with a password of its own: the global password options belong to the first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import click

from ripcord.cli.location import cache_dir, open_store
from ripcord.cli.passwords import get_password
from ripcord.errors import RepositoryNotFound, WrongPassword
from ripcord.repository import Repository, read_config

F = Callable[..., object]


@dataclass(frozen=True)
class OtherPassword:
    """Where the second repository's password comes from: `env` holds the password
    itself; else a file, a command, or a prompt."""

    env: str
    file: str | None = None
    command: str | None = None

    def get(self, location: str) -> bytes:
        return get_password(
            env=self.env, file=self.file, command=self.command, prompt=f"password of {location}"
        )


def password_options(flag: str, env: str) -> Callable[[F], F]:
    """`--FLAG-password-file` and `--FLAG-password-command` for the repository `--FLAG`."""

    def add(f: F) -> F:
        f = click.option(
            f"--{flag}-password-command",
            metavar="CMD",
            help=f"Command printing the password of --{flag}.",
        )(f)
        return click.option(
            f"--{flag}-password-file",
            metavar="FILE",
            help=f"Password file for --{flag} [or env {env} holding the password itself].",
        )(f)

    return add


@contextmanager
def open_other(
    location: str, password: OtherPassword, role: str, beside: Repository
) -> Iterator[Repository]:
    """The repository at `location`, `role` naming it in errors ("the replica"). Its index
    cache is its own, even when it is a byte copy of `beside` (the same repository id)."""
    with ExitStack() as stack:
        try:
            store = open_store(location)
            stack.callback(store.close)
            config, _ = read_config(store)
        except RepositoryNotFound:
            raise RepositoryNotFound(f"no repository at {location} ({role})") from None
        secret = password.get(location)
        cache = None if config.id == beside.config.id else cache_dir()
        try:
            repo = Repository.open(store, secret, cache_dir=cache)
        except WrongPassword:
            raise WrongPassword(f"wrong password for {role} {location}") from None
        stack.callback(repo.close)  # before the store's
        yield repo
