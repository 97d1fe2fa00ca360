"""ripcord drill / drills: restore a sample and prove it; the dated record of drills."""

from __future__ import annotations

import os
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, human_bytes, json_option, pass_env
from ripcord.cli.proofs import print_records
from ripcord.errors import EXIT_DAMAGED
from ripcord.repository.drills import DrillRecord
from ripcord.sizes import parse_size
from ripcord.verify.drill import (
    DEFAULT_MAX_BYTES,
    DEFAULT_SAMPLE,
    DrillOptions,
    DrillReport,
    drill,
)


def record_doc(r: DrillRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "time": r.time.isoformat(),
        "host": r.host,
        "user": r.user,
        "repository": r.repository,
        "snapshots": list(r.snapshots),
        "seed": r.seed,
        "sample": r.sample,
        "max_bytes": r.max_bytes,
        "files": r.files,
        "bytes": r.bytes,
        "source_compared": r.source_compared,
        "duration": r.duration,
        "result": r.result,
        "failures": [
            {"snapshot": f.snapshot, "path": f.path, "reason": f.reason} for f in r.failures
        ],
    }


def _report_doc(report: DrillReport) -> dict[str, Any]:
    return {
        **record_doc(report.record),
        "sampled": [
            {
                "snapshot": p.pick.snapshot.id,
                "path": os.fsdecode(p.pick.path),
                "type": p.pick.node.type,
                "size": p.pick.node.size,
                "picked_as": p.pick.why,
                "source_compared": p.source,
                "ok": p.failure is None,
            }
            for p in report.proofs
        ],
        "scratch": report.scratch,
    }


@click.command("drill")
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=DEFAULT_SAMPLE,
    show_default=True,
    metavar="N",
    help="Files to restore and prove.",
)
@click.option(
    "--bytes",
    "max_bytes",
    show_default="1G",
    metavar="SIZE",
    help="Restore at most SIZE bytes in all (100M, 1G, ...).",
)
@click.option(
    "--snapshot",
    "specs",
    multiple=True,
    metavar="SNAPSHOT",
    help="Drill this snapshot (latest, an id prefix or @TIME; repeatable)."
    " Default: the latest and one older, drawn by the seed.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    metavar="N",
    help="Pick the files (and the older snapshot) by this seed; default random, recorded.",
)
@click.option(
    "--scratch",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Make the scratch directory in DIR (default $TMPDIR or /tmp).",
)
@click.option("--keep-scratch", is_flag=True, help="Leave the restored files behind.")
@json_option
@pass_env
def drill_cmd(
    env: Env,
    sample: int,
    max_bytes: str | None,
    specs: tuple[str, ...],
    seed: int | None,
    scratch: str | None,
    keep_scratch: bool,
) -> int:
    """Restore a sample of files into a scratch directory and prove them.

    Every byte is checked against the BLAKE3 recorded at backup, size and
    metadata against the snapshot, and files whose live source is unchanged
    since the snapshot against the source too. The result, pass or fail, is
    kept in the repository (`ripcord drills`). Exits 5 if anything failed.
    """
    options = DrillOptions(
        sample=sample,
        max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else parse_size(max_bytes),
        snapshots=list(specs),
        seed=seed,
        scratch=scratch,
        keep_scratch=keep_scratch,
    )
    with env.open() as repo:
        report = drill(repo, options, env.progress)
    rec = report.record

    def human(c: Console) -> None:
        n = len(rec.snapshots)
        verdict = "[green]PASS[/]" if rec.result == "pass" else "[red]FAIL[/]"
        c.print(
            f"drill {rec.id[:12]}: {verdict}: {rec.files} files ({human_bytes(rec.bytes)})"
            f" from {n} snapshot{'s' * (n != 1)} restored and proven in {rec.duration:.1f}s,"
            f" {rec.source_compared} also against their unchanged source"
        )
        again = " ".join(f"--snapshot {s[:12]}" for s in rec.snapshots)
        c.print(f"seed {rec.seed}: `ripcord drill --seed {rec.seed} {again}` picks them again")
        if report.scratch:
            c.print(f"restored files left in {escape(report.scratch)}")

    env.emit(_report_doc(report), human)
    # on stderr with --json too: a script's log must say what could not be restored
    for f in rec.failures:
        env.err.print(
            f"[red]drill failed[/] {f.snapshot[:12]} {escape(f.path)}: {escape(f.reason)}"
        )
    return EXIT_DAMAGED if rec.failures else 0


@click.command("drills")
@json_option
@pass_env
def drills_cmd(env: Env) -> None:
    """List the drills run on this repository and their results, oldest first."""
    with env.open() as repo:
        records = repo.drills()

    def human(out: Console) -> None:
        print_records(
            out,
            "drills",
            records,
            lambda r: len(r.failures),
            [
                ("files", lambda r: str(r.files)),
                ("size", lambda r: human_bytes(r.bytes)),
                ("source", lambda r: str(r.source_compared)),
                ("snapshots", lambda r: str(len(r.snapshots))),
            ],
        )

    env.emit([record_doc(r) for r in records], human)
