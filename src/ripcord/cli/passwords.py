"""Where a password comes from: environment, file, command, or a prompt."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from ripcord.errors import UsageError


def get_password(
    *,
    env: str | None,
    file: str | None,
    command: str | None,
    prompt: str,
    confirm: bool = False,
) -> bytes:
    """The first of: `env` variable, `file`, `command` output, a terminal prompt."""
    value = os.environ.get(env) if env else None
    if value is not None:
        return value.encode()
    if file:
        try:
            with open(os.path.expanduser(file), "rb") as f:
                return f.read().rstrip(b"\r\n")
        except OSError as e:
            raise UsageError(f"cannot read password file {file}: {e.strerror}") from None
    if command:
        done = subprocess.run(command, shell=True, capture_output=True, check=False)
        if done.returncode != 0:
            raise UsageError(f"password command failed with exit code {done.returncode}")
        return done.stdout.rstrip(b"\r\n")
    if sys.stdin.isatty():
        text: str = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
        return text.encode()
    raise UsageError(
        f"no password: set {env or 'RIPCORD_PASSWORD'}, or use a password file or command"
        " (see ripcord --help)"
    )
