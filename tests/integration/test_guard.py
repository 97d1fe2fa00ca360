"""The change guard through the CLI: alarms, pins, answers, and what retention may do."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ripcord.errors import EXIT_GUARD_ALARM
from tests.conftest import Cli


def office(root: Path, folders: int = 4, files: int = 40) -> Path:
    """Folders of small text files: ordinary office content."""
    for d in range(folders):
        (root / f"dept{d}").mkdir(parents=True)
        for i in range(files):
            (root / f"dept{d}" / f"memo{i:03}.txt").write_text(f"memo {d}/{i}\n" * (20 + i))
    return root


def backup(cli: Cli, path: Path, *extra: str) -> tuple[int, Any]:
    r = cli("backup", str(path), "--json", *extra)
    assert r.code in (0, EXIT_GUARD_ALARM), r.err
    return r.code, r.json


def test_a_folder_vanishing_raises_an_alarm_that_pins_the_last_good_snapshot(
    cli: Cli, tmp_path: Path
) -> None:
    src = office(tmp_path / "src")
    code, first = backup(cli, src)
    assert code == 0 and first["guard"]["verdict"] == "ok"
    shutil.rmtree(src / "dept1")
    shutil.rmtree(src / "dept2")
    code, second = backup(cli, src)
    guard = second["guard"]
    assert code == EXIT_GUARD_ALARM and guard["verdict"] == "alarm" and guard["score"] >= 1
    assert guard["last_good"] == first["snapshot_id"]
    assert guard["changes"]["deleted"] == 80
    assert any("80 files (50%) were deleted" in r for r in guard["reasons"])
    snaps = {s["id"]: s for s in cli.ok("snapshots", "--json").json}
    assert "suspicious" in snaps[second["snapshot_id"]]["tags"]

    # retention cannot touch the evidence, the last good snapshot, or what came after
    code, third = backup(cli, src)
    assert code == 0 and third["guard"]["last_good"] == first["snapshot_id"]
    forgot = cli.ok("forget", "--keep-last", "1", "--json").json
    assert forgot["forgotten"] == []
    refused = cli("forget", first["snapshot_id"])
    assert refused.code == 1 and "guard ack" in refused.err
    listed = cli("guard", "list", "--json")
    assert listed.code == EXIT_GUARD_ALARM
    assert listed.json["alarms"][0]["answer"] is None

    answered = cli.ok("guard", "ack", second["snapshot_id"][:10], "--json").json
    assert answered["answer"] == "ack"
    assert cli.ok("guard", "list", "--json").json["alarms"][0]["answer"] == "ack"
    forgot = cli.ok("forget", "--keep-last", "1", "--json").json
    assert set(forgot["forgotten"]) == {first["snapshot_id"], second["snapshot_id"]}


def test_not_intentional_keeps_the_pin_and_records_the_incident(cli: Cli, tmp_path: Path) -> None:
    src = office(tmp_path / "src")
    _, first = backup(cli, src)
    shutil.rmtree(src / "dept0")
    shutil.rmtree(src / "dept3")
    code, second = backup(cli, src)
    assert code == EXIT_GUARD_ALARM
    cli.ok("guard", "ack", second["snapshot_id"], "--not-intentional", "--reason", "an intruder")
    listed = cli.ok("guard", "list", "--json").json["alarms"]
    assert listed[0]["answer"] == "incident"
    assert cli("forget", first["snapshot_id"]).code == 1  # still pinned
    again = cli("guard", "ack", first["snapshot_id"])
    assert again.code == 1 and "raised no guard alarm" in again.err


def test_a_small_deletion_is_ok_and_a_vanished_folder_is_a_warning_naming_it(
    cli: Cli, tmp_path: Path
) -> None:
    src = office(tmp_path / "src", folders=30, files=60)
    backup(cli, src)
    (src / "dept0" / "memo000.txt").unlink()
    code, few = backup(cli, src)
    assert code == 0 and few["guard"]["verdict"] == "ok"
    shutil.rmtree(src / "dept5")  # 60 of 1799 files: a folder of many files vanishing
    code, folder = backup(cli, src)
    assert code == 0 and folder["guard"]["verdict"] == "warn"
    assert any("dept5 vanished with 60 files" in r for r in folder["guard"]["reasons"])


def test_a_changed_canary_is_an_alarm(cli: Cli, tmp_path: Path) -> None:
    src = office(tmp_path / "src")
    canary = src / "dept0" / "memo007.txt"
    backup(cli, src, "--canary", str(canary))
    canary.write_text("touched")
    code, after = backup(cli, src, "--canary", str(canary))
    assert code == EXIT_GUARD_ALARM
    assert any(str(canary) in r for r in after["guard"]["reasons"])


def test_ransom_notes_by_name_in_many_folders_are_an_alarm(cli: Cli, tmp_path: Path) -> None:
    src = office(tmp_path / "src")
    backup(cli, src)
    for d in src.iterdir():
        (d / "README_RESTORE_FILES.txt").write_text("contact us")
    code, after = backup(cli, src)
    assert code == EXIT_GUARD_ALARM
    assert any("appeared in 4 folders" in r for r in after["guard"]["reasons"])


def test_guard_check_judges_an_existing_snapshot_again_and_writes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    src = office(tmp_path / "src")
    backup(cli, src)
    shutil.rmtree(src / "dept1")
    shutil.rmtree(src / "dept2")
    _, second = backup(cli, src)
    marks = sorted((cli.repo / "marks").iterdir())
    checked = cli.ok("guard", "check", second["snapshot_id"], "--json").json
    assert checked["verdict"] == "alarm" and checked["changes"]["deleted"] == 80
    assert sorted((cli.repo / "marks").iterdir()) == marks


def test_a_source_that_always_churns_raises_its_own_bar(cli: Cli, tmp_path: Path) -> None:
    """Deleting and recreating a third of the files every day is this source's normal."""
    src = office(tmp_path / "src", folders=3, files=40)
    backup(cli, src)
    verdicts = []
    for day in range(4):
        shutil.rmtree(src / "dept2")
        (src / "dept2").mkdir()
        for i in range(40):
            (src / "dept2" / f"build{day}-{i}.txt").write_text(f"out {day} {i}\n" * 30)
        code, r = backup(cli, src)
        verdicts.append(r["guard"]["verdict"])
        if code == EXIT_GUARD_ALARM:
            cli.ok("guard", "ack", str(r["snapshot_id"]))
    assert verdicts[0] == "alarm"  # the first time, a third of the files vanishing is news
    assert verdicts[-1] != "alarm"  # by then it is what this source does


