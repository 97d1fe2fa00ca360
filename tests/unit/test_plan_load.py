"""Reading a plan file: every validation rule names the right line and key."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from ripcord.errors import EXIT_USAGE
from ripcord.guard.verdict import GuardSettings
from ripcord.plan.load import PlanError, Problem, load_plan, parse_plan
from ripcord.plan.model import Credentials, DrillPlan, Hooks, Plan
from ripcord.retention.policy import Policy

PATH = Path("office.toml")

# line 1..6: a valid plan; each case appends lines from 7 (or replaces it)
BASE = """\
[[source]]
paths = ["/srv/office"]

[repository.usb]
url = "/mnt/usb/ripcord"
media = "disk"
"""
REPO = BASE[BASE.index("[repository") :]


def parse(text: str) -> Plan:
    return parse_plan(text, PATH)


def problems(text: str) -> list[Problem]:
    with pytest.raises(PlanError) as e:
        parse(text)
    return list(e.value.problems)


def only(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        # TOML itself
        (BASE + "mode = \n", 7, "", "TOML syntax: invalid value"),
        (BASE + "[repository.usb]\n", 7, "", "TOML syntax: "),
        # unknown keys, with a suggestion
        (BASE + "\n[retension]\nkeep_daily = 7\n", 8, "retension", "did you mean 'retention'?"),
        (BASE + "exclud = []\n", 7, "repository.usb.exclud", "unknown key"),
        ('[[source]]\npaths = ["/a"]\nexlude = []\n' + BASE, 3, "source[0].exlude", "'exclude'"),
        (BASE + "medai = 'disk'\n", 7, "repository.usb.medai", "did you mean 'media'?"),
        (BASE + "[guard]\nwindows = 3\n", 8, "guard.windows", "did you mean 'window'?"),
        (BASE + "[hooks]\non_succes = 'x'\n", 8, "hooks.on_succes", "did you mean 'on_success'?"),
        (BASE + "[rpo]\nmax_age = '1d'\nmaxage = 1\n", 9, "rpo.maxage", "'max_age'"),
        # wrong types
        (
            BASE + 'offsite = "yes"\n',
            7,
            "repository.usb.offsite",
            "expected true or false, got a string ('yes')",
        ),
        (BASE + "url2 = 1\n", 7, "repository.usb.url2", "unknown key"),
        (
            BASE + "[drill]\nevery = 7\n",
            8,
            "drill.every",
            "expected a string (a duration such as 26h or 7d), got an integer (7)",
        ),
        (
            BASE + "[retention]\nkeep_daily = '7'\n",
            8,
            "retention.keep_daily",
            "expected an integer, got a string ('7')",
        ),
        (
            BASE + "[retention]\nkeep_daily = true\n",
            8,
            "retention.keep_daily",
            "expected an integer, got a boolean (True)",
        ),
        (
            BASE + "[retention]\nkeep_daily = -1\n",
            8,
            "retention.keep_daily",
            "must be at least 0, not -1",
        ),
        (BASE + "host = 3\n", 7, "repository.usb.host", "unknown key"),
        ("host = 3\n" + BASE, 1, "host", "expected a string, got an integer (3)"),
        ('host = " "\n' + BASE, 1, "host", "must not be empty"),
        (
            "retention = 7\n" + BASE,
            1,
            "retention",
            "expected a table [retention], got an integer (7)",
        ),
        (
            'source = "x"\n[repository.usb]\nurl = "/m"\nmedia = "disk"\n',
            1,
            "source",
            "expected [[source]] tables, got a string ('x')",
        ),
        (
            '[[source]]\npaths = "/a"\n' + BASE,
            2,
            "source[0].paths",
            "expected an array of strings, got a string ('/a')",
        ),
        (
            '[[source]]\npaths = ["/a", 3]\n' + BASE,
            2,
            "source[0].paths",
            "expected an array of strings, got an array",
        ),
        ('[[source]]\npaths = ["/a"]\ntags = [""]\n' + BASE, 3, "source[0].tags", "empty string"),
        (
            BASE + "[repository]\nurl = '/x'\n",
            8,
            "repository.url",
            "expected [repository.NAME] with url = ... and media = ..., got a string ('/x')",
        ),
        # required keys
        (
            '[[source]]\nname = "x"\n[repository.usb]\nurl = "/m"\nmedia = "disk"\n',
            1,
            "source[0].paths",
            "missing: paths is required [source[0]]",
        ),
        ("[[source]]\npaths = []\n" + REPO, 2, "source[0].paths", "give at least one path"),
        (
            BASE + "[repository.nas]\nmedia = 'nas'\n",
            7,
            "repository.nas.url",
            "missing: url is required [repository.nas]",
        ),
        (
            BASE + "[repository.nas]\nurl = '/nas'\n",
            7,
            "repository.nas.media",
            "missing: media is required [repository.nas]",
        ),
        ('[repository.usb]\nurl = "/m"\nmedia = "disk"\n', None, "source", "no [[source]] table"),
        ('[[source]]\npaths = ["/a"]\n', None, "repository", "no [repository.NAME] table"),
        (
            '[[source]]\npaths = ["/a"]\n[repository]\n',
            3,
            "repository",
            "no [repository.NAME] table",
        ),
        (BASE + "[drill]\nsample = 5\n", 7, "drill.every", "missing: every is required [drill]"),
        (BASE + "[check]\n", 7, "check.every", "missing: every is required [check]"),
        (BASE + "[rpo]\n", 7, "rpo.max_age", "missing: max_age is required [rpo]"),
        # choices
        (
            BASE.replace('"disk"', '"cloude"'),
            6,
            "repository.usb.media",
            "'cloude' is not a media type (one of disk, ssd, nas, tape, optical, object-storage,"
            " server, other)",
        ),
        (BASE.replace('"disk"', '"dsk"'), 6, "repository.usb.media", "did you mean 'disk'?"),
        (
            'mode = "mirror"\n' + BASE,
            1,
            "mode",
            "'mirror' is not a mode (one of copy, independent)",
        ),
        # durations
        (BASE + "[drill]\nevery = '7m'\n", 8, "drill.every", "`m` is ambiguous"),
        (BASE + "[check]\nevery = 'weekly'\n", 8, "check.every", "not a duration: 'weekly'"),
        (BASE + "[rpo]\nmax_age = '0h'\n", 8, "rpo.max_age", "duration must be more than zero"),
        (
            BASE + "[retention]\nkeep_within = '1y'\n",
            8,
            "retention.keep_within",
            "no months or years",
        ),
        # sizes and counts
        (
            BASE + "[drill]\nevery = '7d'\nmax_bytes = 'lots'\n",
            9,
            "drill.max_bytes",
            "not a size: 'lots'",
        ),
        (
            BASE + "[drill]\nevery = '7d'\nmax_bytes = 0\n",
            9,
            "drill.max_bytes",
            "must be at least 1, not 0",
        ),
        (
            BASE + "[drill]\nevery = '7d'\nmax_bytes = true\n",
            9,
            "drill.max_bytes",
            "expected a string (a size such as 1G, or bytes, or false), got a boolean",
        ),
        (
            BASE + "[drill]\nevery = '7d'\nsample = 0\n",
            9,
            "drill.sample",
            "must be at least 1, not 0",
        ),
        # paths
        (
            '[[source]]\npaths = ["/a", "srv/office"]\n' + BASE,
            2,
            "source[0].paths",
            "'srv/office' is not an absolute path (element 1",
        ),
        (
            BASE + "password_file = 'usb.pass'\n",
            7,
            "repository.usb.password_file",
            "'usb.pass' is not an absolute path",
        ),
        (
            '[[source]]\npaths = ["/a"]\ncanary = ["x"]\n' + BASE,
            3,
            "source[0].canary",
            "'x' is not an absolute path",
        ),
        (BASE + "[guard]\ncanary = ['x']\n", 8, "guard.canary", "'x' is not an absolute path"),
        # names
        (
            '[[source]]\npaths = ["/b/office"]\n' + BASE,
            3,
            "source[1]",
            "source name 'office' is already used by source[0]",
        ),
        (
            '[[source]]\npaths = ["/a"]\nname = "o"\n[[source]]\nname = "o"\npaths = ["/b"]\n'
            + REPO,
            5,
            "source[1].name",
            "already used by source[0]",
        ),
        (
            BASE + '[repository."my usb"]\nurl = "/m2"\nmedia = "ssd"\n',
            7,
            'repository."my usb"',
            "a repository name is letters, digits, _ and -",
        ),
        # credentials
        (
            BASE + "password_file = '/p'\npassword_command = 'pass x'\n",
            8,
            "repository.usb.password_command",
            "give one of password_file and password_command",
        ),
        # locations
        (
            BASE.replace('"/mnt/usb/ripcord"', '"usb"'),
            5,
            "repository.usb.url",
            "'usb' is not an absolute path",
        ),
        (
            BASE.replace('"/mnt/usb/ripcord"', '"ftp://nas/x"'),
            5,
            "repository.usb.url",
            "is not a location ripcord opens",
        ),
        (
            BASE.replace('"/mnt/usb/ripcord"', '"sftp://nas"'),
            5,
            "repository.usb.url",
            "invalid SFTP location 'sftp://nas'",
        ),
        (
            BASE.replace('"/mnt/usb/ripcord"', '"s3://b/p?region=x&colour=red"'),
            5,
            "repository.usb.url",
            "invalid S3 location",
        ),
        (
            BASE.replace('"/mnt/usb/ripcord"', '"rest+https://host/"'),
            5,
            "repository.usb.url",
            "invalid rest location",
        ),
        # retention
        (
            BASE + "[retention]\n",
            7,
            "retention",
            "no keep rule given: refusing to forget everything",
        ),
        (
            BASE + "[retention]\nkeep_last = 1\ngroup_by = ['host', 'colour']\n",
            9,
            "retention.group_by",
            "cannot group by 'colour' (one of host, paths, tags)",
        ),
        (
            BASE + "prune = false\n[repository.usb.retention]\nkeep_last = 2\n",
            7,
            "repository.usb.prune",
            "unknown key",
        ),
        (
            BASE + "[repository.usb.retention]\nkeep_last = 2\nprune = false\n",
            9,
            "repository.usb.retention.prune",
            "unknown key",
        ),
        (
            BASE + "[retention]\nkeep_last = 1\nprune = 'yes'\n",
            9,
            "retention.prune",
            "expected true or false",
        ),
        # check
        (
            BASE + "[check]\nevery = '1d'\nread_data_subset = '5 percent'\n",
            9,
            "check.read_data_subset",
            "not a subset: '5 percent'",
        ),
        (
            BASE + "[check]\nevery = '1d'\nread_data_subset = '4/3'\n",
            9,
            "check.read_data_subset",
            "n/t needs 1 <= n <= t",
        ),
        # guard
        (BASE + "[guard]\nwindow = 0\n", 8, "guard.window", "must be at least 1, not 0"),
        (
            BASE + "[guard]\ndeleted_share = 1.5\n",
            8,
            "guard.deleted_share",
            "must be above 0 and at most 1, not 1.5",
        ),
        (
            BASE + "[guard]\nhistory_margin = 0\n",
            8,
            "guard.history_margin",
            "must be above 0, not 0",
        ),
        (
            BASE + "[guard]\nencrypted_files = 2.5\n",
            8,
            "guard.encrypted_files",
            "expected an integer, got a float (2.5)",
        ),
        (
            BASE + "[guard]\nrandom_growth = 'x'\n",
            8,
            "guard.random_growth",
            "expected a number, got a string ('x')",
        ),
        # hooks
        (
            BASE + "[hooks]\non_start = 3\n",
            8,
            "hooks.on_start",
            "expected a string or an array of strings, got an integer (3)",
        ),
        (
            BASE + "[hooks]\nping_url = 'ftp://hc/x'\n",
            8,
            "hooks.ping_url",
            "'ftp://hc/x' is not an http:// or https:// URL",
        ),
        (
            BASE + "[hooks]\nfailure_url = 'hc.example/fail'\n",
            8,
            "hooks.failure_url",
            "not an http:// or https:// URL",
        ),
        (BASE + "[hooks]\ntimeout = 0\n", 8, "hooks.timeout", "must be above 0, not 0"),
        (
            BASE + "[hooks]\ntimeout = '10s'\n",
            8,
            "hooks.timeout",
            "expected a number, got a string ('10s')",
        ),
    ],
)
def test_rule(text: str, line: int | None, key: str, message: str) -> None:
    p = only(text)
    assert (p.line, p.key) == (line, key)
    assert message in p.message


def test_every_problem_at_once_in_line_order() -> None:
    text = (
        BASE.replace('"disk"', '"cloude"').replace('"/srv/office"', '"srv"')
        + "offsite = 'no'\n[drill]\nevery = '7m'\n"
    )
    found = [(p.line, p.key) for p in problems(text)]
    assert found == [
        (2, "source[0].paths"),
        (6, "repository.usb.media"),
        (7, "repository.usb.offsite"),
        (9, "drill.every"),
    ]


def test_error_text_is_one_line_per_problem_with_file_line_key() -> None:
    with pytest.raises(PlanError) as e:
        parse(BASE.replace('"disk"', '"cloude"') + "[rpo]\nmax_age = 'soon'\n")
    lines = str(e.value).splitlines()
    assert lines[0].startswith("office.toml:6: repository.usb.media: 'cloude' is not a media type")
    assert lines[1].startswith("office.toml:8: rpo.max_age: not a duration: 'soon'")
    assert e.value.exit_code == EXIT_USAGE


def test_problem_without_line_or_key_renders_plainly() -> None:
    assert Problem(None, "", "cannot read").render("p.toml") == "p.toml: cannot read"
    assert Problem(None, "source", "none").render("p.toml") == "p.toml: source: none"


def test_load_plan_reports_unreadable_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"missing\.toml: cannot read the plan: No such file"):
        load_plan(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(BASE.encode() + b"host = '\xff'\n")
    with pytest.raises(PlanError) as e:
        load_plan(bad)
    assert e.value.problems == (Problem(7, "", "not UTF-8 text"),)


def test_minimal_plan_gets_every_default() -> None:
    plan = parse(BASE)
    assert plan.name == "office"
    assert plan.mode == "copy" and plan.host is None
    (source,) = plan.sources
    assert source.name == "office" and source.paths == ("/srv/office",)
    assert (source.excludes, source.tags, source.canaries) == ((), (), ())
    (usb,) = plan.repositories
    assert (usb.name, usb.url, usb.media) == ("usb", "/mnt/usb/ripcord", "disk")
    assert not (usb.offsite or usb.immutable or usb.offline)
    assert usb.credentials == Credentials() and usb.retention is None
    assert plan.retention is None and plan.prune
    assert plan.check is None and plan.drill is None
    assert plan.rpo == timedelta(hours=26)
    assert plan.guard == GuardSettings() and plan.hooks == Hooks()


def test_full_plan_reads_every_key(tmp_path: Path) -> None:
    text = f"""\
