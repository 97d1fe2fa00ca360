"""ripcord init: create a repository."""

from __future__ import annotations

import contextlib
from dataclasses import asdict

import click
from rich.markup import escape

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.location import cache_dir, open_store
from ripcord.cli.passwords import get_password
from ripcord.cli.plan_env import resolve_location
from ripcord.errors import RipcordError, UsageError
from ripcord.repository import KdfParams, Repository
from ripcord.repository.config import LOCK_MODES, MAX_PARITY, MAX_RETENTION_SECONDS, ObjectLock
from ripcord.retention.duration import HELP as DURATION_HELP
from ripcord.retention.duration import parse_duration
from ripcord.storage import ObjectNotFound, Store


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
@click.option(
    "--object-lock",
    type=click.Choice(LOCK_MODES),
    help="S3 only: write every object under Object Lock in this mode, so that nobody"
    " (compliance) or nobody without special rights (governance) deletes it early.",
)
@click.option(
    "--retention",
    metavar="DURATION",
    help=f"With --object-lock: how long each object stays locked ({DURATION_HELP}).",
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
    object_lock: str | None,
    retention: str | None,
    kdf_iterations: int,
    kdf_memory_mib: int,
) -> None:
    """Create a new, empty repository at -r/--repo (or RIPCORD_REPO).

    With --plan, -r NAME (or no -r: the plan's first repository) creates the plan's
    repository NAME at its url, with the password from its password_file/command;
    --copy-params-from takes a plan's repository name too.
    """
    if env.repo is None and env.plan_file is None:
        raise UsageError("init needs a repository: -r/--repo PATH or RIPCORD_REPO")
    location, credentials = resolve_location(env.repo, env.plan())
    percent = parse_parity(parity)
    lock = parse_object_lock(object_lock, retention)
    store = open_store(location, create=True)
    with contextlib.suppress(ObjectNotFound):  # say so before asking for any password
        store.stat("config")
        raise RipcordError(f"a repository already exists at {location}")
    if lock:
        check_object_lock(store)
    source = None
    if copy_params_from:
        from_location, from_credentials = resolve_location(copy_params_from, env.plan())
        from_store = open_store(from_location)
        planned = from_credentials.password_file or from_credentials.password_command
        from_pw = get_password(
            env=None if planned else "RIPCORD_FROM_PASSWORD",
            file=from_credentials.password_file if planned else from_password_file,
            command=from_credentials.password_command if planned else from_password_command,
            prompt="password of " + copy_params_from,
        )
        source = Repository.open(from_store, from_pw)
    password = env.password("new repository password", confirm=True, credentials=credentials)
    try:
        repo = Repository.init(
            store,
            password,
            kdf_params(kdf_iterations, kdf_memory_mib),
            copy_from=source,
            cache_dir=cache_dir(),
            parity=percent,
            object_lock=lock,
        )
    finally:
        if source is not None:
            source.close()
    doc = {
        "repository": location,
        "id": repo.config.id,
        "key": repo.key_name.split("/")[1],
        "params_from": copy_params_from,
        "parity": percent,
        "object_lock": asdict(lock) if lock else None,
    }
    repo.close()
    where = escape(location)
    extras = [f"{percent}% parity"] if percent else []
    if lock:
        extras.append(f"{lock.mode} Object Lock for {retention}")
    with_extras = f", with {' and '.join(extras)}" if extras else ""
    env.emit(doc, lambda c: c.print(f"created repository {repo.config.id} at {where}{with_extras}"))


def parse_parity(text: str) -> int:
    """`5%` or `5`: whole percents from 0 (no parity) to 100."""
    digits = text.strip().removesuffix("%")
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_PARITY:
        raise UsageError(f"--parity takes a whole percentage from 0% to 100%, not {text!r}")
    return int(digits)


def parse_object_lock(mode: str | None, retention: str | None) -> ObjectLock | None:
    """--object-lock and --retention go together: a lock needs a length, a length a lock."""
    if mode is None and retention is None:
        return None
    if mode is None or retention is None:
        raise UsageError("--object-lock and --retention go together (e.g. compliance and 30d)")
    seconds = int(parse_duration(retention).total_seconds())
    if seconds > MAX_RETENTION_SECONDS:
        raise UsageError(f"--retention {retention} is longer than S3 allows (100 years)")
    return ObjectLock(mode, seconds)


def check_object_lock(store: Store) -> None:
    """Refuse before any password or write unless the bucket can lock objects, per object."""
    from ripcord.storage.s3 import S3Store  # boto3 takes ~0.2 s to import: only when used

    if not isinstance(store, S3Store):
        raise UsageError("--object-lock needs an s3:// repository (S3 Object Lock)")
    found = store.object_lock_configuration()
    if found is None:
        raise RipcordError(
            f"bucket {store.bucket!r} does not have Object Lock enabled. A bucket gets it when"
            f" it is created: `aws s3api create-bucket --bucket NAME"
            f" --object-lock-enabled-for-bucket` (add `--endpoint-url URL` for a server other"
            f" than AWS), then init a repository there. On AWS an existing bucket can get it"
            f" too, once versioning is on: `aws s3api put-object-lock-configuration --bucket"
            f" {store.bucket} --object-lock-configuration ObjectLockEnabled=Enabled`."
        )
    if "Rule" in found:
        raise RipcordError(
            f"bucket {store.bucket!r} has a default retention rule, which would lock lock"
            " objects too (their holders must delete them); ripcord sets retention per object:"
            f" remove the rule with `aws s3api put-object-lock-configuration --bucket"
            f" {store.bucket} --object-lock-configuration ObjectLockEnabled=Enabled`"
        )