def _encrypt(path: Path, length: int | None = None, rename: str = "") -> None:
    """Encrypt `path` in place (all of it, or its first `length` bytes), as ransomware
    does; with `rename`, write the result under the name plus that suffix instead."""
    data = path.read_bytes()
    cut = len(data) if length is None else length
    cipher = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16))).encryptor()
    out = cipher.update(data[:cut]) + data[cut:]
    if rename:
        path.unlink()
        path = path.with_name(path.name + rename)
    path.write_bytes(out)


def texts(root: Path, files: int = 200, words: int = 1500) -> Path:
    """Text files of about `words` words each, each different."""
    root.mkdir()
    vocabulary = b"budget minutes invoice report office memo draft final review".split()
    rng = random.Random(7)
    for i in range(files):
        body = b" ".join(rng.choice(vocabulary) for _ in range(words + i))
        (root / f"doc{i:03}.txt").write_bytes(body)
    return root


@pytest.mark.parametrize(
    ("how", "words", "expect"),
    [
        ({}, 1500, "went from compressible to random-looking"),
        ({"length": 4096}, 40_000, "had their first bytes scrambled"),  # 4 KiB of ~250 KiB
        ({"rename": ".locked"}, 1500, "replaced by random-looking copies (*.locked)"),
    ],
)
def test_encryption_of_a_tenth_of_the_files_is_an_alarm(
    cli: Cli, tmp_path: Path, how: dict[str, Any], words: int, expect: str
) -> None:
    src = texts(tmp_path / "src", words=words)
    backup(cli, src)
    for f in sorted(src.iterdir())[::10]:
        _encrypt(f, **how)
    code, after = backup(cli, src)
    assert code == EXIT_GUARD_ALARM, after["guard"]
    assert any(expect in r for r in after["guard"]["reasons"]), after["guard"]["reasons"]
    assert after["guard"]["changes"]["files_before"] == 200


def test_ordinary_edits_of_text_files_are_ok(cli: Cli, tmp_path: Path) -> None:
    src = texts(tmp_path / "src")
    backup(cli, src)
    for f in sorted(src.iterdir())[::3]:
        f.write_bytes(f.read_bytes().replace(b"draft", b"final") + b" appended")
    code, after = backup(cli, src)
    assert code == 0 and after["guard"]["verdict"] == "ok", after["guard"]
    assert after["guard"]["changes"]["modified"] == 67


def test_a_folder_reorganised_by_moving_is_no_deletion(cli: Cli, tmp_path: Path) -> None:
    src = office(tmp_path / "src")
    backup(cli, src)
    (src / "archive").mkdir()
    for d in ("dept1", "dept2"):
        (src / d).rename(src / "archive" / d)
    code, after = backup(cli, src)
    changes = after["guard"]["changes"]
    assert code == 0 and after["guard"]["verdict"] == "ok", after["guard"]
    assert (changes["moved"], changes["deleted"], changes["added"]) == (80, 0, 0)
