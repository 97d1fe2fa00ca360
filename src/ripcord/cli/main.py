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

import click

from ripcord import __version__
from ripcord.cli.backup_cmd import backup
from ripcord.cli.cat_cmd import cat
from ripcord.cli.check_cmd import check_cmd, checks_cmd
from ripcord.cli.copy_cmd import copy_cmd
from ripcord.cli.diff_cmd import diff
from ripcord.cli.drill_cmd import drill_cmd, drills_cmd
from ripcord.cli.env import Env
from ripcord.cli.find_cmd import find
from ripcord.cli.forget_cmd import forget
from ripcord.cli.guard_cmd import guard
from ripcord.cli.history_cmd import history_cmd
from ripcord.cli.init_cmd import init
from ripcord.cli.key_cmd import key
from ripcord.cli.ls_cmd import ls
from ripcord.cli.maintain_cmd import maintain_cmd
from ripcord.cli.mount_cmd import mount
from ripcord.cli.plan_cmd import plan_group
from ripcord.cli.protect_cmd import protect, unprotect
from ripcord.cli.prune_cmd import prune_cmd
from ripcord.cli.repair_cmd import repair
from ripcord.cli.restore_cmd import restore
from ripcord.cli.run_cmd import run_cmd
from ripcord.cli.schedule_cmd import schedule
from ripcord.cli.serve_cmd import serve
from ripcord.cli.snapshots_cmd import snapshots
from ripcord.cli.stats_cmd import stats
from ripcord.cli.status_cmd import status_cmd
from ripcord.cli.ui_cmd import ui_cmd
from ripcord.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    RipcordError,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for command in (init, backup, snapshots, ls, restore, stats, cat, key, find):
    cli.add_command(command)
cli.add_command(diff)
cli.add_command(history_cmd)
cli.add_command(protect)
cli.add_command(unprotect)
cli.add_command(forget)
cli.add_command(prune_cmd)
cli.add_command(repair)
cli.add_command(drill_cmd)
cli.add_command(drills_cmd)
cli.add_command(check_cmd)
cli.add_command(checks_cmd)
cli.add_command(serve)
cli.add_command(maintain_cmd)
cli.add_command(guard)
cli.add_command(status_cmd)
cli.add_command(run_cmd)
cli.add_command(copy_cmd)
cli.add_command(plan_group)
cli.add_command(schedule)
cli.add_command(mount)
cli.add_command(ui_cmd)


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
