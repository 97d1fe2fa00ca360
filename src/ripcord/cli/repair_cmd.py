"""ripcord repair: rebuild the index, heal from a replica, drop what cannot be healed.

`ripcord repair --from REPLICA` heals blobs (the issue's spelling: healing from
a replica is what `repair` means most often); `repair index` and `repair
snapshots` are subcommands.
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.other_repo import OtherPassword, open_other, password_options
from ripcord.errors import EXIT_DAMAGED, UsageError
from ripcord.verify.reindex import IndexReport
from ripcord.verify.repair import (
    Broken,
    RepairReport,
    repair_from,
    repair_index,
    repair_snapshots,
)


@click.group("repair", invoke_without_command=True)
@click.option(
    "--from",
    "replica",
    metavar="REPLICA",
    help="Heal missing or damaged blobs from REPLICA: a repository that shares this one's"
    " chunk ids (one made from the other with `init --copy-params-from`).",
)
@password_options("from", "RIPCORD_FROM_PASSWORD")
@json_option
@pass_env
def repair(
    env: Env,
    replica: str | None,
    from_password_file: str | None,
    from_password_command: str | None,
) -> int | None:
    """Repair a damaged repository: `repair --from REPLICA`, `repair index`,
    `repair snapshots [--forget-broken]`.

    Nothing is deleted here: damaged packs and index files are condemned for the
    next `ripcord prune`. Exits 5 if damage remains that could not be healed.
    """
    ctx = click.get_current_context()
    if ctx.invoked_subcommand is not None:
        if replica:
            raise UsageError("--from heals blobs: `ripcord repair --from REPLICA`, alone")
        return None
    if replica is None:
        raise UsageError(
            "say what to repair: `repair --from REPLICA` (heal blobs), `repair index`"
            " or `repair snapshots`"
        )
    password = OtherPassword("RIPCORD_FROM_PASSWORD", from_password_file, from_password_command)
    with env.open() as repo, open_other(replica, password, "the replica", repo) as other:
        report = repair_from(repo, other, env.say, env.progress())
    return _finish(env, report, replica)


@repair.command("index")
@json_option
@pass_env
def repair_index_cmd(env: Env) -> int:
    """Rebuild the index from the packs' own trailers.

    Index files that are damaged, or disagree with the packs, are replaced; packs
    no index file lists are indexed. Then every tree is walked to name the files
    whose data no pack holds (no data is read back: `repair --from` does that).
    """
    with env.open() as repo:
        report = repair_index(repo, env.say, env.progress())
    return _finish(env, report)


@repair.command("snapshots")
@click.option(
    "--forget-broken",
    is_flag=True,
    help="Save each broken snapshot again without its lost files (tagged `repaired`) and"
    " forget the original. Without it, only say what is lost.",
)
@json_option
@pass_env
def repair_snapshots_cmd(env: Env, forget_broken: bool) -> int:
    """Find the snapshots that cannot be restored whole, and the files they lost.

    Reads back every blob the snapshots use. Run `repair --from REPLICA` first if
    you have a replica: what it heals is not lost.
    """
    with env.open() as repo:
        report = repair_snapshots(repo, forget_broken, env.say, env.progress())
    return _finish(env, report)


def _finish(env: Env, report: RepairReport, replica: str | None = None) -> int:
    doc = report_doc(report)
    if replica is not None:
        doc["replica"] = replica
    env.emit(doc, lambda c: _human(c, report, replica))
    # on stderr with --json too: a script's log must still say what is lost
    for b in report.broken:
        if b.action in ("repaired", "forgotten"):
            continue
        for path in b.paths:
            env.err.print(f"[red]lost[/] {b.snapshot[:12]}:{escape(path)}")
    return 0 if report.whole else EXIT_DAMAGED


def report_doc(r: RepairReport) -> dict[str, object]:
    return {
        "dry_run": r.dry_run,
        "index": _index_doc(r.index),
        "snapshots": r.snapshots,
        "blobs": r.blobs,
        "blobs_read": r.blobs_read,
        "blobs_broken": r.blobs_broken,
        "blobs_healed": r.healed,
        "blobs_elsewhere": r.elsewhere,
        "blobs_copied": r.copied,
        "packs_condemned": r.condemned,
        "index_files_condemned": r.index_condemned,
        "plans": r.plans,
        "broken": [_broken_doc(b) for b in r.broken],
        "whole": r.whole,
    }


def _index_doc(r: IndexReport) -> dict[str, object]:
    return {
        "packs": r.packs,
        "index_files": r.index_files,
        "packs_indexed": r.adopted,
        "index_files_written": [n.split("/", 1)[1] for n in r.written],
        "index_files_replaced": [
            {"id": n.split("/", 1)[1], "reason": why} for n, why in r.replaced.items()
        ],
        "packs_missing": r.missing,
        "trailers_damaged": [{"pack": p, "reason": why} for p, why in r.trailers.items()],
        "packs_unindexable": r.unindexable,
    }


def _broken_doc(b: Broken) -> dict[str, object]:
    return {
        "snapshot": b.snapshot,
        "state": b.state,
        "lost": b.lost,
        "paths": b.paths,
        "action": b.action,
        "new_snapshot": b.new,
    }


def _human(c: Console, r: RepairReport, replica: str | None) -> None:
    i = r.index
    if r.dry_run:
        c.print(
            f"index: {i.packs} packs, {i.index_files} index files; {len(i.adopted)} packs to"
            f" index from their trailers, {len(i.replaced)} index files to replace"
        )
    else:
        c.print(
            f"index: {i.packs} packs, {i.index_files} index files; {len(i.adopted)} packs"
            f" indexed from their trailers, {len(i.replaced)} index files replaced"
        )
    for why in i.trailers.values():
        c.print(f"[yellow]damaged trailer[/]: {escape(why)}")
    if r.blobs_read:
        c.print(
            f"read back {r.blobs_read} blobs of {r.snapshots} snapshots:"
            f" {r.blobs_broken} missing or damaged"
        )
    else:
        c.print(f"walked {r.snapshots} snapshots: {r.blobs_broken} of {r.blobs} blobs missing")
    if replica is not None:
        c.print(f"healed {r.healed} blobs from {escape(replica)}")
    if r.elsewhere:
        c.print(f"found {r.elsewhere} blobs intact in another pack")
    if r.copied:
        c.print(f"moved {r.copied} intact blobs out of damaged packs")
    if r.plans:
        files = len(i.replaced) + len(r.index_condemned)
        c.print(
            f"condemned {len(r.condemned)} damaged packs and {files} index files:"
            " the next `ripcord prune` deletes them"
        )
    for b in r.broken:
        _human_broken(c, b)
    if r.whole:
        c.print("[green]the repository is whole[/]")
    elif r.dry_run:
        c.print(
            f"{r.lost} entries are lost (listed on stderr); nothing was changed:"
            " `ripcord repair snapshots --forget-broken` repairs the index and drops them"
        )
    elif r.lost:
        hint = "" if replica else "heal it with `repair --from REPLICA`, or "
        c.print(
            f"[red]damage remains[/]: {r.lost} entries are lost (listed on stderr); {hint}drop"
            " them with `ripcord repair snapshots --forget-broken`"
        )
    else:
        c.print("[red]damage remains[/]: packs with a damaged trailer; heal with `repair --from`")


def _human_broken(c: Console, b: Broken) -> None:
    what = {
        "damaged": "the snapshot itself is damaged",
        "gone": "the snapshot was deleted outside ripcord",
        "files-lost": f"{b.lost} entries lost" if b.paths != ["/"] else "its root folder is lost",
    }[b.state]
    done = {
        None: "",
        "repaired": f": saved again without them as {b.new[:12] if b.new else ''}, original"
        " forgotten",
        "forgotten": ": forgotten",
        "protected": ": protected, left as it is (unprotect it to drop it)",
    }[b.action]
    c.print(f"[red]broken[/] snapshot {b.snapshot[:12]}: {what}{done}")
