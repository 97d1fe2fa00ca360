"""A real `ripcord ui` in a subprocess, and Debian's Chromium driven by Playwright.

`Dashboard.start(args, env)` runs the installed CLI on a free loopback port and
reads the login link it prints; `browser` gives a Chromium page (never
`playwright install`: /usr/bin/chromium from apt, as TEST-SERVERS.md says).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RIPCORD = str(Path(sys.executable).parent / "ripcord")  # the installed entry point
PHONE = ViewportSize(width=390, height=844)  # a phone: every page must fit its width
LINK = re.compile(r"open (http://\S+/login\?token=\S+)")


@dataclass
class Dashboard:
    proc: subprocess.Popen[str]
    login_url: str
    stderr: Path

    @property
    def base(self) -> str:
        return self.login_url.split("/login", 1)[0]

    @property
    def token(self) -> str:
        return self.login_url.rsplit("token=", 1)[1]

    @classmethod
    def start(
        cls, args: list[str], env: dict[str, str], log: Path, extra: list[str] | None = None
    ) -> Dashboard:
        """`ripcord ARGS ui --listen 127.0.0.1:0 EXTRA`, once its login link is printed."""
        err = log.open("w")
        proc = subprocess.Popen(
            [RIPCORD, *args, "ui", "--listen", "127.0.0.1:0", *(extra or [])],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        assert proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()

        def pump(out: IO[str]) -> None:  # a thread: select() can't see text already buffered
            for line in out:
                lines.put(line)
            lines.put("")

        threading.Thread(target=pump, args=(proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + 60
        seen = ""
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            seen += line
            m = LINK.search(line)
            if m:
                return cls(proc, m.group(1), log)
            if not line:
                break
        proc.kill()
        raise AssertionError(f"ripcord ui printed no login link: {seen!r} {log.read_text()!r}")

    def client(self) -> httpx.Client:
        """An HTTP client logged in through the printed link."""
        c = httpx.Client(base_url=self.base, follow_redirects=False, timeout=60)
        r = c.get(self.login_url)
        assert r.status_code == 303, r.text
        return c

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[list[Dashboard]]:
    """Dashboards a test starts (append to the list); each stopped at the end."""
    started: list[Dashboard] = []
    yield started
    for d in started:
        d.stop()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the session (Playwright's sync API)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    home = tmp_path_factory.mktemp("chromium-home")
    os.environ.setdefault("XDG_CACHE_HOME", str(home / "cache"))
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
        )
        yield browser
        browser.close()


def phone_fits(page: Page) -> None:
    """The page needs no sideways scrolling on a phone (390 px)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a 390px phone"
