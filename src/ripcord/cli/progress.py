"""Progress bars on a terminal, with rich."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)


class RichProgress:
    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            SpinnerColumn(),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[item]}", justify="left"),
            console=console,
            transient=True,
        )
        self.task: TaskID | None = None

    def start(self, total_bytes: int | None) -> None:
        self.bar.start()
        self.task = self.bar.add_task("", total=total_bytes, item="")

    def item(self, path: str) -> None:
        if self.task is not None:
            self.bar.update(self.task, item=path[-60:])

    def advance(self, nbytes: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, nbytes)

    def finish(self) -> None:
        self.bar.stop()
