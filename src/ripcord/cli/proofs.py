"""The listing `checks` and `drills` share: one row per record, the same first columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ripcord.cli.env import rows

NO_WRAP = ("time", "result", "size")


class Record(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def time(self) -> datetime: ...
    @property
    def host(self) -> str: ...
    @property
    def result(self) -> str: ...


R = TypeVar("R", bound=Record)


def print_records(
    out: Console,
    what: str,
    records: Sequence[R],
    failures: Callable[[R], int],
    columns: Sequence[tuple[str, Callable[[R], str]]],
) -> None:
    """A table of `records` (id, time, host, result, then `columns`) and a count line,
    e.g. "3 checks, 1 failed" (`what` is the plural)."""
    c = rows(out)
    t = Table(box=None)
    for name in ("id", "time", "host", "result", *(n for n, _ in columns)):
        t.add_column(name, no_wrap=name in NO_WRAP)
    for r in records:
        result = "[green]pass[/]" if r.result == "pass" else f"[red]fail ({failures(r)})[/]"
        when = r.time.astimezone().strftime("%Y-%m-%d %H:%M")
        t.add_row(r.id[:12], when, escape(r.host), result, *(show(r) for _, show in columns))
    c.print(t)
    failed = sum(r.result == "fail" for r in records)
    noun = what if len(records) != 1 else what.removesuffix("s")
    c.print(f"{len(records)} {noun}" + (f", {failed} failed" if failed else ""))
