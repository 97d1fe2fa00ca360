"""`ripcord status` over the office's three real copies: a local directory (a USB disk
kept offline), SFTP on a real sshd (the NAS) and S3 with Object Lock on a real
SeaweedFS (the cloud). Every rule holds after backups, checks and drills; then each
rule is broken the way it breaks in life, and the verdict says why."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ripcord.errors import EXIT_DAMAGED, EXIT_GUARD_ALARM, EXIT_RULE_BROKEN
from tests.conftest import Cli, Result, UrlCli
from tests.faults import api_repo, damage
from tests.s3server import S3Server, s3_server  # noqa: F401 (the fixture)
from tests.sshserver import SshServer, sshd_fixture  # noqa: F401 (the fixture)

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
RULES = ["3 copies", "2 media", "1 offsite", "1 immutable or offline", "0 errors"]
SETTINGS: dict[str, dict[str, Any]] = {
    "usb": {"media": "disk", "offline": True},
    "nas": {"media": "nas"},
    "cloud": {"media": "object-storage", "offsite": True, "immutable": True},
}


@dataclass
class Office:
    tmp: Path
    env: dict[str, str]
    src: Path
    urls: dict[str, str]

    def cli(self, name_or_url: str) -> UrlCli:
        return UrlCli(self.urls.get(name_or_url, name_or_url), self.env)

    def plan(self, **repositories: dict[str, Any]) -> Path:
        """office.toml with these repositories ({} each: the office's own settings)."""
        lines = [f"[[source]]\npaths = [{json.dumps(str(self.src))}]\n"]
        for name, changes in repositories.items():
            table = {"url": self.urls[name], **SETTINGS[name], **changes}
            lines.append(f"[repository.{name}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
            lines.append("")
        lines.append('[check]\nevery = "1d"\n\n[drill]\nevery = "7d"\nsample = 5\n')
        path = self.tmp / "office.toml"
        path.write_text("\n".join(lines))
        return path

    def status(self, plan: Path, *args: str) -> Result:
        r = UrlCli("", self.env)("--plan", str(plan), "status", "--json", *args, repo=False)
        assert "Traceback" not in r.err and "unexpected error" not in r.err, r.err
        return r

    def rules(self, plan: Path, *args: str) -> tuple[int, dict[str, tuple[bool, str]]]:
        r = self.status(plan, *args)
        return r.code, {x["name"]: (x["holds"], x["reason"]) for x in r.json["rules"]}

    def broken(self, plan: Path, *args: str) -> dict[str, str]:
        code, rules = self.rules(plan, *args)
        assert code == EXIT_RULE_BROKEN
        return {name: why for name, (holds, why) in rules.items() if not holds}


@pytest.fixture
def office(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    sshd: SshServer,
    cli_env: dict[str, str],
    src: Path,
    tmp_path: Path,
) -> Iterator[Office]:
    """Three copies of `src`, each backed up, checked and drilled."""
    env = {**cli_env, **s3_server.env(), "RIPCORD_STATE_DIR": str(tmp_path / "state")}
    urls = {
        "usb": str(tmp_path / "usb"),
        "nas": sshd.url(tmp_path / "nas"),
        "cloud": s3_server.url(s3_server.new_bucket(object_lock=True)),
    }
    office = Office(tmp_path, env, src, urls)
    office.cli("cloud").ok("init", "--object-lock", "compliance", "--retention", "1d", *FAST)
    for name in ("usb", "nas"):
        office.cli(name).ok("init", *FAST)
    for name in urls:
        cli = office.cli(name)
        cli.ok("backup", str(src))
        cli.ok("check")
        cli.ok("drill", "--sample", "5")
    yield office


def test_every_rule_holds_after_backups_checks_and_drills(office: Office) -> None:
    plan = office.plan(usb={}, nas={}, cloud={})
    r = office.status(plan)
    assert r.code == 0, r.out
    doc = r.json
    assert [x["name"] for x in doc["rules"]] == RULES and doc["holds"] and doc["exit_code"] == 0
    copies = {c["repository"]: c for c in doc["repositories"]}
    assert all(c["reachable"] and c["current"] and c["behind"] is None for c in copies.values())
    cloud = copies["cloud"]
    assert cloud["immutable"]["verified"] and cloud["immutable"]["claimed"]
    assert cloud["immutable"]["how"].startswith("S3 Object Lock: snapshot ")
    assert "locked in compliance mode until" in cloud["immutable"]["how"]
    assert copies["nas"]["immutable"] == {
        "verified": False,
        "how": "an SFTP account, where whoever can write backups can delete them",
        "claimed": False,
    }
    assert not copies["usb"]["immutable"]["verified"]
    for c in copies.values():
        (newest,) = c["newest"]
        assert newest["source"] == "src" and newest["within_rpo"]
        assert c["check"]["result"] == c["drill"]["result"] == "pass"
    human = UrlCli("", office.env)("--plan", str(plan), "status", repo=False)
    assert human.code == 0
    assert "holds  3 copies: 4 copies are current: the live data, 'usb', 'nas' and 'cloud'" in (
        human.out
    )
    assert "BROKEN" not in human.out


def test_one_repository_without_a_plan_shows_its_facts(office: Office) -> None:
    doc = office.cli("cloud").ok("status", "--json").json
    (newest,) = doc["newest"]
    assert newest["source"] == f"{socket.gethostname()}:{office.src}"
    assert doc["immutable"]["verified"] and doc["check"]["result"] == "pass"
    assert "rules" not in doc and doc["alarms"] == []
    plan = office.plan(usb={}, nas={}, cloud={})  # -r names one of the plan's copies
    r = UrlCli("", office.env)("--plan", str(plan), "-r", "nas", "status", "--json", repo=False)
    assert r.code == 0 and r.json["repository"] == "nas" and "rules" not in r.json
    assert r.json["immutable"]["how"].startswith("an SFTP account")


def test_an_unreachable_copy_says_when_it_last_succeeded(office: Office) -> None:
    plan = office.plan(nas={}, cloud={})
    assert office.status(plan).code == 0  # remembered in the state file
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    office.urls["nas"] = office.urls["nas"].replace(f":{_port(office.urls['nas'])}/", f":{closed}/")
    plan = office.plan(nas={}, cloud={})
    later = (datetime.now().astimezone() + timedelta(hours=2)).isoformat()
    found = office.broken(plan, "--time", later)
    assert list(found) == ["3 copies", "2 media"]
    assert found["3 copies"].startswith(
        "only 2 copies are current (the live data and 'cloud'): 'nas' is unreachable (cannot"
        " connect to sftp://"
    )
    assert found["3 copies"].endswith("; it last succeeded 2 hours ago")
    nas = next(c for c in office.status(plan).json["repositories"] if c["repository"] == "nas")
    assert not nas["reachable"] and nas["remembered"] and nas["check"]["result"] == "pass"


def test_an_offline_copy_not_plugged_in_is_judged_by_its_last_observation(
    office: Office,
) -> None:
    plan = office.plan(usb={}, nas={}, cloud={})
    assert office.status(plan).code == 0
    office.urls["usb"] = str(office.tmp / "unplugged")
    plan = office.plan(usb={}, nas={}, cloud={})
    later = _in(hours=3)
    r = office.status(plan, "--time", later)
    assert r.code == 0, r.out
    usb = next(c for c in r.json["repositories"] if c["repository"] == "usb")
    assert not usb["reachable"] and usb["remembered"] and usb["current"]
    assert "no repository" in usb["error"]
    human = UrlCli("", office.env)("--plan", str(plan), "status", "--time", later, repo=False)
    assert "; last seen 3 hours ago" in human.out


def test_two_copies_on_one_media_break_the_media_rule(office: Office) -> None:
    plan = office.plan(usb={}, nas={"media": "disk"})
    found = office.broken(plan)
    assert found["2 media"] == "'usb' and 'nas' are both on media 'disk'"


def test_no_offsite_copy_breaks_the_offsite_rule(office: Office) -> None:
    plan = office.plan(usb={}, nas={}, cloud={"offsite": False})
    assert office.broken(plan) == {
        "1 offsite": "no repository of the plan is offsite (offsite = true)"
    }


def test_a_failed_drill_breaks_zero_errors(office: Office) -> None:
    usb = Path(office.urls["usb"])
    for pack in (p for p in (usb / "data").rglob("*") if p.is_file()):
        damage(pack, "bitflip")
    r = office.cli("usb")("drill", "--sample", "5")
    assert r.code == EXIT_DAMAGED
    today = datetime.now().astimezone().strftime("%Y-%m-%d")
    found = office.broken(office.plan(usb={}, nas={}, cloud={}))
    assert list(found) == ["0 errors"]
    assert found["0 errors"].startswith(f"the last drill of 'usb' failed on {today} (")
    # and a check that finds the damage says how much it found
    checked = office.cli("usb")("check", "--read-data", "--json")
    assert checked.code == EXIT_DAMAGED
    n, first = len(checked.json["errors"]), checked.json["errors"][0]
    found = office.broken(office.plan(usb={}, nas={}, cloud={}))
    assert found["0 errors"].startswith(
        f"the last check of 'usb' found {n} errors on {today} ({first['kind']}: {first['message']})"
    )


def test_a_stale_copy_breaks_the_copy_count(office: Office) -> None:
    plan = office.plan(usb={}, nas={}, cloud={})
    office.cli("cloud").ok("backup", str(office.src), "--time", _in(days=3))
    office.cli("cloud").ok("check")
    found = office.broken(plan, "--time", _in(days=3, minutes=5))
    assert found["3 copies"] == (
        "only 2 copies are current (the live data and 'cloud'): 'usb' last succeeded 3 days"
        " ago (its newest snapshot of 'src' is older than the RPO of 26 hours); 'nas' last"
        " succeeded 3 days ago (its newest snapshot of 'src' is older than the RPO of 26 hours)"
    )
    assert "the last check of 'usb' is 3 days old (checks are due every 1 day)" in found["0 errors"]


def test_an_immutability_claim_the_store_does_not_back_is_reported(
    office: Office,
    s3_server: S3Server,  # noqa: F811 (the fixture)
) -> None:
    office.urls["cloud"] = s3_server.url(s3_server.new_bucket())  # no Object Lock
    office.cli("cloud").ok("init", *FAST)
    office.cli("cloud").ok("backup", str(office.src))
    found = office.broken(office.plan(nas={}, cloud={}))
    assert found["1 immutable or offline"] == (
        "'cloud' is said to be immutable, but is not: the bucket has no Object Lock, so backups"
        " can be deleted"
    )


def test_an_unanswered_guard_alarm_exits_4_when_every_rule_holds(office: Office) -> None:
    with api_repo(Cli(Path(office.urls["usb"]), office.env)) as repo:
        (snap,) = repo.snapshot_ids()
        repo.add_mark("alarm", [snap, snap], "3,412 files turned random-looking")
    r = office.status(office.plan(usb={}, nas={}, cloud={}))
    assert r.code == EXIT_GUARD_ALARM and r.json["holds"] and r.json["open_alarms"] == 1
    human = UrlCli("", office.env)("--plan", str(office.tmp / "office.toml"), "status", repo=False)
    assert f"GUARD ALARM on {snap[:12]}" in human.out
    assert f"ripcord -r usb guard ack {snap[:12]}" in human.out


def _port(url: str) -> int:
    return int(url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def _in(**delta: float) -> str:
    return (datetime.now().astimezone() + timedelta(**delta)).isoformat()
