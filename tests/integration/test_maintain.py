"""maintain and prune on a real SeaweedFS bucket in COMPLIANCE mode.

`forget --prune` by a client with the backup credentials deletes nothing that is
locked: it lists it as pending deletion. `maintain` keeps what kept snapshots
need locked; what only forgotten snapshots needed expires, and a prune after
that deletes it (every version, so nothing is left behind in the bucket).
The same logic runs on a test clock in tests/unit/test_locked_prune.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ripcord.repository import Repository
from ripcord.repository.config import ObjectLock
from ripcord.storage.s3 import S3Store
from tests.conftest import FAST_KDF, PASSWORD, UrlCli
from tests.faults import files_under, random_files
from tests.s3server import REGION, S3Server, s3_server  # noqa: F401 (the fixture)

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
PREFIX = "office/laptop"


def _two_backups(cli: UrlCli, tmp_path: Path) -> tuple[Path, str, str]:
    """A first snapshot whose files the second mostly no longer has."""
    data = random_files(tmp_path / "data", 4, 300_000)
    first = cli.ok("backup", str(data), "--json").json["snapshot_id"]
    for f in sorted(data.iterdir())[:3]:
        f.unlink()
    second = cli.ok("backup", str(data), "--json").json["snapshot_id"]
    return data, str(first), str(second)


def _restores(cli: UrlCli, snap: str, data: Path, target: Path) -> None:
    cli.ok("restore", snap, "--target", str(target))
    assert files_under(target / data.relative_to("/")) == files_under(data)


def _keys(s3: S3Server, bucket: str) -> set[str]:
    """Every key with any version or delete marker left in the bucket."""
    client: Any = s3.client()
    try:
        r = client.list_object_versions(Bucket=bucket, Prefix=PREFIX + "/")
    finally:
        client.close()
    found = r.get("Versions", []) + r.get("DeleteMarkers", [])
    return {v["Key"].removeprefix(PREFIX + "/") for v in found}


def test_forget_prune_deletes_nothing_locked_and_lists_it_pending(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    bucket = s3_server.new_bucket(object_lock=True)
    cli = UrlCli(s3_server.url(bucket, PREFIX), {**cli_env, **s3_server.env()})
    cli.ok("init", "--object-lock", "compliance", "--retention", "1d", *FAST)
    data, first, second = _two_backups(cli, tmp_path)
    before = _keys(s3_server, bucket)

    r = cli.ok("forget", first, "--prune", "--json").json
    pruned = r["prune"]
    pending = {p["name"] for p in pruned["pending_deletion"]}
    assert f"snapshots/{first}" in pending and any(n.startswith("data/") for n in pending)
    assert pruned["packs_deleted"] == pruned["snapshots_deleted"] == 0
    assert before <= _keys(s3_server, bucket)  # nothing went
    assert "pending deletion" in cli.ok("prune").out
    _restores(cli, second, data, tmp_path / "second")
    after = _keys(s3_server, bucket)
    again = cli.ok("prune", "--json").json  # no new plan, no index rewrite: same objects
    assert {p["name"] for p in again["pending_deletion"]} >= pending
    assert _keys(s3_server, bucket) == after

    m = cli.ok("maintain", "--json").json
    assert m["live_objects"] > 0 and m["extended"] == 0  # every lock still runs a day
    earliest = datetime.fromisoformat(m["earliest_lock_end"])
    assert timedelta(hours=23) < earliest - datetime.now(UTC) <= timedelta(days=1)
    assert "run maintain again before" in cli.ok("maintain").out


def test_maintain_keeps_needed_data_locked_and_prune_deletes_the_rest_once_locks_end(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    cli_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    retention = 8  # seconds: the test waits for locks to end
    bucket = s3_server.new_bucket(object_lock=True)
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    store = S3Store(bucket, PREFIX, endpoint=s3_server.endpoint, region=REGION)
    lock = ObjectLock("compliance", retention)
    Repository.init(store, PASSWORD.encode(), FAST_KDF, object_lock=lock).close()
    cli = UrlCli(s3_server.url(bucket, PREFIX), {**cli_env, **s3_server.env()})
    data, first, second = _two_backups(cli, tmp_path)
    cli.ok("forget", first)
    store.retain_new_objects("compliance", timedelta(seconds=retention))

    def left(name: str) -> float:
        until = store.retained_until(name)
        return 0.0 if until is None else (until - datetime.now(UTC)).total_seconds()

    [mark] = [o.name for o in store.list("marks")]  # the newest object: the forget
    while left(mark) > retention / 2 - 0.5:  # every lock inside maintain's horizon
        time.sleep(0.2)
    m = cli.ok("maintain", "--json").json
    assert m["extended"] == m["live_objects"] and m["relocked"] == 0
    assert left(f"snapshots/{second}") > retention / 2 + 1  # pushed forward
    while left(f"snapshots/{first}") > 0:  # forgotten: not extended, so its lock ends
        time.sleep(0.2)

    r = cli.ok("prune", "--json").json
    assert r["snapshots_deleted"] == 1 and r["packs_deleted"] >= 1
    keys = _keys(s3_server, bucket)
    assert f"snapshots/{first}" not in keys  # every version went, not just a delete marker
    waiting = {p["name"] for p in r["pending_deletion"]}
    assert f"snapshots/{second}" not in waiting and not any(
        n.startswith("snapshots/") for n in waiting
    )
    _restores(cli, second, data, tmp_path / "out")
    assert cli("check").code == 0
