"""The small formats of ripcord schedule: --at, unit names, ExecStart words, crontab lines."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ripcord.errors import UsageError
from ripcord.plan.schedule import At, Job, crontab_line, exec_quote, exec_start

UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\-]+")  # systemd.unit(5): what a unit name may hold


@given(st.integers(0, 23), st.integers(0, 59), st.booleans())
def test_every_time_of_day_parses(hour: int, minute: int, pad: bool) -> None:
    text = f"{hour:02}:{minute:02}" if pad else f"{hour}:{minute:02}"
    at = At.parse(text)
    assert (at.hour, at.minute) == (hour, minute) and str(at) == f"{hour:02}:{minute:02}"


@pytest.mark.parametrize("text", ["24:00", "12:60", "2:3", "0230", "2.30", "", "noon", "-1:00"])
def test_anything_else_is_refused_with_the_format(text: str) -> None:
    with pytest.raises(UsageError, match=r"not a time of day: .* \(write HH:MM, 24-hour"):
        At.parse(text)


names = st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1)


@given(names, names)
def test_unit_names_are_valid_and_never_shared(a: str, b: str) -> None:
    ua, ub = Job("", Path(f"/p/{a}.toml")).unit, Job("", Path(f"/p/{b}.toml")).unit
    assert UNIT_NAME.fullmatch(ua) and not ua.startswith("ripcord-.")
    assert (ua == ub) == (a == b)


@given(st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0")))
def test_a_crontab_line_gives_the_shell_back_the_paths(name: str) -> None:
    plan = Path("/plans") / f"{name}.toml"
    log = Path("/logs") / f"{name}.log"
    line = crontab_line(Job("/opt/rip cord/ripcord", plan), At(2, 30), log)
    assert line.startswith("30 2 * * * ") and "\n" not in line
    command = line.split(" ", 5)[5]
    assert "%" not in command.replace("\\%", "")  # cron would turn a bare % into a newline
    argv = shlex.split(command.replace("\\%", "%"))
    assert argv == ["/opt/rip cord/ripcord", "--plan", str(plan), "run", f">>{log}", "2>&1"]


def test_a_crontab_line_cannot_hold_a_line_break() -> None:
    with pytest.raises(UsageError, match="line break"):
        crontab_line(Job("/bin/ripcord", Path("/a\nb.toml")), At(2, 30), Path("/log"))


@pytest.mark.parametrize(
    ("arg", "word"),
    [
        ("/usr/bin/ripcord", "/usr/bin/ripcord"),
        ("/a b/c", '"/a b/c"'),
        ("50%", "50%%"),
        ("$HOME", "$$HOME"),
        ("a $b", '"a $$b"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("line\nbreak", '"line\\x0abreak"'),
        ("", '""'),
        (";", '";"'),
    ],
)
def test_exec_start_words(arg: str, word: str) -> None:
    assert exec_quote(arg) == word


def test_the_executable_path_keeps_its_dollar_and_may_not_hold_what_systemd_refuses() -> None:
    assert exec_start(["/opt/$x/50%/ripcord", "$x"]) == '"/opt/$x/50%%/ripcord" $$x'
    for bad in ('"', "'", "\\", "\t", "\n"):
        with pytest.raises(UsageError, match="systemd cannot run an executable whose path"):
            exec_start([f"/opt/a{bad}b/ripcord", "run"])