mode = "independent"
host = "office-server"

[[source]]
name = "docs"
paths = ["~/docs", "/srv/office/./shared/"]
exclude = ["*.tmp"]
exclude_caches = true
one_file_system = true
tags = ["office"]
canary = ["/srv/office/shared/.canary.docx"]

[[source]]
paths = ["/"]

[repository.usb]
url = "local:~/usb"
media = "disk"
offline = true
password_command = "pass show usb"

[repository.cloud]
url = "s3://bucket/ripcord?endpoint=https://s3.example.net"
media = "object-storage"
offsite = true
immutable = true
password_file = "{tmp_path}/cloud.pass"

[repository.cloud.retention]
keep_monthly = 24
keep_within = "30d"
keep_tags = ["keep"]
group_by = ["host"]

[retention]
keep_daily = 7
keep_weekly = 5
prune = false

[check]
every = "1w"
read_data_subset = false

[drill]
every = "7d"
sample = 50
max_bytes = "512MiB"

[rpo]
max_age = "1d12h"

[guard]
deleted_share = 0.1
window = 14
canary = ["/srv/office/.canary.xlsx"]

[hooks]
on_start = "logger ripcord start"
on_failure = ["mail -s failed root", "logger failed"]
ping_url = "https://hc.example/ping/abc"
timeout = 5
"""
    plan = parse(text)
    home = os.path.expanduser("~")
    assert plan.mode == "independent" and plan.host == "office-server"
    docs, root = plan.sources
    assert docs.paths == (f"{home}/docs", "/srv/office/shared")
    assert docs.name == "docs" and docs.excludes == ("*.tmp",) and docs.tags == ("office",)
    assert docs.exclude_caches and docs.one_file_system
    assert docs.canaries == ("/srv/office/.canary.xlsx", "/srv/office/shared/.canary.docx")
    assert root.name == "root" and root.canaries == ("/srv/office/.canary.xlsx",)
    usb, cloud = plan.repositories
    assert usb.url == f"{home}/usb" and usb.offline
    assert usb.credentials == Credentials(password_command="pass show usb")
    assert cloud.offsite and cloud.immutable
    assert cloud.credentials == Credentials(password_file=f"{tmp_path}/cloud.pass")
    assert cloud.retention == Policy(
        keep_monthly=24,
        keep_within=timedelta(days=30),
        keep_tags=frozenset({"keep"}),
        group_by=("host",),
    )
    assert plan.retention == Policy(keep_daily=7, keep_weekly=5)
    assert not plan.prune
    assert plan.check is not None and plan.check.read_data_subset is None
    assert plan.check.every == timedelta(weeks=1)
    assert plan.drill == DrillPlan(every=timedelta(days=7), sample=50, max_bytes=512 << 20)
    assert plan.rpo == timedelta(hours=36)
    assert plan.guard == GuardSettings(deleted_share=0.1, window=14)
    assert plan.hooks == Hooks(
        on_start=("logger ripcord start",),
        on_failure=("mail -s failed root", "logger failed"),
        ping_url="https://hc.example/ping/abc",
        timeout=5.0,
    )
    assert plan.repository("cloud") is cloud and plan.repository("nas") is None


def test_drill_max_bytes_false_means_no_limit_and_bytes_are_allowed() -> None:
    plan = parse(BASE + "[drill]\nevery = '7d'\nmax_bytes = false\n")
    assert plan.drill is not None and plan.drill.max_bytes is None
    plan = parse(BASE + "[drill]\nevery = '7d'\nmax_bytes = 4096\n")
    assert plan.drill is not None and plan.drill.max_bytes == 4096
    plan = parse(BASE + "[drill]\nevery = '7d'\n")
    assert plan.drill == DrillPlan(every=timedelta(days=7))


def test_check_defaults_to_a_five_percent_subset_and_takes_groups() -> None:
    plan = parse(BASE + "[check]\nevery = '1d'\n")
    assert plan.check is not None and plan.check.read_data_subset == "5%"
    plan = parse(BASE + "[check]\nevery = '1d'\nread_data_subset = '2/7'\n")
    assert plan.check is not None and plan.check.read_data_subset == "2/7"


def test_repositories_keep_file_order() -> None:
    text = BASE + '[repository.cloud]\nurl = "s3://b"\nmedia = "object-storage"\n'
    text += '[repository.nas]\nurl = "sftp://u@nas/x"\nmedia = "nas"\n'
    assert [r.name for r in parse(text).repositories] == ["usb", "cloud", "nas"]


def test_rest_location_is_checked_without_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIPCORD_REST_TOKEN", raising=False)
    plan = parse(BASE.replace('"/mnt/usb/ripcord"', '"rest+https://backup.lan:8000/office"'))
    assert plan.repositories[0].url == "rest+https://backup.lan:8000/office"


def test_keys_in_inline_tables_point_at_their_line() -> None:
    text = BASE + "[hooks]\nping_url = 'https://hc/x'\n" + "[drill]\n" + "every = { days = 7 }\n"
    p = only(text)
    assert (p.line, p.key) == (10, "drill.every")
    text = '[repository.usb]\nurl = "/m"\nmedia = "disk"\nretention = { keep_dialy = 7 }\n'
    p = only('[[source]]\npaths = ["/a"]\n' + text)
    assert (p.line, p.key) == (6, "repository.usb.retention.keep_dialy")


def test_an_empty_repository_table_is_reported_beside_other_problems() -> None:
    found = problems('[[source]]\npaths = ["/a"]\nhots = "x"\n[repository]\n')
    assert [(p.line, p.key) for p in found] == [(3, "source[0].hots"), (4, "repository")]


def test_a_plan_nested_past_the_recursion_limit_is_a_problem_not_a_crash() -> None:
    text = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(PlanError) as e:
        parse_plan(text, Path("deep.toml"))
    assert e.value.problems == (Problem(None, "", "nested too deeply to be a plan"),)
