"""ripcord check: find every inconsistency, optionally reading all or some data back."""

from __future__ import annotations

from dataclasses import asdict

import click
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, human_bytes, json_option, pass_env
from ripcord.cli.proofs import print_records
from ripcord.errors import EXIT_DAMAGED, UsageError
from ripcord.repository.checks import CheckRecord
from ripcord.repository.packer import pack_name
from ripcord.verify.check import CheckReport, Problem
from ripcord.verify.checked import ALL, NEEDS_DATA, check_and_record
from ripcord.verify.parity_heal import NO_PARITY, Healing

SHOWN = 10  # affected paths printed per problem; --json has up to MAX_NAMED


@click.command("check")
@click.option(
    "--read-data", is_flag=True, help="Read every pack back: authenticate, decompress, re-hash."
)
@click.option(
    "--read-data-subset",
    metavar="SUBSET",
    help="Read back only a share of the packs: `5%` takes those verified longest ago"
    " (so 20 runs cover everything), `n/t` the n-th of t fixed groups.",
)
@click.option(
    "--repair",
    is_flag=True,
    help="Heal the damaged packs that reading data finds from their parity (init --parity).",
)
@json_option
@pass_env
def check_cmd(env: Env, read_data: bool, read_data_subset: str | None, repair: bool) -> int:
    """Check the repository: every snapshot, tree, blob, index file and pack.

    Exits 5 if anything is damaged or missing, naming the snapshots and files
    it affects, or if objects were overwritten or deleted at the storage level
    (S3 Object Lock keeps the originals, which ripcord reads); unreferenced data
    is reported but is not an error. What was read and found is kept in the
    repository as a check record, which `status` reports.
    """
    if read_data and read_data_subset:
        raise UsageError("--read-data and --read-data-subset cannot be combined")
    if repair and not (read_data or read_data_subset):
        raise UsageError(NEEDS_DATA)  # before any password is asked for
    with env.open() as repo:
        done = check_and_record(repo, ALL if read_data else read_data_subset, repair, env.progress)
    report, healing = done.report, done.healing
    doc = report_doc(report)
    if healing is not None:
        doc["healed"] = [asdict(h) for h in healing.healed]
        doc["unhealable"] = [asdict(u) for u in healing.unhealable]
    doc["record"] = done.record.id or None
    env.emit(doc, lambda c: _human(c, report, healing))
    if done.unrecorded:  # on stderr with --json too; the check's verdict stands
        env.err.print(f"[yellow]warning:[/] {escape(done.unrecorded)}")
    return EXIT_DAMAGED if report.errors else 0


def report_doc(r: CheckReport) -> dict[str, object]:
    return {
        "ok": not r.errors,
        "snapshots": r.snapshots,
        "trees": r.trees,
        "blobs": r.blobs,
        "packs": r.packs,
        "index_files": r.index_files,
        "packs_read": r.packs_read,
        "read_packs": r.read_packs,
        "bytes_read": r.bytes_read,
        "unused_blobs": r.unused_blobs,
        "unused_bytes": r.unused_bytes,
        "errors": [_problem_doc(p) for p in r.errors],
        "notes": [_problem_doc(p) for p in r.problems if not p.error],
    }


def _problem_doc(p: Problem) -> dict[str, object]:
    return {
        "kind": p.kind,
        "message": p.message,
        "snapshots": sorted(p.snapshots),
        "affected": p.affected,
        "paths": p.paths,
    }


def _human(c: Console, r: CheckReport, healing: Healing | None = None) -> None:
    c.print(
        f"checked {r.snapshots} snapshots, {r.trees} folders and {r.blobs} blobs"
        f" in {r.packs} packs ({r.index_files} index files)"
    )
    if r.packs_read:
        c.print(f"read back {r.packs_read} packs ({human_bytes(r.bytes_read)})")
    for p in r.problems:
        label = "[red]error[/]" if p.error else "[yellow]note[/]"
        c.print(f"{label}: {escape(p.message)}")
        if p.affected:
            c.print(f"  affects {p.affected} files or folders in {len(p.snapshots)} snapshots:")
        elif p.snapshots:
            c.print(f"  snapshots: {', '.join(sorted(s[:12] for s in p.snapshots))}")
        for path in p.paths[:SHOWN]:
            c.print(f"    {escape(path)}")
        if len(p.paths) > SHOWN:
            c.print(f"    ... and {p.affected - SHOWN} more (--json lists up to 1000)")
    if healing is not None:
        for h in healing.healed:
            c.print(
                f"[green]healed[/] {pack_name(h.pack)}: {h.shares} damaged shares rebuilt from"
                f" parity, {h.blobs} blobs stored again (the next prune deletes the damaged pack)"
            )
        for u in healing.unhealable:
            c.print(f"[red]not healed[/] {pack_name(u.pack)}: {escape(u.reason)}")
        if not healing.parity and not healing.unhealable:
            c.print(f"note: {NO_PARITY}")
    n = len(r.errors)
    c.print("no errors found" if not n else f"[red]{n} errors found[/]")


@click.command("checks")
@json_option
@pass_env
def checks_cmd(env: Env) -> None:
    """List the checks run on this repository (by any host) and their results, oldest first.

    Each `check` (and each check `run` does when one is due) leaves a record of
    what it read and found; `status` judges the newest.
    """
    with env.open() as repo:
        records = repo.checks()

    def human(out: Console) -> None:
        print_records(
            out,
            "checks",
            records,
            lambda r: r.errors,
            [
                ("read", lambda r: escape(r.read)),
                ("snapshots", lambda r: str(r.snapshots)),
                ("packs read", lambda r: f"{r.packs_read}/{r.packs}"),
                ("size", lambda r: human_bytes(r.bytes_read)),
            ],
        )
        for r in records:
            for line in r.problems if r.result == "fail" else ():
                out.print(f"[red]{r.id[:12]}[/] {escape(line)}", soft_wrap=True)

    env.emit([check_record_doc(r) for r in records], human)


def check_record_doc(r: CheckRecord) -> dict[str, object]:
    return {
        **asdict(r),
        "time": r.time.isoformat(),
        "problems": list(r.problems),
        "result": r.result,
    }
