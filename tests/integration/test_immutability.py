"""The immutability proof on S3: a real SeaweedFS bucket in COMPLIANCE mode, and a
client holding the backup credentials that does everything it can through boto3.

Deleting a locked version and shortening its lock must fail. Overwrites and plain
deletes succeed at the S3 level (a newer version, a delete marker); ripcord must
then read the original versions on its own, restore every snapshot byte for byte,
and `check` must name every object tampered with.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ripcord.errors import EXIT_DAMAGED
from ripcord.storage import ObjectLocked, ObjectNotFound
from ripcord.storage.s3 import S3Store
from tests.conftest import UrlCli
from tests.s3server import REGION, S3Server, s3_server  # noqa: F401 (the fixture)
from tests.trees import assert_same, restored, tree_state

FAST = ("--kdf-iterations", "1", "--kdf-memory-mib", "1")
DAY = timedelta(days=1)
PREFIX = "office/laptop"
GARBAGE = b"ransomware was here"


def _locked_store(server: S3Server) -> tuple[S3Store, str]:
    bucket = server.new_bucket(object_lock=True)
    store = S3Store(bucket, PREFIX, endpoint=server.endpoint, region=REGION)
    store.retain_new_objects("compliance", DAY)
    return store, bucket


def _versions(client: Any, bucket: str, name: str) -> tuple[list[str], list[str]]:
    """(version ids, delete marker ids) of exactly `name`, newest first."""
    key = f"{PREFIX}/{name}"
    r = client.list_object_versions(Bucket=bucket, Prefix=key)
    return (
        [v["VersionId"] for v in r.get("Versions", ()) if v["Key"] == key],
        [m["VersionId"] for m in r.get("DeleteMarkers", ()) if m["Key"] == key],
    )


def _about(when: datetime | None, expected: datetime) -> bool:
    """S3 keeps retain-until dates to the second."""
    return when is not None and abs(when - expected) < timedelta(seconds=2)


def test_a_locked_version_cannot_be_deleted_or_its_lock_shortened_only_extended(
    s3_server: S3Server,  # noqa: F811 (the fixture)
) -> None:
    store, bucket = _locked_store(s3_server)
    client: Any = s3_server.client()
    try:
        store.put("data/ab/pack", b"history")
        (version,), _ = _versions(client, bucket, "data/ab/pack")
        key = f"{PREFIX}/data/ab/pack"
        with pytest.raises(ClientError) as refused:
            client.delete_object(Bucket=bucket, Key=key, VersionId=version)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        until = store.retained_until("data/ab/pack")
        assert until is not None and until > datetime.now(UTC) + DAY / 2
        with pytest.raises(ClientError):
            client.put_object_retention(
                Bucket=bucket,
                Key=key,
                VersionId=version,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=1)},
            )
        with pytest.raises(ClientError):  # nor can the mode be weakened
            client.put_object_retention(
                Bucket=bucket,
                Key=key,
                VersionId=version,
                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
            )
        assert _about(store.retained_until("data/ab/pack"), until)

        later = until + DAY
        store.extend_retention("data/ab/pack", later)
        assert _about(store.retained_until("data/ab/pack"), later)
        r = client.get_object_retention(Bucket=bucket, Key=key, VersionId=version)
        assert r["Retention"]["Mode"] == "COMPLIANCE"
        store.extend_retention("data/ab/pack", until)  # never shortens
        assert _about(store.retained_until("data/ab/pack"), later)

        store.put("locks/holder", b"lock")  # locks are written unlocked
        assert store.retained_until("locks/holder") is None
    finally:
        store.close()
        client.close()


def test_delete_removes_every_version_or_says_until_when_a_lock_holds(
    s3_server: S3Server,  # noqa: F811 (the fixture)
) -> None:
    store, bucket = _locked_store(s3_server)
    client: Any = s3_server.client()
    try:
        store.put("snapshots/abc", b"snapshot")
        client.put_object(Bucket=bucket, Key=f"{PREFIX}/snapshots/abc", Body=GARBAGE)
        with pytest.raises(ObjectLocked) as locked:
            store.delete("snapshots/abc")
        assert locked.value.until == store.retained_until("snapshots/abc")
        assert f"{locked.value.until:%Y-%m-%d %H:%M} UTC" in str(locked.value)
        # the attacker's version went; the original stays, listed and read
        assert len(_versions(client, bucket, "snapshots/abc")[0]) == 1
        assert store.get("snapshots/abc") == b"snapshot"
        assert [i.name for i in store.list("snapshots")] == ["snapshots/abc"]

        store.put("locks/holder", b"lock")
        client.put_object(Bucket=bucket, Key=f"{PREFIX}/locks/holder", Body=GARBAGE)
        client.delete_object(Bucket=bucket, Key=f"{PREFIX}/locks/holder")
        store.delete("locks/holder")
        assert _versions(client, bucket, "locks/holder") == ([], [])
        assert list(store.list("locks")) == []
        with pytest.raises(ObjectNotFound):
            store.delete("locks/holder")
    finally:
        store.close()
        client.close()


def test_tampered_objects_are_read_past_and_reported(
    s3_server: S3Server,  # noqa: F811 (the fixture)
    tmp_path: Path,
    cli_env: dict[str, str],
    src: Path,
) -> None:
    bucket = s3_server.new_bucket(object_lock=True)
    cli = UrlCli(s3_server.url(bucket), {**cli_env, **s3_server.env()})
    cli.ok("init", "--object-lock", "compliance", "--retention", "1d", *FAST)
    states = []
    for round_ in range(2):
        (src / "docs" / f"new-{round_}.dat").write_bytes(os.urandom(300_000))
        states.append(tree_state(src))
        cli.ok("backup", str(src))
    snaps = [s["id"] for s in cli.ok("snapshots", "--json").json]
    assert len(snaps) == 2

    client: Any = s3_server.client()
    try:
        objects = [
            o["Key"].removeprefix(f"{PREFIX}/")
            for o in client.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/")["Contents"]
        ]
        packs = sorted(o for o in objects if o.startswith("data/"))
        indexes = sorted(o for o in objects if o.startswith("index/"))
        (key,) = [o for o in objects if o.startswith("keys/")]
        assert len(packs) >= 2 and len(indexes) >= 2
        overwritten = ["config", key, packs[0], indexes[0], f"snapshots/{snaps[0]}"]
        deleted = ["config", packs[1], indexes[1], f"snapshots/{snaps[1]}"]
        for name in overwritten:
            client.put_object(Bucket=bucket, Key=f"{PREFIX}/{name}", Body=GARBAGE)
        for name in deleted:
            client.delete_object(Bucket=bucket, Key=f"{PREFIX}/{name}")
        visible = client.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/snapshots/")
        assert [o["Key"] for o in visible["Contents"]] == [f"{PREFIX}/snapshots/{snaps[0]}"]
    finally:
        client.close()

    # no recovery step, and no local cache of what the repository was
    cli.env = {**cli.env, "RIPCORD_CACHE_DIR": str(tmp_path / "fresh-cache")}
    assert [s["id"] for s in cli.ok("snapshots", "--json").json] == snaps
    for snap, state in zip(snaps, states, strict=True):
        target = tmp_path / f"restore-{snap[:8]}"
        cli.ok("restore", snap, "--target", str(target))
        assert_same(state, tree_state(restored(target, src)))

    found = cli("check", "--read-data", "--json")
    assert found.code == EXIT_DAMAGED, found.err
    errors = found.json["errors"]
    assert {(e["kind"], e["message"].split(" ")[0]) for e in errors} == {
        *(("overwritten-object", name) for name in overwritten),
        *(("deleted-object", name) for name in deleted),
    }
    assert all("locked until" in e["message"] for e in errors)
    by_name = {e["message"].split(" ")[0]: e for e in errors if e["kind"] == "deleted-object"}
    assert by_name[f"snapshots/{snaps[1]}"]["snapshots"] == [snaps[1]]
    assert found.json["packs_read"] == len(packs)

    text = cli("check")
    assert text.code == EXIT_DAMAGED
    assert f"error: snapshots/{snaps[0]} was overwritten at the storage level on" in text.out
    assert "ripcord reads the original version, locked until" in text.out


def test_a_bucket_without_object_lock_keeps_no_versions_to_choose_from(
    s3_server: S3Server,  # noqa: F811 (the fixture)
) -> None:
    bucket = s3_server.new_bucket()
    store = S3Store(bucket, PREFIX, endpoint=s3_server.endpoint, region=REGION)
    try:
        store.put("snapshots/abc", b"snapshot")
        assert not store.versioned()
        assert list(store.revisions()) == []
        assert store.retained_until("snapshots/abc") is None
        store.delete("snapshots/abc")
        assert list(store.list("snapshots")) == []
    finally:
        store.close()
