"""protect / unprotect: marks, never rewrites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ripcord.repository import Repository
from ripcord.repository.marks import Mark, encode_mark, fold
from tests.conftest import Cli
from tests.faults import api_repo, assert_clean_failure, damage


def flags(cli: Cli) -> dict[str, bool]:
    return {s["id"]: s["protected"] for s in cli.ok("snapshots", "--json").json}


def test_protect_and_unprotect_add_marks_and_rewrite_nothing(cli: Cli, src: Path) -> None:
    first = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    second = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    before = sorted(p.name for p in (cli.repo / "snapshots").iterdir())
    r = cli.ok("protect", first[:8], "--json").json
    assert (r["snapshot"], r["protected"]) == (first, True)
    assert flags(cli) == {first: True, second: False}
    assert "P" in cli.ok("snapshots").out
    assert cli.ok("unprotect", first, "--json").json["protected"] is False
    assert flags(cli) == {first: False, second: False}
    assert sorted(p.name for p in (cli.repo / "snapshots").iterdir()) == before
    assert len(list((cli.repo / "marks").iterdir())) == 2  # two appends, nothing deleted


def test_unknown_or_ambiguous_snapshot_is_refused(cli: Cli, src: Path) -> None:
    cli.ok("backup", str(src))
    assert_clean_failure(cli("protect", "ffffffff"), "no snapshot", code=1)
    assert cli("protect", "not-hex").code == 2


def test_a_damaged_mark_is_left_out_and_named(cli: Cli, src: Path) -> None:
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    cli.ok("protect", snap)
    (mark,) = (cli.repo / "marks").iterdir()
    damage(mark, "bitflip")
    r = cli("snapshots", "--json")
    assert r.code == 0
    assert r.json[0]["protected"] is False
    assert mark.name in r.err


def test_marks_fold_in_time_order(mem_repo: Repository) -> None:
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    s = "ab" * 32

    def mark(kind: str, minutes: int, mark_id: str) -> Mark:
        return Mark(kind, (s,), t0 + timedelta(minutes=minutes), "h", "u", "", mark_id)

    def protected(marks: list[Mark]) -> set[str]:
        return fold(marks, t0 + timedelta(days=1)).protected

    assert protected([mark("unprotect", 2, "b"), mark("protect", 1, "a")]) == set()
    assert protected([mark("protect", 3, "c"), mark("unprotect", 2, "b")]) == {s}
    data = encode_mark(mem_repo.key, mark("protect", 0, ""))
    mem_repo.store.put("marks/" + "0" * 64, data)  # a name that does not match the content
    assert mem_repo.marks() == []
    assert any("does not match" in why for why in mem_repo.left_out)


def test_protected_set_survives_reopening(cli: Cli, src: Path) -> None:
    snap = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    cli.ok("protect", snap)
    with api_repo(cli) as repo:
        assert repo.protected() == {snap}
