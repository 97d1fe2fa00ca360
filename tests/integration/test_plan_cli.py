"""`ripcord plan check/show`, and --plan with -r NAME opening a plan's repository with
its own password, on real local repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from ripcord.cli.env import Env
from ripcord.cli.plan_env import open_location, open_spec, resolve_location
from ripcord.errors import UsageError
from ripcord.plan.load import load_plan, parse_plan
from ripcord.plan.model import Credentials
from tests.conftest import PASSWORD, Cli

CHEAP = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")


@pytest.fixture
def office(tmp_path: Path, cli_env: dict[str, str]) -> tuple[Cli, Path]:
    """A plan with three repositories: usb and nas with their own password files,
    cloud (a plain directory here) with none, so RIPCORD_PASSWORD applies to it."""
    for name in ("usb", "nas"):
        secret = tmp_path / f"{name}.pass"
        secret.write_text(f"{name} password\n")
        secret.chmod(0o600)
    plan = tmp_path / "office.toml"
    plan.write_text(
        f"""\
[[source]]
paths = ["{tmp_path}/src"]

[repository.usb]
url = "{tmp_path}/usb"
media = "disk"
password_file = "{tmp_path}/usb.pass"

[repository.nas]
url = "{tmp_path}/nas"
media = "nas"
password_command = "cat {tmp_path}/nas.pass"

