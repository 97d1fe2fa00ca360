"""The story ripcord must always pass, end to end on three real repositories.

An office server is backed up every night by `ripcord run` to a local disk, an SFTP
server (a real sshd) and S3 with Object Lock (a real SeaweedFS). On day 20 a project
folder is deleted by accident; a week later the disk dies. The whole server comes
back, and the folder comes back as it was on day 19, from each of the three copies.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from ripcord.errors import EXIT_GUARD_ALARM
from tests.plans import Workspace, day, steps
from tests.s3server import S3Server, s3_server  # noqa: F401 (the fixture)
from tests.sshserver import SshServer, sshd_fixture  # noqa: F401 (the fixture)
from tests.trees import assert_same, restored, tree_state

DAYS = 27  # the nightly runs; the disk dies after the last
DELETED_ON = 20


def _office(root: Path) -> None:
    for dept in ("accounts", "letters", "contracts"):
        for i in range(30):
            (root / dept).mkdir(parents=True, exist_ok=True)
            (root / dept / f"{dept}-{i:02}.txt").write_text(f"{dept} {i}\n" * (40 + i))
    acme = root / "projects" / "acme"
    acme.mkdir(parents=True)
    for i in range(40):
        (acme / f"drawing-{i:02}.txt").write_text(f"acme drawing {i}\n" * (60 + i))


def _working_day(root: Path, n: int, rng: random.Random) -> None:
    """A few edits and a new letter, as any day brings."""
    for _ in range(3):
        dept = rng.choice(["accounts", "letters", "contracts"])
        f = root / dept / f"{dept}-{rng.randrange(30):02}.txt"
        f.write_text(f.read_text() + f"edited on day {n}\n")
    (root / "letters" / f"new-{n:02}.txt").write_text(f"letter written on day {n}\n" * 20)
    if n < DELETED_ON:
        f = root / "projects" / "acme" / f"drawing-{rng.randrange(40):02}.txt"
        f.write_text(f.read_text() + f"revised on day {n}\n")


@pytest.fixture
def office(
    tmp_path: Path,
    cli_env: dict[str, str],
    sshd: SshServer,
    s3_server: S3Server,  # noqa: F811 (the fixture)
    monkeypatch: pytest.MonkeyPatch,
) -> Workspace:
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    ws = Workspace(tmp_path, cli_env)
    _office(ws.src)
    ws.add("usb", str(tmp_path / "usb"), "disk")
    ws.add("nas", sshd.url(tmp_path / "nas"), "nas")
    ws.add(
        "cloud",
        s3_server.url(s3_server.new_bucket(object_lock=True)),
        "object-storage",
        init_args=("--object-lock", "governance", "--retention", "30d"),
        offsite=True,
        immutable=True,
    )
    ws.tables = (
        "[retention]\nkeep_daily = 7\nkeep_weekly = 5\nkeep_monthly = 12\n\n"
        '[check]\nevery = "7d"\nread_data_subset = "20%"\n\n'
        '[drill]\nevery = "7d"\nsample = 10\n\n'
        '[rpo]\nmax_age = "26h"\n'
    )
    ws.write()
    return ws


def test_a_folder_deleted_by_accident_comes_back_from_every_copy_after_the_disk_dies(
    office: Workspace, tmp_path: Path
) -> None:
    ws, rng = office, random.Random(20)
    acme = ws.src / "projects" / "acme"
    acme_day19 = None
    for n in range(1, DAYS + 1):
        if n > 1:
            _working_day(ws.src, n, rng)
        if n == DELETED_ON:
            shutil.rmtree(acme)  # the accident
        r = ws.run(n)
        if n == DELETED_ON:
            # the guard asks "was this intentional?": 40 of 190 files vanished
            assert r.code == EXIT_GUARD_ALARM, r.out
            (backup,) = steps(r, "backup")
            assert "projects/acme" in str(backup["detail"]), backup
        else:
            assert r.code == 0, f"day {n}: {r.out}{r.err}"
        assert {s["repository"] for s in steps(r, "copy")} == {"nas", "cloud"}
        if n == DELETED_ON - 1:
            acme_day19 = tree_state(acme)
    whole = tree_state(ws.src)
    assert acme_day19 is not None

    # every copy is current, proven and immutable where it claims to be; the alarm waits
    status = ws.ripcord("status", "--time", day(DAYS).isoformat(), "--json")
    assert status.code == EXIT_GUARD_ALARM, status.out
    assert all(rule["holds"] for rule in status.json["rules"]), status.json["rules"]

    shutil.rmtree(ws.src)  # the disk dies
    when = f"@{day(DELETED_ON - 1).date().isoformat()}"
    for name in ("usb", "nas", "cloud"):
        server = tmp_path / f"server-from-{name}"
        r = ws.on(name, "restore", "latest", "--target", str(server), "--verify")
        assert r.code == 0, (name, r.err)
        assert_same(whole, tree_state(restored(server, ws.src)))

        folder = tmp_path / f"acme-from-{name}"
        r = ws.on(name, "restore", when, str(acme), "--target", str(folder), "--verify")
        assert r.code == 0, (name, r.err)
        assert_same(acme_day19, tree_state(restored(folder, acme)))
