"""Which repository a name means under a plan, and opening it with its own credentials.

`-r usb`, `copy --from usb --to cloud`, `run` and `status` all go from a plan's
repository name (or a plain location) to an open Repository here, so that the
plan's password_file/password_command are honoured the same way everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ripcord.errors import UsageError
from ripcord.plan.load import REPOSITORY_NAME
from ripcord.plan.model import Credentials, Plan, RepositorySpec
from ripcord.repository import Repository

if TYPE_CHECKING:
    from ripcord.cli.env import Env


def resolve_location(name_or_url: str | None, plan: Plan | None) -> tuple[str, Credentials]:
    """The location and credentials `name_or_url` means.

    A plan's repository name gives its url and credentials; None gives the plan's
    first repository; anything else is a location as -r takes it, with no
    credentials of its own (RIPCORD_PASSWORD and the global options apply).
    """
    if plan is not None:
        spec = plan.repositories[0] if name_or_url is None else plan.repository(name_or_url)
        if spec is not None:
            return spec.url, spec.credentials
        if REPOSITORY_NAME.fullmatch(name_or_url or "") and not os.path.exists(name_or_url or ""):
            names = ", ".join(r.name for r in plan.repositories)
            raise UsageError(
                f"the plan {plan.path} has no repository {name_or_url!r} (it has {names})"
            )
    if name_or_url is None:
        raise UsageError("no repository given (-r/--repo, RIPCORD_REPO or --plan)")
    return name_or_url, Credentials()


@contextmanager
def open_spec(env: Env, spec: RepositorySpec) -> Iterator[Repository]:
    """Open one of the plan's repositories with its credentials; closed on exit."""
    with env.open_at(spec.url, spec.credentials) as repo:
        yield repo


@contextmanager
def open_location(env: Env, name_or_url: str | None) -> Iterator[Repository]:
    """Open a plan's repository by name, or any location (`copy --from/--to`)."""
    with env.open_at(*resolve_location(name_or_url, env.plan())) as repo:
        yield repo
