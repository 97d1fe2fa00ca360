"""The Markdown report of bench/guard.py: confusion matrix, attacks, scores, per-day table.

Verdicts are counted in classes of days: the ordinary scenario's days, the same
ordinary days replayed before each attack, each attack's first backup, all
attack days, and the ordinary days after an attack. The goals (issue 6): no
alarm on any ordinary day; every attack alarmed on its first backup, slow
encryption within 3 days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from guard_harness import CAUGHT, FAILED, NO_VERDICT, Day, ScenarioResult

VERDICTS = ("ok", "warn", "alarm", NO_VERDICT, FAILED)
HIT_KEYS = ("encrypted", "deleted by attack")
ENCRYPTION_LIKE = ("turned_random", "head_scrambled", "renamed_random")
SLOW_GRACE = 3  # backups within which slow encryption must alarm


def row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(head: Sequence[str], rows: Iterable[Sequence[object]], right: int = 0) -> list[str]:
    """A Markdown table; the last ``right`` columns right-aligned."""
    align = ["---"] * (len(head) - right) + ["---:"] * right
    return [row(head), row(align), *(row(r) for r in rows)]


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def ordinary_days(results: Sequence[ScenarioResult]) -> list[Day]:
    return [d for r in results if r.name == "ordinary" for d in r.days[1:]]


def replayed_days(results: Sequence[ScenarioResult]) -> list[Day]:
    return [d for r in results if r.name != "ordinary" for d in r.days[1:] if d.day < r.attack_day]


def after_days(results: Sequence[ScenarioResult]) -> list[Day]:
    """Ordinary days after an attack's last day."""
    return [d for r in results for d in r.days if d.day > last_strike(r)]


def last_strike(r: ScenarioResult) -> int:
    return max((d.day for d in r.days if d.attack), default=r.days[-1].day)


def attack_days(results: Sequence[ScenarioResult]) -> list[Day]:
    return [d for r in results for d in r.days if d.attack]


def first_attack(r: ScenarioResult) -> Day | None:
    return next((d for d in r.days if d.attack), None)


def matrix(results: Sequence[ScenarioResult]) -> list[str]:
    classes = (
        ("ordinary days (the ordinary scenario)", ordinary_days(results)),
        ("ordinary days replayed before an attack", replayed_days(results)),
        ("first backup of an attack", [d for r in results if (d := first_attack(r))]),
        ("every attack day (slow encryption: all its days)", attack_days(results)),
        ("ordinary days after an attack", after_days(results)),
        ("first backup of a scenario (no parent)", [r.days[0] for r in results]),
    )
    rows = []
    for label, days in classes:
        counts = Counter(d.verdict for d in days)
        rows.append([label, len(days), *(counts[v] for v in VERDICTS)])
    return table(["backups", "n", *VERDICTS], rows, right=len(VERDICTS) + 1)


def hit(day: Day) -> int:
    return sum(day.counts.get(k, 0) for k in HIT_KEYS)


def backup_number(r: ScenarioResult, verdicts: Sequence[str]) -> int | None:
    """1 for the attack's first backup, 2 for the next, ...; None if never."""
    struck = [d for d in r.days if r.attack_day <= d.day <= last_strike(r)]
    return next((i + 1 for i, d in enumerate(struck) if d.verdict in verdicts), None)


def attack_rows(results: Sequence[ScenarioResult]) -> list[str]:
    rows = []
    for r in results:
        first = first_attack(r)
        if first is None:
            continue
        before = r.days[first.day - 1].total_files if first.day else None
        share = f"{hit(first) / before:.1%}" if before else "—"
        caught, alarmed = backup_number(r, CAUGHT), backup_number(r, ("alarm",))
        limit = SLOW_GRACE if len([d for d in r.days if d.attack]) > 1 else 1
        goal = "yes" if alarmed is not None and alarmed <= limit else "no"
        rows.append([
            r.name, r.what, f"{hit(first)} ({share})", first.verdict, score(first.score),
            caught or "never", alarmed or "never", goal,
        ])  # fmt: skip
    head = ["attack", "what", "files hit on day 1", "verdict", "score", "warn+ on backup",
            "alarm on backup", f"goal: alarm by backup 1 ({SLOW_GRACE} if slow)"]  # fmt: skip
    return table(head, rows)


def separation(results: Sequence[ScenarioResult]) -> list[str]:
    """The highest ordinary score against the lowest score of an attack's first backup."""
    ordinary = [d for d in ordinary_days(results) + replayed_days(results) if d.score is not None]
    firsts = [(r.name, d) for r in results if (d := first_attack(r)) and d.score is not None]
    if not ordinary or not firsts:
        return ["No scores to compare (no verdicts)."]
    top = max(ordinary, key=lambda d: d.score or 0.0)
    name, low = min(firsts, key=lambda x: x[1].score or 0.0)
    return [
        f"Highest score on an ordinary day: {score(top.score)} (day {top.day}: {top.activity}).",
        f"Lowest score on an attack's first backup: {score(low.score)} ({name}).",
        "Thresholds between these two separate every ordinary day from every attack."
        if (low.score or 0.0) > (top.score or 0.0)
        else "The two overlap: no threshold on the score alone separates them.",
    ]


