"""forget: one forget mark per run; forgotten snapshots vanish, protected ones never do."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ripcord.retention.policy import FUTURE_NOTE, NEWEST, PROTECTED
from tests.conftest import Cli
from tests.faults import (
    api_repo,
    assert_clean_failure,
    damage,
    files_under,
    pack_names,
    plant_lock,
    random_files,
)

NOW = datetime.now(UTC)


def plant(cli: Cli, age: timedelta, host: str | None = None, tags: tuple[str, ...] = ()) -> str:
    """A snapshot dated `age` ago (negative: in the future) of the newest one's tree."""
    with api_repo(cli) as repo:
        snap = repo.snapshots()[-1]
        return repo.save_snapshot(
            dataclasses.replace(
                snap, time=NOW - age, host=host or snap.host, tags=list(tags), id=""
            )
        )


def days(n: float) -> timedelta:
    return timedelta(days=n)


def backup(cli: Cli, src: Path) -> str:
    snap: str = cli.ok("backup", str(src), "--json").json["snapshot_id"]
    return snap


def visible(cli: Cli) -> set[str]:
    return {s["id"] for s in cli.ok("snapshots", "--json").json}


def mark_files(cli: Cli) -> list[str]:
    marks = cli.repo / "marks"
    return sorted(p.name for p in marks.iterdir()) if marks.exists() else []


