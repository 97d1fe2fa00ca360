"""ripcord copy: replicate snapshots from one repository to another."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import click
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, human_bytes, json_option, pass_env
from ripcord.cli.other_repo import OtherPassword, open_other, password_options
from ripcord.cli.plan_env import resolve_location
from ripcord.replicate.copy import CopyReport, copy_snapshots
from ripcord.repository import Repository, Snapshot, resolve

TO_PASSWORD = "RIPCORD_TO_PASSWORD"


@click.command("copy")
@click.argument("snapshots", nargs=-1, metavar="[SNAPSHOT]...")
@click.option(
    "--from",
    "source",
    metavar="LOCATION",
    help="Repository to copy from; its password comes from the global options."
    "  [default: -r/RIPCORD_REPO, or the default repository]",
)
@click.option(
    "--to",
    "target",
    metavar="LOCATION",
    required=True,
    help="Repository to copy to: one made with `init --copy-params-from` the source (or the"
    " source with it from this one).",
)
@password_options("to", TO_PASSWORD)
@json_option
@pass_env
def copy_cmd(
    env: Env,
    snapshots: tuple[str, ...],
    source: str | None,
    target: str,
    to_password_file: str | None,
    to_password_command: str | None,
) -> None:
    """Copy snapshots to another repository: every snapshot of the source, or only
    SNAPSHOT... (latest, an id prefix or @TIME).

    Only the data the target lacks is sent; it is sealed there under the target's own
    key. Snapshots the target already holds (copied before, or copies of the same
    original, forgotten ones included) are skipped, so running it again is safe and
    finishes a copy that was interrupted. Protection and guard marks travel with the
    snapshots they name.
    """
    source = source or env.repo
    password = OtherPassword(TO_PASSWORD, to_password_file, to_password_command)
    with (
        _open(env, source) as src,
        _open(env, target, password, src) as dst,
    ):
        listed = src.snapshots()
        ids = [resolve(listed, spec).id for spec in snapshots] or None
        report = copy_snapshots(src, dst, ids, env.progress())
    by_id = {s.id: s for s in listed}
    doc = {
        "from": source,
        "to": target,
        "copied": [{"snapshot": s, "copy": c} for s, c in report.copied],
        "skipped": report.skipped,
        "blobs_copied": report.blobs_copied,
        "bytes_copied": report.bytes_copied,
        "marks_copied": report.marks_copied,
    }
    env.emit(doc, lambda c: _human(c, report, by_id, target))


@contextmanager
def _open(
    env: Env,
    location: str | None,
    password: OtherPassword | None = None,
    beside: Repository | None = None,
) -> Iterator[Repository]:
    """The one place a location becomes an open repository: the source with the global
    password options (None: the default repository), the target `beside` it with its own."""
    if beside is None:
        env.repo = location  # --from stands in for -r
        with env.open() as repo:
            yield repo
        return
    assert location is not None and password is not None
    url, credentials = resolve_location(location, env.plan())  # a plan's name: its own
    if credentials.password_file or credentials.password_command:
        password = replace(
            password, file=credentials.password_file, command=credentials.password_command
        )
    with open_other(url, password, "the target", beside) as repo:
        yield repo


def _human(c: Console, r: CopyReport, by_id: dict[str, Snapshot], target: str) -> None:
    for source_id, copy_id in r.copied:
        c.print(f"copied  {source_id[:12]} -> {copy_id[:12]}  {_what(by_id[source_id])}")
    for source_id in r.skipped:
        c.print(f"skipped {source_id[:12]} (the target holds it)  {_what(by_id[source_id])}")
    marks = f"; {r.marks_copied} marks written" if r.marks_copied else ""
    c.print(
        f"{len(r.copied)} snapshots copied to {escape(target)}, {len(r.skipped)} skipped:"
        f" {r.blobs_copied} blobs, {human_bytes(r.bytes_copied)} of new data{marks}"
    )


def _what(s: Snapshot) -> str:
    return f"{s.time:%Y-%m-%d %H:%M}  {escape(s.host)}  {escape(' '.join(s.paths))}"