def replay_check(results: Sequence[ScenarioResult]) -> str:
    """Did the replayed ordinary days get the verdicts the ordinary run gave them?"""
    base = {d.day: (d.verdict, d.score) for d in ordinary_days(results)}
    if not base:
        return "(no ordinary scenario in this run to compare the replayed days with)"
    differ = [
        f"{r.name} day {d.day}"
        for r in results
        for d in replayed_days([r])
        if d.day in base and base[d.day] != (d.verdict, d.score)
    ]
    if not differ:
        return "Replayed ordinary days got the same verdicts and scores as in the ordinary run."
    return "Replayed days judged differently from the ordinary run: " + ", ".join(differ)


def acks(results: Sequence[ScenarioResult]) -> str:
    """How alarms were answered, and how many backups were judged with one unanswered."""
    alarms = [d for r in results for d in r.days if d.verdict == "alarm"]
    taken = sum(d.ack == "ok" for d in alarms)
    pending = sum(d.unacked_alarm for r in results for d in r.days)
    return (
        f"{len(alarms)} alarms, {taken} acknowledged with `guard ack` before the next day;"
        f" {pending} backups were judged while an alarm was unacknowledged."
    )


def measures(d: Day) -> list[object]:
    """The guard's own counts: deleted, modified, encryption-like (turned random / head
    scrambled / renamed random), unexplained random files."""
    c = d.changes
    if not c:
        return ["—"] * 4
    enc = "/".join(str(c.get(k, "?")) for k in ENCRYPTION_LIKE)
    return [c.get("deleted", "?"), c.get("modified", "?"), enc, c.get("random_files", "?")]


def day_rows(r: ScenarioResult, days: Iterable[Day]) -> list[list[object]]:
    return [
        [
            r.name, d.day, d.date, d.activity or "—", d.files_new, d.files_changed,
            d.total_files, *measures(d), d.verdict, score(d.score), d.exit_code,
            "yes" if d.unacked_alarm else "", "; ".join(d.reasons) or "—",
        ]
        for d in days
    ]  # fmt: skip


def per_day(results: Sequence[ScenarioResult]) -> list[str]:
    rows: list[list[object]] = []
    for r in results:
        shown = r.days if r.name == "ordinary" else [d for d in r.days if d.day >= r.attack_day]
        rows += day_rows(r, shown)
    head = ["scenario", "day", "date", "what happened", "new", "changed", "files",
            "guard: deleted", "modified", "turned random/head/renamed", "random files",
            "verdict", "score", "exit", "unacked alarm before", "reasons"]  # fmt: skip
    return table(head, rows)


def problems(results: Sequence[ScenarioResult]) -> list[str]:
    out = []
    for r in results:
        for d in r.days:
            if d.error:
                out.append(f"- {r.name} day {d.day}: {d.error}")
            if d.ack and d.ack != "ok":
                out.append(f"- {r.name} day {d.day}: `guard ack` failed: {d.ack}")
    return out


def report(results: Sequence[ScenarioResult], header: Sequence[str]) -> str:
    judged = [d for r in results for d in r.days if d.verdict not in (NO_VERDICT, FAILED)]
    lines = [*header, ""]
    if not judged:
        lines += ["**No verdict on any backup**: `backup --json` has no `guard` key yet.", ""]
    lines += ["### Confusion matrix", "", *matrix(results), ""]
    lines += ["Goal: no alarm on any ordinary day; every attack alarmed on its first backup",
              f"(slow encryption within {SLOW_GRACE}). {replay_check(results)}", ""]  # fmt: skip
    lines += [acks(results), ""]
    lines += ["### Attacks", "", *attack_rows(results), ""]
    lines += ["### Scores", "", *separation(results), ""]
    lines += ["### Per day (the ordinary scenario; each attack from its first day)", ""]
    lines += [
        "new, changed: as `backup` counts files (by metadata); guard: the guard's own counts",
        "from its diff with the parent. Raw measures in the JSON (`changes`).",
        "",
    ]
    lines += [*per_day(results), ""]
    runtime = [[r.name, len(r.days), r.files, f"{r.seconds:.0f}"] for r in results]
    lines += ["### Runtime", "", *table(["scenario", "backups", "files", "s"], runtime, 3), ""]
    issues = problems(results)
    if issues:
        lines += ["### Problems", "", *issues, ""]
    return "\n".join(lines)
