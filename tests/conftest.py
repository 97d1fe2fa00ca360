"""Shared fixtures: cheap repositories, and a CLI runner.

`cli` runs ripcord in-process by default; with RIPCORD_TEST_BINARY=1 it runs
the installed `ripcord` executable instead, so the same tests cover both.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ripcord.cli.main import run
from ripcord.repository import KdfParams, Repository
from ripcord.storage import MemoryStore

PASSWORD = "correct horse battery staple"
FAST_KDF = KdfParams(iterations=1, memory_kib=8, lanes=1)


@pytest.fixture
def mem_repo() -> Iterator[Repository]:
    repo = Repository.init(MemoryStore(), PASSWORD.encode(), FAST_KDF)
    yield repo
    repo.close()


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs `ripcord` against one repository with a fixed password."""

    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.repo = repo
        self.env = env
        self.binary = os.environ.get("RIPCORD_TEST_BINARY") == "1"

    def __call__(self, *args: str, repo: bool = True, env: dict[str, str] | None = None) -> Result:
        argv = (["-r", str(self.repo)] if repo else []) + list(args)
        full_env = {**self.env, **(env or {})}
        if self.binary:
            exe = shutil.which("ripcord")
            assert exe, "ripcord is not installed"
            done = subprocess.run(
                [exe, *argv], env={**os.environ, **full_env}, capture_output=True, text=True
            )
            return Result(done.returncode, done.stdout, done.stderr)
        out, err = io.StringIO(), io.StringIO()
        saved = {k: os.environ.get(k) for k in full_env}
        os.environ.update(full_env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = run(argv)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *args: str, **kw: Any) -> Result:
        r = self(*args, **kw)
        assert r.code == 0, f"ripcord {' '.join(args)} exited {r.code}: {r.err}{r.out}"
        return r


class UrlCli(Cli):
    """The CLI runner, with the repository given as a URL (s3://, sftp://) not a path."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        super().__init__(Path("unused"), env)
        self.url = url

    def __call__(self, *args: str, repo: bool = True, env: dict[str, str] | None = None) -> Result:
        return super().__call__(*(["-r", self.url] if repo else []), *args, repo=False, env=env)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "RIPCORD_PASSWORD": PASSWORD,
        "RIPCORD_CACHE_DIR": str(tmp_path / "cache"),
        "RIPCORD_DATA_DIR": str(tmp_path / "data"),
        "RIPCORD_CONFIG_DIR": str(tmp_path / "config"),
        "RIPCORD_STATE_DIR": str(tmp_path / "state"),
        "RIPCORD_NO_PROGRESS": "1",
    }
    monkeypatch.delenv("RIPCORD_REPO", raising=False)
    monkeypatch.delenv("RIPCORD_PASSWORD_FILE", raising=False)
    monkeypatch.delenv("RIPCORD_PLAN", raising=False)
    return env


@pytest.fixture
def cli(tmp_path: Path, cli_env: dict[str, str]) -> Cli:
    """A CLI runner with an initialised repository at tmp_path/repo."""
    c = Cli(tmp_path / "repo", cli_env)
    c.ok("init", "--kdf-iterations", "1", "--kdf-memory-mib", "1")
    return c


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A small source tree with text, binary, nested and empty entries."""
    root = tmp_path / "src"
    (root / "docs" / "deep" / "er").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_text("hello world\n")
    (root / "docs" / "report.txt").write_text("quarterly numbers\n" * 1000)
    (root / "docs" / "deep" / "er" / "bin.dat").write_bytes(os.urandom(600_000))
    (root / "zero").write_bytes(b"")
    return root
