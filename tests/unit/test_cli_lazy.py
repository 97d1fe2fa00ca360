"""Commands load their modules only when used, so every command starts quickly."""

from __future__ import annotations

import subprocess
import sys

import click

from ripcord.cli.main import COMMANDS, cli

HEAVY = ("ripcord.archive.backup", "starlette", "uvicorn", "mfusepy", "jinja2", "boto3")


def test_each_name_loads_the_command_of_that_name() -> None:
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
    assert cli.get_command(ctx, "nosuch") is None


def test_a_command_imports_only_its_own_stack() -> None:
    code = (
        "import sys\n"
        "from ripcord.cli.main import run\n"
        "run(['snapshots', '--help'])\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]", done.stdout
