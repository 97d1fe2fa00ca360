"""A workspace for plan tests: a source folder, repositories with passwords of their
own, a plan file written from parts, and the CLI run with `--plan`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import Cli, Result, UrlCli

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
DAY1 = datetime(2026, 11, 2, 2, 30, tzinfo=UTC)  # a Monday, 02:30


def day(n: int) -> datetime:
    """The time of the run on day `n` (day 1 is DAY1)."""
    return DAY1 + timedelta(days=n - 1)


@dataclass
class Repo:
    name: str
    url: str
    media: str
    extra: dict[str, object] = field(default_factory=dict)


class Workspace:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.src = root / "office"
        self.src.mkdir(parents=True, exist_ok=True)
        self.plan = root / "office.toml"
        self.repos: list[Repo] = []
        self.tables = ""  # extra TOML after the repositories

    def password_file(self, name: str) -> Path:
        f = self.root / f"{name}.pass"
        if not f.exists():
            f.write_text(f"password of {name}\n")
            f.chmod(0o600)
        return f

    def add(
        self,
        name: str,
        url: str,
        media: str,
        init: bool = True,
        init_args: tuple[str, ...] = (),
        **extra: object,
    ) -> Repo:
        """A repository in the plan, created (sharing the first one's chunking, as
        copies must) unless `init` is false."""
        repo = Repo(name, url, media, extra)
        if init:
            args = ["init", *FAST]
            if self.repos:
                first = self.repos[0]
                args += ["--copy-params-from", first.url]
                args += ["--from-password-file", str(self.password_file(first.name))]
            args += init_args
            UrlCli(url, {**self.env, **self._password_env(name)}).ok(*args)
        self.repos.append(repo)
        return repo

    def _password_env(self, name: str) -> dict[str, str]:
        return {"RIPCORD_PASSWORD": self.password_file(name).read_text().strip()}

    def write(self, **top: object) -> Path:
        lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
        lines += ["", "[[source]]", f"paths = [{_toml(str(self.src))}]", ""]
        for r in self.repos:
            lines.append(f"[repository.{r.name}]")
            lines.append(f"url = {_toml(r.url)}")
            lines.append(f"media = {_toml(r.media)}")
            lines.append(f"password_file = {_toml(str(self.password_file(r.name)))}")
            lines += [f"{k} = {_toml(v)}" for k, v in r.extra.items()]
            lines.append("")
        self.plan.write_text("\n".join(lines) + "\n" + self.tables)
        return self.plan

    def ripcord(self, *args: str) -> Result:
        """`ripcord --plan PLAN ARGS`, with no RIPCORD_PASSWORD: the plan says where each
        password is."""
        env = {k: v for k, v in self.env.items() if k != "RIPCORD_PASSWORD"}
        return Cli(self.plan, env)("--plan", str(self.plan), *args, repo=False)

    def run(self, n: int, *args: str) -> Result:
        """`run` on day `n`, as JSON."""
        return self.ripcord("run", "--time", day(n).isoformat(), "--json", *args)

    def on(self, name: str, *args: str) -> Result:
        """A command against the plan's repository `name` (-r NAME under --plan)."""
        return self.ripcord("-r", name, *args)


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    text = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def steps(result: Result, action: str) -> list[dict[str, object]]:
    """The steps of one action in a run's JSON."""
    return [s for s in result.json["steps"] if s["action"] == action]
