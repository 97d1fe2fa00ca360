"""Reading a plan file: TOML in, a checked Plan out, or every problem at once.

A plan is edited by hand and read by a timer at 02:30, so a mistake must be
found by `ripcord plan check` and named precisely: the line, the key as a
dotted path (`repository.cloud.media`, `source[0].paths`), and what is wrong.
Validation goes on after the first problem so that one run lists them all.
The schema and its defaults are documented in docs/PLAN.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ripcord.errors import UsageError
from ripcord.guard.verdict import GuardSettings
from ripcord.plan.locate import KeyPath, Locator
from ripcord.plan.locations import check_location
from ripcord.plan.model import (
    MEDIA,
    MODES,
    CheckPlan,
    Credentials,
    DrillPlan,
    Hooks,
    Plan,
    RepositorySpec,
    Source,
)
from ripcord.retention.duration import parse_duration
from ripcord.retention.policy import GROUP_FIELDS, Policy
from ripcord.sizes import parse_size
from ripcord.verify.subset import VerifiedLog, parse_subset

T = TypeVar("T")

REPOSITORY_NAME = re.compile(r"[A-Za-z0-9_-]+")  # a bare TOML key, and never a path or URL
# keep_last, keep_daily, ...: the retention policy's counts, as forget's --keep-* options
_KEEP_COUNTS = tuple(f.name for f in dataclasses.fields(Policy) if isinstance(f.default, int))
_HOOK_COMMANDS = ("on_start", "on_success", "on_failure", "on_alarm")
_HOOK_URLS = ("ping_url", "start_url", "success_url", "failure_url")


@dataclass(frozen=True)
class Problem:
    line: int | None  # 1-based; None when the key is not written anywhere (a missing table)
    key: str  # dotted path: repository.cloud.media, source[0].paths; "" for the whole file
    message: str

    def render(self, path: Path | str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else str(path)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class PlanError(UsageError):
    """the plan file is not valid"""

    def __init__(self, path: Path, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(p.render(self.path) for p in self.problems)


def load_plan(path: str | Path) -> Plan:
    """Read and check the plan at `path`; PlanError lists every problem found."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise PlanError(path, [Problem(None, "", f"cannot read the plan: {e.strerror}")]) from None
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1
        raise PlanError(path, [Problem(line, "", "not UTF-8 text")]) from None
    return parse_plan(text, path)


def parse_plan(text: str, path: Path) -> Plan:
    """The Plan that `text` (read from `path`) describes; PlanError lists every problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlanError(path, [_syntax_problem(str(e))]) from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise PlanError(path, [Problem(None, "", "nested too deeply to be a plan")]) from None
    reader = _Reader(Locator(text), path)
    plan = reader.plan(doc)
    if reader.problems:
        raise PlanError(path, sorted(reader.problems, key=lambda p: (p.line or 0, p.key)))
    return plan


def _syntax_problem(message: str) -> Problem:
    """tomllib says `... (at line 3, column 7)`; the line goes in front, like every problem."""
    m = re.search(r"\s*\(at line (\d+), column \d+\)$", message) or re.search(
        r"\s*\(at end of document\)$", message
    )
    line = int(m[1]) if m and m.groups() else None
    text = message[: m.start()] if m else message
    return Problem(line, "", f"TOML syntax: {text[:1].lower()}{text[1:]}")


def key_text(path: KeyPath) -> str:
    """("source", 2, "paths") -> `source[2].paths`; keys that are not bare are quoted."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            name = step if REPOSITORY_NAME.fullmatch(step) else '"' + step.replace('"', '\\"') + '"'
            out += f".{name}" if out else name
    return out


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def _describe(value: object) -> str:
    kind = next((n for t, n in _TYPE_NAMES.items() if isinstance(value, t)), "a date or time")
    shown = repr(value) if isinstance(value, (bool, int, float, str)) else ""
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} ({shown})" if shown else kind


