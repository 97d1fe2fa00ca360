"""The `ripcord` command: global options, the commands, and exit codes.

Exit codes (README.md §Exit codes): 0 ok; 1 error; 2 usage; 3 snapshot saved
or restore done but some files could not be read or written; 10 no repository
there; 11 could not lock; 12 wrong password or key; 130 interrupted (Ctrl-C);
143 terminated (SIGTERM).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import traceback
from importlib import import_module

import click

from ripcord import __version__
from ripcord.cli.env import Env
from ripcord.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    RipcordError,
)

COMMANDS: dict[str, tuple[str, str]] = {  # name: (module of ripcord.cli, attribute)
    "backup": ("backup_cmd", "backup"),
    "cat": ("cat_cmd", "cat"),
    "check": ("check_cmd", "check_cmd"),
    "checks": ("check_cmd", "checks_cmd"),
    "copy": ("copy_cmd", "copy_cmd"),
    "diff": ("diff_cmd", "diff"),
    "drill": ("drill_cmd", "drill_cmd"),
    "drills": ("drill_cmd", "drills_cmd"),
    "find": ("find_cmd", "find"),
    "forget": ("forget_cmd", "forget"),
    "guard": ("guard_cmd", "guard"),
    "history": ("history_cmd", "history_cmd"),
    "init": ("init_cmd", "init"),
    "key": ("key_cmd", "key"),
    "ls": ("ls_cmd", "ls"),
    "maintain": ("maintain_cmd", "maintain_cmd"),
    "mount": ("mount_cmd", "mount"),
    "plan": ("plan_cmd", "plan_group"),
    "protect": ("protect_cmd", "protect"),
    "prune": ("prune_cmd", "prune_cmd"),
    "repair": ("repair_cmd", "repair"),
    "restore": ("restore_cmd", "restore"),
    "run": ("run_cmd", "run_cmd"),
    "schedule": ("schedule_cmd", "schedule"),
    "serve": ("serve_cmd", "serve"),
    "snapshots": ("snapshots_cmd", "snapshots"),
    "stats": ("stats_cmd", "stats"),
    "status": ("status_cmd", "status_cmd"),
    "ui": ("ui_cmd", "ui_cmd"),
    "unprotect": ("protect_cmd", "unprotect"),
}


class _LazyGroup(click.Group):
    """Imports a command's module only when it runs (or help lists it): each command
    pulls in its own stack (backup the archive walker, ui starlette, mount libfuse),
    and paying for all of them made every command start ~0.3 s slower."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        command: click.Command = getattr(import_module(f"ripcord.cli.{where[0]}"), where[1])
        return command


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "-r",
    "--repo",
    envvar="RIPCORD_REPO",
    metavar="REPO",
    help="Repository location [env RIPCORD_REPO]. Without it, the default"
    " repository in your data directory is used.",
)
@click.option(
    "--password-file",
    envvar="RIPCORD_PASSWORD_FILE",
    metavar="FILE",
    help="Read the password from FILE [env RIPCORD_PASSWORD_FILE].",
)
@click.option(
    "--password-command",
    envvar="RIPCORD_PASSWORD_COMMAND",
    metavar="CMD",
    help="Run CMD and use its output as the password [env RIPCORD_PASSWORD_COMMAND].",
)
@click.option(
    "--plan",
    "plan_file",
    envvar="RIPCORD_PLAN",
    metavar="FILE",
    help="The plan file (docs/PLAN.md) [env RIPCORD_PLAN]: -r NAME then opens its repository"
    " NAME with its credentials, and no -r its first repository.",
)
@click.option("--json", "json_out", is_flag=True, help="Print one JSON document on stdout.")
@click.version_option(__version__, prog_name="ripcord")
@click.pass_context
def cli(
    ctx: click.Context,
    repo: str | None,
    password_file: str | None,
    password_command: str | None,
    plan_file: str | None,
    json_out: bool,
) -> None:
    """ripcord: encrypted, deduplicated, versioned backups.

    The password comes from RIPCORD_PASSWORD, --password-file, --password-command,
    or a prompt on a terminal.
    """
    env = ctx.ensure_object(Env)
    env.repo, env.password_file, env.password_command = repo, password_file, password_command
    env.plan_file = plan_file
    env.json = env.json or json_out


def run(argv: list[str] | None = None) -> int:
    """Run a command line and return its exit code (used by main and by tests)."""
    env = Env()
    try:
        rv = cli.main(args=argv, prog_name="ripcord", standalone_mode=False, obj=env)
        return rv if isinstance(rv, int) else 0
    except RipcordError as e:
        return _fail(env, str(e) or (type(e).__doc__ or "error"), e.exit_code)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return EXIT_USAGE if isinstance(e, click.UsageError) else e.exit_code
    except (KeyboardInterrupt, click.Abort):
        return _fail(env, "interrupted", EXIT_INTERRUPTED)
    except Terminated:
        return _fail(env, "terminated", EXIT_TERMINATED)
    except Exception as e:  # a bug or an unexpected fault: say so plainly
        if os.environ.get("RIPCORD_DEBUG"):
            traceback.print_exc()
        return _fail(env, f"unexpected error: {type(e).__name__}: {e}", EXIT_ERROR)


def _fail(env: Env, message: str, code: int) -> int:
    sys.stderr.write(f"ripcord: {message}\n")
    if env.json:
        sys.stdout.write(json.dumps({"error": message, "exit_code": code}) + "\n")
    return code


def _limit_malloc_arenas() -> None:
    """glibc gives each thread its own malloc arena; with our pools that costs
    tens of MiB of RSS for nothing. Two arenas keep peak memory near the data."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX


class Terminated(BaseException):
    """SIGTERM (systemctl stop, kill): unwinds like Ctrl-C, so locks are released."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Terminated


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    _limit_malloc_arenas()
    # Worker threads keep the GIL up to the switch interval; the walking thread makes
    # many short syscalls and waits that long to resume after each (5 ms by default).
    sys.setswitchinterval(0.0005)
    sys.exit(run())
