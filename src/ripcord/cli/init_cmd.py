"""ripcord init: create a repository."""

from __future__ import annotations

import contextlib

import click
from rich.markup import escape

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.location import cache_dir, open_store
from ripcord.cli.passwords import get_password
from ripcord.errors import RipcordError, UsageError
from ripcord.repository import KdfParams, Repository
from ripcord.repository.config import MAX_PARITY
from ripcord.storage import ObjectNotFound


def kdf_options(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option(
        "--kdf-memory-mib",
        type=click.IntRange(1, 4096),
        default=KdfParams().memory_kib // 1024,
        show_default=True,
        help="Argon2id memory per password check.",
    )(f)
    f = click.option(
        "--kdf-iterations",
        type=click.IntRange(1, 100),
        default=KdfParams().iterations,
        show_default=True,
        help="Argon2id passes.",
    )(f)
    return f


def kdf_params(iterations: int, memory_mib: int) -> KdfParams:
    return KdfParams(iterations=iterations, memory_kib=memory_mib * 1024)


@click.command("init")
@click.option(
    "--copy-params-from",
    metavar="REPO",
    help="Share chunker parameters and chunk-id key with REPO, so snapshots copy"
    " between the two without re-chunking.",
)
@click.option("--from-password-file", metavar="FILE", help="Password file for --copy-params-from.")
@click.option("--from-password-command", metavar="CMD", help="Command printing that password.")
@click.option(
    "--parity",
    metavar="PERCENT",
    default="0",
    help="Store Reed-Solomon parity of this size with every pack (e.g. 5%), so that"
    " `check --read-data --repair` heals bit rot and torn writes without a replica.",
)
@kdf_options
@json_option
@pass_env
def init(
    env: Env,
    copy_params_from: str | None,
    from_password_file: str | None,
    from_password_command: str | None,
    parity: str,
    kdf_iterations: int,
    kdf_memory_mib: int,
) -> None:
    """Create a new, empty repository at -r/--repo (or RIPCORD_REPO)."""
    if env.repo is None:
        raise UsageError("init needs a repository: -r/--repo PATH or RIPCORD_REPO")
    percent = parse_parity(parity)
    store = open_store(env.repo, create=True)
    with contextlib.suppress(ObjectNotFound):  # say so before asking for any password
        store.stat("config")
        raise RipcordError(f"a repository already exists at {env.repo}")
    source = None
    if copy_params_from:
        from_store = open_store(copy_params_from)
        from_pw = get_password(
            env="RIPCORD_FROM_PASSWORD",
            file=from_password_file,
            command=from_password_command,
            prompt="password of " + copy_params_from,
        )
        source = Repository.open(from_store, from_pw)
    password = env.password("new repository password", confirm=True)
    try:
        repo = Repository.init(
            store,
            password,
            kdf_params(kdf_iterations, kdf_memory_mib),
            copy_from=source,
            cache_dir=cache_dir(),
            parity=percent,
        )
    finally:
        if source is not None:
            source.close()
    doc = {
        "repository": env.repo,
        "id": repo.config.id,
        "key": repo.key_name.split("/")[1],
        "params_from": copy_params_from,
        "parity": percent,
    }
    repo.close()
    where = escape(env.repo)
    with_parity = f", with {percent}% parity" if percent else ""
    env.emit(doc, lambda c: c.print(f"created repository {repo.config.id} at {where}{with_parity}"))


def parse_parity(text: str) -> int:
    """`5%` or `5`: whole percents from 0 (no parity) to 100."""
    digits = text.strip().removesuffix("%")
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_PARITY:
        raise UsageError(f"--parity takes a whole percentage from 0% to 100%, not {text!r}")
    return int(digits)
