"""What the engine tells a UI while it works; the UI decides how to show it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total_bytes: int | None) -> None: ...

    def item(self, path: str) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    def start(self, total_bytes: int | None) -> None:
        pass

    def item(self, path: str) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def finish(self) -> None:
        pass