def verdicts(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Snapshot id -> its row, across the groups of a `forget --json` document."""
    return {s["id"]: s for g in doc["groups"] for s in g["snapshots"]}


def test_dry_run_shows_reasons_and_writes_nothing(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    old = plant(cli, days(3))
    before = files_under(cli.repo)
    r = cli.ok("forget", "--keep-last", "1", "--dry-run")
    assert "would remove" in r.out
    assert NEWEST in r.out and "last 1" in r.out
    assert "nothing written" in r.out
    assert files_under(cli.repo) == before  # no mark, and no lock either
    doc = cli.ok("forget", "--keep-last", "1", "--dry-run", "--json").json
    assert (doc["dry_run"], doc["mark"]) == (True, None)
    assert (doc["kept"], doc["forgotten"]) == ([real], [old])
    assert visible(cli) == {real, old}


def test_forget_writes_one_mark_and_the_snapshots_vanish(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    real = backup(cli, src)
    old = [plant(cli, days(n)) for n in (1, 2, 3)]
    r = cli.ok("forget", "--keep-last", "2")
    assert "kept 2, forgot 2 (mark" in r.out and "ripcord prune" in r.out
    (mark_id,) = mark_files(cli)
    with api_repo(cli) as repo:
        (mark,) = repo.marks()
    assert (mark.id, mark.kind, set(mark.snapshots)) == (mark_id, "forget", set(old[1:]))
    assert mark.reason == "keep-last 2, group by host,paths"
    assert visible(cli) == {real, old[0]}
    assert_clean_failure(
        cli("restore", old[2][:12], "--target", str(tmp_path / "gone")), "no snapshot", code=1
    )
    for snap in (real, old[0]):
        cli.ok("restore", snap, "--target", str(tmp_path / snap))
        assert files_under(tmp_path / snap / src.relative_to("/")) == files_under(src)


def test_json_document(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    old = plant(cli, days(2), tags=("x",))
    doc = cli.ok("forget", "--keep-last", "1", "--group-by", "host", "--json").json
    assert set(doc) == {"dry_run", "mark", "groups", "kept", "forgotten", "prune"}
    assert (doc["dry_run"], doc["mark"], doc["prune"]) == (False, mark_files(cli)[0], None)
    (group,) = doc["groups"]
    assert group["key"] == {"host": cli.ok("snapshots", "--json").json[0]["host"]}
    rows = group["snapshots"]
    assert [s["id"] for s in rows] == [real, old]  # newest first
    assert set(rows[0]) == {"id", "time", "keep", "reasons", "notes"}
    assert datetime.fromisoformat(rows[1]["time"]) == NOW - days(2)
    assert (rows[0]["keep"], rows[0]["reasons"], rows[1]["keep"]) == (
        True,
        [NEWEST, "last 1"],
        False,
    )
    tagged = cli.ok("forget", "--keep-last", "1", "--group-by", "tags,paths", "--json").json
    assert [g["key"] for g in tagged["groups"]] == [{"tags": [], "paths": [str(src)]}]


def test_forgetting_twice_changes_nothing_the_second_time(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    old = plant(cli, days(1))
    assert cli.ok("forget", "--keep-last", "1", "--json").json["forgotten"] == [old]
    again = cli.ok("forget", "--keep-last", "1", "--json").json
    assert (again["forgotten"], again["kept"], again["mark"]) == ([], [real], None)
    assert "nothing to forget: no mark written" in cli.ok("forget", "--keep-last", "1").out
    assert cli.ok("forget", old, "--json").json["forgotten"] == []  # by full id too
    assert len(mark_files(cli)) == 1


def test_protected_snapshots_are_never_forgotten(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    old = plant(cli, days(5))
    cli.ok("protect", old)
    doc = cli.ok("forget", "--keep-last", "1", "--json").json
    assert doc["forgotten"] == [] and doc["mark"] is None
    assert verdicts(doc)[old]["reasons"] == [PROTECTED]
    r = cli("forget", real[:10], old[:10])
    assert_clean_failure(r, old[:12], "ripcord unprotect", code=1)
    assert visible(cli) == {real, old}
    assert len(mark_files(cli)) == 1  # the protect only


def test_explicit_ids_forget_exactly_those_even_a_damaged_one(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    a, b, c = (plant(cli, days(n)) for n in (1, 2, 3))
    damage(cli.repo / "snapshots" / b, "bitflip")
    assert_clean_failure(cli("forget", b[:12]), "no snapshot", code=1)  # a prefix needs it read
    doc = cli.ok("forget", a[:8], b.upper(), "latest", a, "--json").json
    assert set(doc["forgotten"]) == {a, b, real} and doc["kept"] == []
    (group,) = doc["groups"]
    assert group["key"] == {}
    rows = verdicts(doc)
    assert rows[b]["time"] is None and "unreadable" in rows[b]["notes"][0]
    with api_repo(cli) as repo:
        (mark,) = repo.marks()
    assert mark.reason == "by id"
    r = cli.ok("snapshots", "--json")
    assert {s["id"] for s in r.json} == {c}
    assert b not in r.err  # forgotten: its damage is no longer worth a warning


def test_usage_errors(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    for args in (
        ["--keep-last", "1", real],
        ["--keep-within", "1d", real],
        ["--host", "x", real],
        ["--group-by", "host", real],
        [],  # no rule: would forget everything
        ["--keep-last", "-1"],
        ["--keep-within", "6y"],
        ["--keep-within", "0d"],
        ["--keep-last", "1", "--group-by", "user"],
        ["not-hex"],
    ):
        r = cli("forget", *args)
        assert r.code == 2, (args, r.err)
        assert "Traceback" not in r.err
    assert not mark_files(cli)
    unknown = next(p for p in ("0" * 12, "f" * 12) if not real.startswith(p))
    assert_clean_failure(cli("forget", unknown), "no snapshot", code=1)


def test_an_ambiguous_prefix_is_a_usage_error(cli: Cli, src: Path) -> None:
    ids = [backup(cli, src)]
    while len({i[0] for i in ids}) == len(ids):  # at most 17 snapshots
        ids.append(plant(cli, days(len(ids))))
    first = [i[0] for i in ids]
    shared = next(ch for ch in first if first.count(ch) > 1)
    assert_clean_failure(cli("forget", shared), "ambiguous", code=2)
    assert not mark_files(cli)


def test_groups_by_host_and_host_filter(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    mine = plant(cli, days(1))
    theirs = [plant(cli, days(n), host="other") for n in (2, 3)]
    dry = ["--keep-last", "1", "--dry-run", "--json"]
    doc = cli.ok("forget", "--group-by", "host", *dry).json
    assert set(doc["kept"]) == {real, theirs[0]}  # the newest of each host
    assert {g["key"]["host"] for g in doc["groups"]} == {"other", doc_host(cli)}
    one = cli.ok("forget", "--group-by", "", *dry).json
    assert (one["kept"], [g["key"] for g in one["groups"]]) == ([real], [{}])
    # --host: the other host's snapshots are not even considered
    only = cli.ok("forget", "--keep-last", "1", "--host", "other", "--json").json
    assert only["forgotten"] == [theirs[1]]
    assert set(verdicts(only)) == set(theirs)
    assert visible(cli) == {real, mine, theirs[0]}
    with api_repo(cli) as repo:
        assert repo.marks()[0].reason == "keep-last 1, group by host,paths, host other"


def doc_host(cli: Cli) -> str:
    host: str = cli.ok("snapshots", "--json").json[-1]["host"]
    return host


def test_tags_select_and_keep(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    keep = plant(cli, days(3), tags=("monthly",))
    old = plant(cli, days(4), tags=("daily",))
    doc = cli.ok("forget", "--keep-last", "1", "--keep-tag", "monthly", "--json").json
    assert (set(doc["kept"]), doc["forgotten"]) == ({real, keep}, [old])
    assert verdicts(doc)[keep]["reasons"] == ["tag monthly"]
    # --tag: only snapshots with that tag are considered
    assert cli.ok("forget", "--keep-last", "1", "--tag", "monthly", "--json").json["kept"] == [keep]


def test_a_snapshot_dated_in_the_future_does_not_push_out_the_real_newest(
    cli: Cli, src: Path, tmp_path: Path
) -> None:
    real = backup(cli, src)
    older = plant(cli, days(1))
    future = plant(cli, -days(365))
    assert FUTURE_NOTE in cli.ok("forget", "--keep-last", "1", "--dry-run").out
    doc = cli.ok("forget", "--keep-last", "1", "--json").json
    rows = verdicts(doc)
    assert rows[real]["keep"] and rows[real]["reasons"] == [NEWEST, "last 1"]
    assert rows[future]["notes"] == [FUTURE_NOTE]
    assert set(doc["forgotten"]) == {older, future}
    cli.ok("restore", "latest", "--target", str(tmp_path / "back"))
    assert visible(cli) == {real}


def test_keep_within_counts_from_the_real_clock(cli: Cli, src: Path) -> None:
    real = backup(cli, src)
    recent = [plant(cli, days(n)) for n in (1, 3)]
    old = plant(cli, days(10))
    future = plant(cli, -days(100))  # restic would count 5 days back from here
    doc = cli.ok("forget", "--keep-within", "5d", "--json").json
    assert set(doc["kept"]) == {real, *recent}
    assert set(doc["forgotten"]) == {old, future}
    assert "within 5d" in verdicts(doc)[recent[1]]["reasons"]
    with api_repo(cli) as repo:
        assert repo.marks()[0].reason == "keep-within 5d, group by host,paths"


def test_forget_takes_the_lock_but_a_dry_run_does_not(cli: Cli, src: Path) -> None:
    backup(cli, src)
    old = plant(cli, days(1))
    with api_repo(cli) as repo:
        plant_lock(repo, host="elsewhere", pid=1, when=datetime.now(UTC))
    assert cli.ok("forget", "--keep-last", "1", "--dry-run", "--json").json["forgotten"] == [old]
    assert_clean_failure(cli("forget", "--keep-last", "1"), code=11)
    assert not mark_files(cli)


def test_prune_after_forget_frees_the_space(cli: Cli, src: Path, tmp_path: Path) -> None:
    keep = backup(cli, src)
    gone = backup(cli, random_files(tmp_path / "noise", 3, 200_000))
    packs = pack_names(cli)
    assert_clean_failure(cli("forget", gone, "--prune", "--dry-run"), "--prune", code=2)
    doc = cli.ok("forget", gone, "--prune", "--json").json
    assert doc["forgotten"] == [gone] and doc["prune"]["packs_deleted"] >= 1
    assert pack_names(cli) < packs
    cli.ok("restore", keep, "--target", str(tmp_path / "back"))
    assert files_under(tmp_path / "back" / src.relative_to("/")) == files_under(src)
    # without --json: the forget's table, then what prune did
    again = backup(cli, tmp_path / "noise")
    out = cli.ok("forget", again, "--prune").out
    assert out.index("forgot 1") < out.index("freed")
