"""ripcord guard: answer the change guard's alarms, list them, judge a snapshot again."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ripcord.cli.env import Env, json_option, pass_env
from ripcord.cli.plan_env import open_spec
from ripcord.errors import EXIT_GUARD_ALARM
from ripcord.guard.changes import ChangeStats
from ripcord.guard.guard import Guard, answer, recheck
from ripcord.guard.verdict import ALARM, WARN, Verdict
from ripcord.plan.alarms import answer_everywhere
from ripcord.repository import resolve
from ripcord.repository.marks import Mark


def stats_doc(s: ChangeStats) -> dict[str, Any]:
    return {
        "files_before": s.files_before,
        "files_after": s.files_after,
        "added": s.added,
        "deleted": s.deleted,
        "modified": s.modified,
        "moved": s.moved,
        "bytes_added": s.bytes_added,
        "bytes_deleted": s.bytes_deleted,
        "bytes_modified": s.bytes_modified,
        "turned_random": s.turned_random,
        "head_scrambled": s.head_scrambled,
        "renamed_random": s.renamed_random,
        "random_files": s.random_files,
        "notes": s.notes[:100],
        "canaries": s.canaries,
        "new_suffixes": dict(s.new_suffixes.most_common(10)),
        "deleted_dirs": [{"path": d, "files": n} for d, n in s.deleted_dirs[:10]],
    }


def _verdict(v: Verdict | None) -> dict[str, Any]:
    if v is None:
        return {"verdict": None, "score": None, "reasons": []}
    return {"verdict": v.level, "score": round(v.score, 3), "reasons": v.reasons}


def verdict_doc(g: Guard) -> dict[str, Any]:
    return {
        **_verdict(g.verdict),
        "parent": g.parent,
        "last_good": g.last_good,
        "alarm_mark": g.alarm.id if g.alarm else None,
        "changes": stats_doc(g.stats) if g.stats else None,
    }


def show_verdict(c: Console, g: Guard) -> None:
    v = g.verdict
    if v is None or v.level not in (WARN, ALARM):
        return
    reasons = escape("; ".join(v.reasons))
    if v.level == WARN:
        c.print(f"[yellow]guard warning[/]: {reasons}")
        return
    c.print(f"[bold red]GUARD ALARM[/]: {reasons}.")
    snap = g.alarm.snapshots[0][:12] if g.alarm else "?"
    pinned = f"; {g.last_good[:12]} is pinned as the last good snapshot" if g.last_good else ""
    c.print(f"Snapshot {snap} is marked suspicious{pinned}.")
    c.print(f"Run 'ripcord guard ack {snap}' if this was intentional.")


@click.group("guard")
def guard() -> None:
    """The change guard: was this intentional?

    Every backup is compared with the one before. Mass deletion, mass
    rewriting, encryption-like change, ransom notes or a changed canary raise
    an alarm: the snapshot is tagged 'suspicious', the last good snapshot is
    pinned (no forget or prune removes it, nor anything of that source from
    the alarm onward), and backup exits 4.
    """


@guard.command("ack")
@click.argument("snapshot")
@click.option(
    "--not-intentional",
    is_flag=True,
    help="The change was not intended (an attack, a mistake): keep the pin and record the"
    " incident.",
)
@click.option("--reason", default="", help="Why, in words, kept with the answer.")
@json_option
@pass_env
def guard_ack(env: Env, snapshot: str, not_intentional: bool, reason: str) -> int:
    """Answer the alarm raised on SNAPSHOT.

    Without --not-intentional: the change was intended; the pin is lifted and
    retention treats the snapshots as usual again. With --plan (and no -r), the
    answer is written in every repository of the plan that holds the alarm (a
    copy carries it), so no copy stays pinned.
    """
    with env.open() as repo, repo.lock():
        snap = resolve(repo.snapshots(), snapshot)
        mark = answer(repo, snap, not not_intentional, reason)
    doc: dict[str, Any] = {
        "snapshot": snap.id,
        "answer": mark.kind,
        "mark": mark.id,
        "reason": mark.reason,
    }
    plan = env.plan()
    others = plan.repositories[1:] if plan is not None and env.repo is None else ()
    copies = answer_everywhere(
        others,
        lambda spec: open_spec(env, spec),
        snap.origin or snap.id,
        not not_intentional,
        reason,
    )
    doc["copies"] = [
        {"repository": a.repository, "snapshot": a.snapshot, "error": a.error} for a in copies
    ]
    what = "intentional: the pin is lifted" if mark.kind == "ack" else "an incident: pin kept"

    def human(c: Console) -> None:
        c.print(f"alarm on {snap.id[:12]} answered as {what}")
        for a in copies:
            if a.error:
                c.print(f"[red]not answered[/] in {escape(a.repository)}: {escape(a.error)}")
            elif a.snapshot:
                c.print(f"answered in {escape(a.repository)} too (its copy {a.snapshot[:12]})")

    env.emit(doc, human)
    return 1 if any(a.error for a in copies) else 0


def _alarm_doc(m: Mark, answer_mark: Mark | None) -> dict[str, Any]:
    return {
        "snapshot": m.snapshots[0],
        "pinned": list(m.snapshots),
        "time": m.time.isoformat(),
        "host": m.host,
        "reasons": m.reason,
        "answer": answer_mark.kind if answer_mark else None,
        "answered": answer_mark.time.isoformat() if answer_mark else None,
    }


@guard.command("list")
@json_option
@pass_env
def guard_list(env: Env) -> int:
    """List the guard's alarms, unanswered first. Exits 4 while one is unanswered."""
    with env.open() as repo:
        standing = repo.standing()
    alarms = sorted(
        standing.alarms.values(),
        key=lambda m: (m.snapshots[0] in standing.answers, -m.time.timestamp()),
    )
    docs = [_alarm_doc(m, standing.answers.get(m.snapshots[0])) for m in alarms]

    def human(c: Console) -> None:
        if not docs:
            c.print("no guard alarms")
            return
        t = Table("snapshot", "raised", "answer", "pinned", "reasons")
        for d in docs:
            t.add_row(
                d["snapshot"][:12],
                d["time"][:16],
                d["answer"] or "[red]unanswered[/]",
                " ".join(p[:12] for p in d["pinned"]),
                escape(d["reasons"]),
            )
        c.print(t)

    env.emit({"alarms": docs}, human)
    return EXIT_GUARD_ALARM if standing.open_alarms() else 0


@guard.command("check")
@click.argument("snapshot", default="latest")
@json_option
@pass_env
def guard_check(env: Env, snapshot: str) -> None:
    """Judge SNAPSHOT against the snapshot before it, as a backup would (writes nothing)."""
    with env.open() as repo, repo.reading():
        snap = resolve(repo.snapshots(), snapshot)
        stats, verdict = recheck(repo, snap)
    doc = {"snapshot": snap.id, **_verdict(verdict), "changes": stats_doc(stats)}

    def human(c: Console) -> None:
        c.print(f"{snap.id[:12]}: [bold]{verdict.level}[/] (score {verdict.score:.2f})")
        for r in verdict.reasons:
            c.print(f"  {escape(r)}")

    env.emit(doc, human)