[repository.cloud]
url = "{tmp_path}/cloud"
media = "object-storage"
offsite = true
"""
    )
    cli = Cli(tmp_path / "unused", {**cli_env, "RIPCORD_PASSWORD": "not any plan password"})
    for name in ("usb", "nas"):
        cli.ok("--plan", str(plan), "-r", name, "init", *CHEAP, repo=False)
    cli.ok("--plan", str(plan), "-r", "cloud", "init", *CHEAP, repo=False,
           env={"RIPCORD_PASSWORD": PASSWORD})  # fmt: skip
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("hello\n")
    return cli, plan


def snapshot_count(cli: Cli, repo: Path, password: str) -> int:
    r = cli.ok("-r", str(repo), "snapshots", "--json", repo=False,
               env={"RIPCORD_PASSWORD": password})  # fmt: skip
    return len(r.json)


def test_r_name_opens_that_repository_with_its_own_password(
    office: tuple[Cli, Path], tmp_path: Path
) -> None:
    cli, plan = office
    # RIPCORD_PASSWORD is wrong for every repository: the plan's password_file and
    # password_command come first
    cli.ok("--plan", str(plan), "-r", "nas", "backup", str(tmp_path / "src"), repo=False)
    assert snapshot_count(cli, tmp_path / "nas", "nas password") == 1
    assert snapshot_count(cli, tmp_path / "usb", "usb password") == 0
    cli.ok("--plan", str(plan), "-r", "usb", "backup", str(tmp_path / "src"), repo=False)
    assert snapshot_count(cli, tmp_path / "usb", "usb password") == 1
    # the plan file from the environment, too
    r = cli.ok("-r", "usb", "snapshots", "--json", repo=False, env={"RIPCORD_PLAN": str(plan)})
    assert len(r.json) == 1


def test_no_r_opens_the_plans_first_repository(office: tuple[Cli, Path], tmp_path: Path) -> None:
    cli, plan = office
    cli.ok("--plan", str(plan), "backup", str(tmp_path / "src"), repo=False)
    assert snapshot_count(cli, tmp_path / "usb", "usb password") == 1
    assert snapshot_count(cli, tmp_path / "nas", "nas password") == 0


def test_a_repository_without_credentials_takes_ripcord_password(
    office: tuple[Cli, Path], tmp_path: Path
) -> None:
    cli, plan = office
    assert cli("--plan", str(plan), "-r", "cloud", "snapshots", repo=False).code == 12
    r = cli("--plan", str(plan), "-r", "cloud", "snapshots", "--json", repo=False,
            env={"RIPCORD_PASSWORD": PASSWORD})  # fmt: skip
    assert r.code == 0 and r.json == []


def test_r_with_a_location_still_works_under_a_plan(
    office: tuple[Cli, Path], tmp_path: Path
) -> None:
    cli, plan = office
    r = cli("--plan", str(plan), "-r", str(tmp_path / "usb"), "snapshots", "--json",
            repo=False, env={"RIPCORD_PASSWORD": "usb password"})  # fmt: skip
    assert r.code == 0 and r.json == []


def test_r_with_a_name_the_plan_lacks(office: tuple[Cli, Path]) -> None:
    cli, plan = office
    r = cli("--plan", str(plan), "-r", "tape", "snapshots", repo=False)
    assert r.code == 2
    assert f"the plan {plan} has no repository 'tape' (it has usb, nas, cloud)" in r.err


def test_init_refuses_a_plan_repository_that_exists(office: tuple[Cli, Path]) -> None:
    cli, plan = office
    r = cli("--plan", str(plan), "-r", "usb", "init", *CHEAP, repo=False)
    assert r.code == 1 and "a repository already exists at" in r.err


def test_init_copies_params_from_a_plan_repository_by_name(
    office: tuple[Cli, Path], tmp_path: Path
) -> None:
    cli, plan = office
    other = tmp_path / "other"
    cli.ok("--plan", str(plan), "-r", str(other), "init", *CHEAP, "--copy-params-from", "nas",
           repo=False, env={"RIPCORD_PASSWORD": "other"})  # fmt: skip
    assert snapshot_count(cli, other, "other") == 0


def test_an_invalid_plan_stops_any_command_with_its_problems(
    office: tuple[Cli, Path], tmp_path: Path
) -> None:
    cli, plan = office
    plan.write_text(plan.read_text().replace('media = "nas"', 'media = "nass"'))
    r = cli("--plan", str(plan), "-r", "usb", "snapshots", repo=False)
    assert r.code == 2
    assert f"{plan}:11: repository.nas.media: 'nass' is not a media type" in r.err


def test_open_spec_and_open_location(office: tuple[Cli, Path], tmp_path: Path) -> None:
    _, plan_file = office
    env = Env(plan_file=str(plan_file))
    plan = env.plan()
    assert plan is not None and env.plan() is plan  # read once
    with open_spec(env, plan.repositories[0]) as repo:
        assert repo.snapshots() == []
    with open_location(env, "nas") as repo:
        assert repo.store is not None
    assert resolve_location("nas", plan) == (
        f"{tmp_path}/nas",
        Credentials(password_command=f"cat {tmp_path}/nas.pass"),
    )
    assert resolve_location(None, plan)[0] == f"{tmp_path}/usb"
    assert resolve_location("s3://b/x", plan) == ("s3://b/x", Credentials())
    assert resolve_location("./nas", None) == ("./nas", Credentials())
    with pytest.raises(UsageError, match="no repository given"):
        resolve_location(None, None)


def test_plan_check_ok_summary_and_json(office: tuple[Cli, Path], tmp_path: Path) -> None:
    cli, plan = office
    r = cli.ok("plan", "check", str(plan), repo=False)
    assert r.out.startswith(f"plan OK: {plan}\n")
    assert "repository cloud (object-storage, offsite):" in r.out
    assert "advice: no [drill]" in r.out
    doc = cli.ok("--plan", str(plan), "plan", "check", "--json", repo=False).json
    assert doc["ok"] is True and doc["name"] == "office"
    assert [r["name"] for r in doc["repositories"]] == ["usb", "nas", "cloud"]
    assert doc["sources"] == [{"name": "src", "paths": [f"{tmp_path}/src"]}]
    assert doc["schedules"] == {"rpo": "26h", "check": None, "drill": None}
    assert "no repository is immutable or offline" in doc["advice"][0]


def test_plan_check_lists_every_problem_and_exits_2(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[source]]\npaths = ["srv"]\n\n[repository.usb]\nurl = "/m"\nmedia = "cloude"\n'
        "[drill]\nevery = '7m'\n"
    )
    cli = Cli(tmp_path, cli_env)
    r = cli("plan", "check", str(bad), repo=False)
    assert r.code == 2
    assert r.out.splitlines() == [
        f"{bad}:2: source[0].paths: 'srv' is not an absolute path (element 0; write it from /,"
        " or from ~)",
        f"{bad}:6: repository.usb.media: 'cloude' is not a media type (one of disk, ssd, nas,"
        " tape, optical, object-storage, server, other)",
        f"{bad}:8: drill.every: not a duration: '7m' (write a sum of whole w (weeks), d (days),"
        " h (hours), min (minutes), e.g. 30d, 2w3d, 1d12h, 90min; `m` is ambiguous (months in"
        " restic): write `min` for minutes, days for months)",
    ]
    doc = cli("plan", "check", "--json", str(bad), repo=False)
    assert doc.code == 2
    assert doc.json["ok"] is False
    assert [(p["line"], p["key"]) for p in doc.json["problems"]] == [
        (2, "source[0].paths"),
        (6, "repository.usb.media"),
        (8, "drill.every"),
    ]


def test_plan_check_needs_a_file(tmp_path: Path, cli_env: dict[str, str]) -> None:
    cli = Cli(tmp_path, cli_env)
    r = cli("plan", "check", repo=False)
    assert r.code == 2 and "no plan file: give FILE, or --plan FILE" in r.err
    r = cli("plan", "check", str(tmp_path / "nowhere.toml"), repo=False)
    assert r.code == 2 and "nowhere.toml: cannot read the plan" in r.out


def test_plan_show_prints_a_plan_file_that_reads_back_the_same(
    office: tuple[Cli, Path], tmp_path: Path
) -> None:
    cli, plan = office
    text = cli.ok("--plan", str(plan), "plan", "show", repo=False).out
    assert 'password_command = "cat ' in text and "[guard]" in text
    assert parse_plan(text, plan) == load_plan(plan)
    doc = cli.ok("plan", "show", "--json", str(plan), repo=False).json
    assert doc["plan"] == str(plan) and doc["name"] == "office"
    assert doc["resolved"]["repository"]["usb"]["password_file"] == f"{tmp_path}/usb.pass"
    assert doc["resolved"]["rpo"] == {"max_age": "26h"}