class _Reader:
    """Builds the model from tomllib's dicts, collecting problems instead of stopping."""

    def __init__(self, locator: Locator, path: Path) -> None:
        self.locator = locator
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, at: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.locator.line(at), key_text(at), message))

    # -- the plan, table by table --------------------------------------------------

    def plan(self, doc: dict[str, Any]) -> Plan:
        top = _Table(self, doc, ())
        mode = top.choice("mode", MODES) or "copy"
        host = top.text("host")
        guard, guard_canaries = self.guard(top.table("guard"))
        sources = self.sources(top, guard_canaries)
        repositories = self.repositories(top)
        retention, prune = self.retention(top.table("retention"), top_level=True)
        check = self.check(top.table("check"))
        drill = self.drill(top.table("drill"))
        rpo = timedelta(hours=26)
        rpo_table = top.table("rpo")
        if rpo_table is not None:
            rpo = rpo_table.duration("max_age", required=True) or rpo
            rpo_table.finish()
        hooks = self.hooks(top.table("hooks"))
        top.finish()
        return Plan(
            path=self.path,
            sources=tuple(sources),
            repositories=tuple(repositories),
            mode=mode,
            host=host,
            retention=retention,
            prune=prune,
            drill=drill,
            check=check,
            rpo=rpo,
            guard=guard,
            hooks=hooks,
        )

    def sources(self, top: _Table, guard_canaries: tuple[str, ...]) -> list[Source]:
        tables = top.array_of_tables("source", "[[source]]")
        if tables is None:
            return []
        if not tables:
            self.problem(("source",), "no [[source]] table: a plan backs up at least one source")
        sources: list[Source] = []
        names: dict[str, int] = {}
        for i, t in enumerate(tables):
            paths = t.paths("paths", required=True, nonempty=True)
            name = t.text("name")
            if name is None and paths:
                name = Path(paths[0]).name or "root"
            if name is not None:
                if name in names:
                    self.problem(
                        (*t.at, "name") if "name" in t.data else t.at,
                        f"source name {name!r} is already used by source[{names[name]}]"
                        " (give each source its own name = ...)",
                    )
                names.setdefault(name, i)
            source = Source(
                name=name or "",
                paths=paths or (),
                excludes=t.strings("exclude") or (),
                exclude_caches=t.flag("exclude_caches") or False,
                one_file_system=t.flag("one_file_system") or False,
                tags=t.strings("tags") or (),
                canaries=_unique(guard_canaries + (t.paths("canary") or ())),
            )
            t.finish()
            sources.append(source)
        return sources

    def repositories(self, top: _Table) -> list[RepositorySpec]:
        table = top.table("repository")
        if table is None:
            if "repository" not in top.data:
                self.problem(
                    ("repository",),
                    "no [repository.NAME] table: a plan keeps its copies in at least one",
                )
            return []
        specs = []
        for name in table.data:
            t = table.table(name, hint="[repository.NAME] with url = ... and media = ...")
            if t is None:
                continue
            if not REPOSITORY_NAME.fullmatch(name):
                self.problem(
                    t.at, "a repository name is letters, digits, _ and - (it is given to -r NAME)"
                )
            url = t.text("url", required=True)
            if url is not None:
                url = self.location(url, (*t.at, "url"))
            media = t.choice("media", MEDIA, required=True, what="media type")
            password_file = t.path("password_file")
            password_command = t.text("password_command")
            if password_file is not None and password_command is not None:
                self.problem(
                    (*t.at, "password_command"),
                    "password_file is set too: give one of password_file and password_command",
                )
            retention, _ = self.retention(t.table("retention"), top_level=False)
            specs.append(
                RepositorySpec(
                    name=name,
                    url=url or "",
                    media=media or "other",
                    offsite=t.flag("offsite") or False,
                    immutable=t.flag("immutable") or False,
                    offline=t.flag("offline") or False,
                    credentials=Credentials(password_file, password_command),
                    retention=retention,
                )
            )
            t.finish()
        if not table.data:
            self.problem(table.at, "no [repository.NAME] table: a plan keeps at least one copy")
        return specs

    def location(self, url: str, at: KeyPath) -> str:
        try:
            return check_location(url)
        except UsageError as e:
            self.problem(at, str(e))
            return url

    def retention(self, t: _Table | None, top_level: bool) -> tuple[Policy | None, bool]:
        if t is None:
            return None, True
        problems = len(self.problems)
        counts = {k: t.integer(k, minimum=0) or 0 for k in _KEEP_COUNTS}
        group_by = t.strings("group_by")
        for field in group_by or ():
            if field not in GROUP_FIELDS:
                self.problem(
                    (*t.at, "group_by"),
                    f"cannot group by {field!r} (one of {', '.join(GROUP_FIELDS)})",
                )
        policy = Policy(
            keep_within=t.duration("keep_within"),
            keep_tags=frozenset(t.strings("keep_tags") or ()),
            group_by=group_by if group_by is not None else Policy.group_by,
            **counts,
        )
        prune = (t.flag("prune") if top_level else None) is not False
        t.finish()
        if len(self.problems) == problems:
            try:
                policy.check()
            except UsageError as e:
                self.problem(t.at, str(e))
        return policy, prune

    def check(self, t: _Table | None) -> CheckPlan | None:
        if t is None:
            return None
        every = t.duration("every", required=True)
        subset: str | None = None
        if not t.off("read_data_subset"):
            subset = t.parsed("read_data_subset", _check_subset, "a share such as 5%, or false")
            subset = subset or CheckPlan.read_data_subset
        t.finish()
        return CheckPlan(every=every or timedelta(days=1), read_data_subset=subset)

    def drill(self, t: _Table | None) -> DrillPlan | None:
        if t is None:
            return None
        every = t.duration("every", required=True)
        sample = t.integer("sample", minimum=1)
        max_bytes = None if t.off("max_bytes") else t.size("max_bytes") or DrillPlan.max_bytes
        t.finish()
        return DrillPlan(
            every=every or timedelta(days=7),
            sample=sample if sample is not None else DrillPlan.sample,
            max_bytes=max_bytes,
        )

    def guard(self, t: _Table | None) -> tuple[GuardSettings, tuple[str, ...]]:
        if t is None:
            return GuardSettings(), ()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(GuardSettings):
            default = f.default
            if isinstance(default, bool) or not isinstance(default, (int, float)):
                continue  # pragma: no cover - every threshold is a number
            if isinstance(default, int):
                value: float | None = t.integer(f.name, minimum=1 if f.name == "window" else 0)
            else:
                most = 1.0 if "share" in f.name or "growth" in f.name else None
                value = t.number(f.name, above=0.0, most=most)
            if value is not None:
                values[f.name] = value
        canaries = t.paths("canary") or ()
        t.finish()
        return GuardSettings(**values), canaries

    def hooks(self, t: _Table | None) -> Hooks:
        if t is None:
            return Hooks()
        values: dict[str, Any] = {k: t.strings(k, one_ok=True) or () for k in _HOOK_COMMANDS}
        values |= {k: t.parsed(k, _check_http_url, "an http(s) URL") for k in _HOOK_URLS}
        timeout = t.number("timeout", above=0.0)
        t.finish()
        return Hooks(**values, timeout=timeout if timeout is not None else Hooks.timeout)


