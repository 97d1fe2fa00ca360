"""What the dashboard sees of the world: the plan (or one repository) and a way in.

The CLI builds a Site (it knows passwords, plan files and locations); every page
reads only through it, so the dashboard works the same with a plan of five
repositories or with the one `-r` names.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from starlette.exceptions import HTTPException

from ripcord.errors import StoreError
from ripcord.plan.model import Plan, RepositorySpec
from ripcord.plan.status import Connect
from ripcord.repository import Repository


@dataclass
class _Open:
    lock: threading.Lock = field(default_factory=threading.Lock)
    stack: ExitStack | None = None
    repo: Repository | None = None


@dataclass
class Site:
    """The repositories the dashboard shows and how to open them.

    `plan` is None when the dashboard shows one repository without a plan; `specs`
    then holds one synthetic entry for it. Opening costs a password derivation
    (Argon2, up to a second), so each repository is opened once and kept open;
    requests take turns on it, since a Repository is not safe across threads.
    """

    plan: Plan | None
    specs: tuple[RepositorySpec, ...]
    connect: Connect
    title: str = "ripcord"
    timeout: float = 10.0  # seconds a repository may take before a page says it is unreachable
    _open: dict[str, _Open] = field(default_factory=dict, init=False, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def of_plan(cls, plan: Plan, connect: Connect) -> Site:
        return cls(plan, plan.repositories, connect, title=plan.name)

    @classmethod
    def of_repository(cls, location: str, name: str, connect: Connect) -> Site:
        """One repository without a plan (`ripcord -r LOCATION ui`)."""
        spec = RepositorySpec(name=name, url=location, media="disk")
        return cls(None, (spec,), connect, title=name)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def spec(self, name: str) -> RepositorySpec:
        """The repository called `name`, or a 404 for the page that asked."""
        for s in self.specs:
            if s.name == name:
                return s
        raise HTTPException(404, f"no repository called {name!r}")

    def plan_or_one(self) -> Plan:
        """The plan, or a plan of the one repository (no sources): what status reads."""
        return self.plan or Plan(Path("-"), (), self.specs)

    @contextmanager
    def using(self, name: str) -> Iterator[Repository]:
        """The repository called `name`, opened once and kept; one request at a time.

        A store failure while it is in use closes it, so the next request opens it afresh
        (a server that came back, a repository repaired meanwhile).
        """
        spec = self.spec(name)
        with self._guard:
            slot = self._open.setdefault(name, _Open())
        with slot.lock:
            if slot.repo is None:
                stack = ExitStack()
                slot.repo = stack.enter_context(self.connect(spec))
                slot.stack = stack
            try:
                yield slot.repo
            except (StoreError, OSError):
                self._drop(slot)
                raise

    def close(self) -> None:
        for slot in list(self._open.values()):
            with slot.lock:
                self._drop(slot)

    @staticmethod
    def _drop(slot: _Open) -> None:
        stack, slot.stack, slot.repo = slot.stack, None, None
        if stack is not None:
            stack.close()

    def connect_fresh(self, spec: RepositorySpec) -> AbstractContextManager[Repository]:
        """A connection of its own (a job that runs beside the pages)."""
        return self.connect(spec)

    @staticmethod
    def now() -> datetime:
        return datetime.now().astimezone()
