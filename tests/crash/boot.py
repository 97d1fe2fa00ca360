"""Run ripcord's CLI with every store call counted, and SIGKILL it at a chosen one.

`python -m tests.crash.boot ARGS...` is `ripcord ARGS...` with two test-only switches
read from the environment, so nothing of this ships in src:

- RIPCORD_TEST_KILL_AT="K" (any call) or "OP:K" (put, get, stat, list, delete): the
  process SIGKILLs itself just before its K-th such call starts; with a trailing "+"
  ("put:7+") just after that call returns instead.
- RIPCORD_TEST_TRACE=FILE: one line "OP NAME" per call, appended as it starts (the
  counting run that enumerates the kill points).
- RIPCORD_TEST_SIGNAL=STOP: SIGSTOP instead of SIGKILL at that point, freezing the
  command exactly there until the test sends SIGCONT (a reader caught mid-way).

Stores are wrapped where the CLI opens them (every module's `open_store`), by
replacing the five operations on the store instance: its type, capabilities and
protocols (Retaining, Versioned) stay exactly as the command would see them.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

OPS = ("put", "get", "stat", "list", "delete")
KILL_AT = "RIPCORD_TEST_KILL_AT"
TRACE = "RIPCORD_TEST_TRACE"
SIGNAL = "RIPCORD_TEST_SIGNAL"


class KillPoint:
    """Which call to die at: the `at`-th call of `op` (any op when None), before or after."""

    def __init__(self, spec: str) -> None:
        self.after = spec.endswith("+")
        spec = spec.rstrip("+")
        op, _, count = spec.rpartition(":")
        if op and op not in OPS:
            raise SystemExit(f"{KILL_AT}: unknown store operation {op!r}")
        self.op: str | None = op or None
        self.at = int(count)

    def matches(self, op: str) -> bool:
        return self.op is None or self.op == op


class Counter:
    """Counts calls across every store of the process (copy opens two), thread-safe."""

    def __init__(self, kill: KillPoint | None, trace: str | None) -> None:
        self.kill, self.seen, self.lock = kill, 0, threading.Lock()
        self.trace = open(trace, "a", buffering=1) if trace else None  # noqa: SIM115 (lives as long as the process)

    def wrap(self, op: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def counted(name: str, *args: Any, **kw: Any) -> Any:
            fatal = self._start(op, name)
            if fatal and not self.kill_after:
                die()
            try:
                return call(name, *args, **kw)
            finally:
                if fatal:
                    die()

        return counted

    @property
    def kill_after(self) -> bool:
        return self.kill is not None and self.kill.after

    def _start(self, op: str, name: str) -> bool:
        with self.lock:
            if self.trace is not None:
                self.trace.write(f"{op} {name}\n")
            if self.kill is None or not self.kill.matches(op):
                return False
            self.seen += 1
            return self.seen == self.kill.at


def die() -> None:
    """SIGKILL this process: no finally, no atexit, no lock released, as a power cut
    (or, with RIPCORD_TEST_SIGNAL=STOP, freeze it there)."""
    stop = os.environ.get(SIGNAL) == "STOP"
    os.kill(os.getpid(), signal.SIGSTOP if stop else signal.SIGKILL)


def install(counter: Counter) -> None:
    """Make every `open_store` the CLI imported return stores whose calls `counter` sees."""
    import ripcord.cli.location as location
    import ripcord.cli.main  # noqa: F401 (imports every command, and so every open_store)

    original = location.open_store

    def open_counted(location_: str, create: bool = False) -> Any:
        store = original(location_, create)
        for op in OPS:
            setattr(store, op, counter.wrap(op, getattr(store, op)))
        return store

    for module in list(sys.modules.values()):
        if getattr(module, "open_store", None) is original:
            module.open_store = open_counted  # type: ignore[attr-defined]


def main() -> None:
    spec = os.environ.get(KILL_AT)
    install(Counter(KillPoint(spec) if spec else None, os.environ.get(TRACE)))
    from ripcord.cli.main import main as ripcord_main

    sys.argv[0] = "ripcord"
    ripcord_main()


if __name__ == "__main__":
    main()
