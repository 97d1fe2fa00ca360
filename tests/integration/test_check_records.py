"""`ripcord check` keeps a record of every run: clean, damaged, or refused by the store."""

from __future__ import annotations

from pathlib import Path

from ripcord.errors import EXIT_DAMAGED
from ripcord.retention.maintain import live_objects
from tests.conftest import Cli
from tests.faults import api_repo, damage, read_only_view


def test_every_check_is_recorded_with_what_it_read_and_found(cli: Cli, src: Path) -> None:
    cli.ok("backup", str(src))
    clean = cli.ok("check", "--json").json
    subset = cli.ok("check", "--read-data-subset", "50%", "--json").json
    (pack,) = [p for p in (cli.repo / "data").rglob("*") if p.is_file()][:1]
    damage(pack, "bitflip")
    r = cli("check", "--read-data", "--json")
    assert r.code == EXIT_DAMAGED
    with api_repo(cli) as repo:
        records = {c.id: c for c in repo.checks()}
    assert list(records) == [clean["record"], subset["record"], r.json["record"]]
    first, second, third = records.values()
    assert (first.read, first.result, first.snapshots) == ("metadata", "pass", 1)
    assert (second.read, second.packs_read) == ("subset:50%", subset["packs_read"])
    assert (third.read, third.result, third.errors) == ("all", "fail", len(r.json["errors"]))
    assert third.problems[0] == f"{r.json['errors'][0]['kind']}: {r.json['errors'][0]['message']}"
    listed = cli.ok("checks", "--json").json
    assert [c["id"] for c in listed] == list(records)
    assert [c["result"] for c in listed] == ["pass", "pass", "fail"]
    assert listed[2]["problems"] == list(third.problems) and listed[1]["read"] == "subset:50%"
    shown = cli.ok("checks").out
    assert "3 checks, 1 failed" in shown and third.problems[0][:40] in shown


def test_a_damaged_check_record_is_an_error_of_check(cli: Cli, src: Path) -> None:
    cli.ok("backup", str(src))
    bad = cli.ok("check", "--json").json["record"]
    damage(cli.repo / "checks" / bad, "bitflip")
    r = cli("check", "--json")
    assert r.code == EXIT_DAMAGED
    assert [e["kind"] for e in r.json["errors"]] == ["damaged-record"]
    assert bad in r.json["errors"][0]["message"]


def test_read_only_media_are_checked_and_the_missing_record_is_a_warning(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    cli.ok("backup", str(src))
    with read_only_view(cli.repo, tmp_path / "ro") as ro:
        r = Cli(ro, cli.env)("check", "--json")
    assert r.code == 0 and r.json["ok"] and r.json["record"] is None
    assert "warning: the check record could not be written" in r.err
    assert "Traceback" not in r.err


def test_maintain_keeps_check_records_locked(cli: Cli, src: Path) -> None:
    cli.ok("backup", str(src))
    record = cli.ok("check", "--json").json["record"]
    with api_repo(cli) as repo:
        assert f"checks/{record}" in {o.name for o in live_objects(repo, [])}


def test_prune_keeps_check_records(cli: Cli, src: Path) -> None:
    first = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    record = cli.ok("check", "--json").json["record"]
    cli.ok("backup", str(src))
    cli.ok("forget", first, "--prune")
    assert (cli.repo / "checks" / record).is_file()
    with api_repo(cli) as repo:
        assert [c.id for c in repo.checks()] == [record]