class _Table:
    """One TOML table being read: typed getters record a problem and return None on
    a wrong value; finish() reports the keys nobody asked for."""

    def __init__(self, reader: _Reader, data: dict[str, Any], at: KeyPath) -> None:
        self.reader = reader
        self.data = data
        self.at = at
        self.known: list[str] = []

    def take(self, key: str, required: bool = False) -> Any:
        self.known.append(key)
        if key not in self.data:
            if required:
                where = f" [{key_text(self.at)}]" if self.at else ""
                self.reader.problem((*self.at, key), f"missing: {key} is required{where}")
            return None
        return self.data[key]

    def finish(self) -> None:
        for key in self.data:
            if key not in self.known:
                close = difflib.get_close_matches(key, self.known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.reader.problem((*self.at, key), f"unknown key{hint}")

    def _typed(self, key: str, kind: type[T], expected: str, required: bool = False) -> T | None:
        value = self.take(key, required)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.reader.problem((*self.at, key), f"expected {expected}, got {_describe(value)}")
            return None
        return value

    def off(self, key: str) -> bool:
        """Whether `key` is `false`, which turns off what its value would limit."""
        if self.data.get(key) is False:
            self.take(key)
            return True
        return False

    def table(self, key: str, hint: str = "") -> _Table | None:
        value = self._typed(key, dict, hint or f"a table [{key_text((*self.at, key))}]")
        return None if value is None else _Table(self.reader, value, (*self.at, key))

    def array_of_tables(self, key: str, written: str) -> list[_Table] | None:
        value = self.take(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            got = _describe(value)
            self.reader.problem((*self.at, key), f"expected {written} tables, got {got}")
            return None
        return [_Table(self.reader, v, (*self.at, key, i)) for i, v in enumerate(value)]

    def text(self, key: str, required: bool = False) -> str | None:
        value = self._typed(key, str, "a string", required)
        if value is not None and not value.strip():
            self.reader.problem((*self.at, key), "must not be empty")
            return None
        return value

    def flag(self, key: str) -> bool | None:
        return self._typed(key, bool, "true or false")

    def integer(self, key: str, minimum: int) -> int | None:
        value = self._typed(key, int, "an integer")
        if value is not None and value < minimum:
            self.reader.problem((*self.at, key), f"must be at least {minimum}, not {value}")
            return None
        return value

    def number(self, key: str, above: float, most: float | None = None) -> float | None:
        value = self.take(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.reader.problem((*self.at, key), f"expected a number, got {_describe(value)}")
            return None
        if not value > above or (most is not None and value > most):
            bounds = f"above {above:g}" + (f" and at most {most:g}" if most is not None else "")
            self.reader.problem((*self.at, key), f"must be {bounds}, not {value}")
            return None
        return float(value)

    def choice(
        self, key: str, choices: Sequence[str], required: bool = False, what: str = ""
    ) -> str | None:
        value = self._typed(key, str, "a string", required)
        if value is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.reader.problem(
                (*self.at, key),
                f"{value!r} is not a {what or key} (one of {', '.join(choices)}){hint}",
            )
            return None
        return value

    def strings(self, key: str, one_ok: bool = False) -> tuple[str, ...] | None:
        value = self.take(key)
        if value is None:
            return None
        if one_ok and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            expected = "a string or an array of strings" if one_ok else "an array of strings"
            self.reader.problem((*self.at, key), f"expected {expected}, got {_describe(value)}")
            return None
        if any(not v.strip() for v in value):
            self.reader.problem((*self.at, key), "an empty string is not allowed here")
            return None
        return tuple(value)

    def paths(
        self, key: str, required: bool = False, nonempty: bool = False
    ) -> tuple[str, ...] | None:
        if required and key not in self.data:
            self.take(key, required=True)  # the problem says it is missing
            return None
        value = self.strings(key)
        if value is None:
            return None
        if nonempty and not value:
            self.reader.problem((*self.at, key), "give at least one path")
            return None
        out = []
        for i, p in enumerate(value):
            full = _absolute(p)
            if full is None:
                self.reader.problem(
                    (*self.at, key),
                    f"{p!r} is not an absolute path (element {i}; write it from /, or from ~)",
                )
                return None
            out.append(full)
        return tuple(out)

    def path(self, key: str) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        full = _absolute(value)
        if full is None:
            self.reader.problem(
                (*self.at, key), f"{value!r} is not an absolute path (write it from /, or from ~)"
            )
        return full

    def size(self, key: str) -> int | None:
        """A size as a string (`1G`, `512MiB`) or a whole number of bytes."""
        value = self.data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return self.integer(key, minimum=1)
        return self.parsed(key, parse_size, "a size such as 1G, or bytes, or false")

    def duration(self, key: str, required: bool = False) -> timedelta | None:
        return self.parsed(key, parse_duration, "a duration such as 26h or 7d", required)

    def parsed(
        self, key: str, parse: Callable[[str], T], expected: str, required: bool = False
    ) -> T | None:
        """A string value through `parse`, whose UsageError message becomes the problem."""
        value = self._typed(key, str, f"a string ({expected})", required)
        if value is None:
            return None
        try:
            return parse(value)
        except UsageError as e:
            self.reader.problem((*self.at, key), str(e))
            return None


def _absolute(path: str) -> str | None:
    """`path` with ~ expanded and normalised, or None when it is relative."""
    full = os.path.expanduser(path)
    return os.path.normpath(full) if os.path.isabs(full) else None


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _check_subset(text: str) -> str:
    parse_subset(text, VerifiedLog(None))
    return text


def _check_http_url(text: str) -> str:
    u = urlsplit(text)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise UsageError(f"{text!r} is not an http:// or https:// URL")
    return text
